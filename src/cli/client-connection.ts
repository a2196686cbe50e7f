/**
 * The SDK client for commands that use coordinators and supervisors: `--peer` is the mesh entry
 * point (the client finds the coordinator or supervisor itself, wherever it runs), `--gateway`
 * talks to one node over HTTP. Same flags and defaults as `connect.ts`. Whom the client trusts:
 * the `trust:` section of `<data dir>/config.yaml` when there is one, else the node it connects to.
 */
import { access } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { HorusClient } from '../client/horus-client.js'
import { readConfigFile } from '../node/config/load.js'
import { DEFAULT_DATA_DIR_NAME } from '../node/constants.js'
import { identityFile } from '../node/identity.js'
import type { TrustConfig } from '../protocols/jobs/trust-policy.js'
import { stringFlag } from './args.js'
import { UsageError } from './errors.js'

type Values = Record<string, string | boolean | string[] | undefined>

export async function connectClient(values: Values): Promise<HorusClient> {
  const peer = stringFlag(values.peer)
  const gateway = stringFlag(values.gateway) ?? process.env.HORUS_GATEWAY_URL
  if ((peer === undefined) === (gateway === undefined)) {
    throw new UsageError('give exactly one of --peer MULTIADDR or --gateway URL')
  }
  const identity = await identityDir(values)
  const trust = identity === undefined ? undefined : await trustSection(identity)
  const common = {
    ...(identity === undefined ? {} : { identity }),
    ...(trust === undefined ? {} : { trust }),
  }
  if (gateway !== undefined) {
    const token = stringFlag(values.token) ?? process.env.HORUS_GATEWAY_TOKEN
    return HorusClient.connect({ gateway, ...common, ...(token === undefined ? {} : { token }) })
  }
  if (!(peer as string).includes('/p2p/')) {
    throw new UsageError(`--peer: expected a multiaddr ending in /p2p/<peer id>, got "${peer}"`)
  }
  const swarmKey = stringFlag(values['swarm-key']) ?? process.env.HORUS_SWARM_KEY
  return HorusClient.connect({
    bootstrap: [peer as string],
    ...common,
    ...(swarmKey === undefined ? {} : { swarmKey }),
  })
}

/** An explicit data dir must hold a key; the default one is used only when it has one. */
async function identityDir(values: Values): Promise<string | undefined> {
  const explicit = stringFlag(values['data-dir']) ?? process.env.HORUS_DATA_DIR
  if (explicit !== undefined) return resolve(explicit)
  const dir = resolve(homedir(), DEFAULT_DATA_DIR_NAME)
  return access(identityFile(dir)).then(
    () => dir,
    () => undefined,
  )
}

/** The file in a data dir whose `trust:` section the CLI's client follows. */
export const CLIENT_CONFIG_FILE = 'config.yaml'

async function trustSection(dataDir: string): Promise<TrustConfig | undefined> {
  const file = join(dataDir, CLIENT_CONFIG_FILE)
  const exists = await access(file).then(
    () => true,
    () => false,
  )
  if (!exists) return undefined
  const trust = (await readConfigFile(file)).trust
  return trust === undefined || trust === null ? undefined : (trust as TrustConfig)
}

/** Runs `fn` with a connected client and always closes it. */
export async function withClient<T>(values: Values, fn: (client: HorusClient) => Promise<T>): Promise<T> {
  const client = await connectClient(values)
  try {
    return await fn(client)
  } finally {
    await client.close()
  }
}
