import { access } from 'node:fs/promises'
import { homedir } from 'node:os'
import { resolve } from 'node:path'
import type { Libp2p } from '@libp2p/interface'
import { explainDialFailure } from '../client/dial-failure.js'
import { explainRefusal } from '../client/errors.js'
import { createClientHost } from '../client/host.js'
import { DEFAULT_DATA_DIR_NAME } from '../node/constants.js'
import { identityFile, readExistingIdentity } from '../node/identity.js'
import { readSwarmKey } from '../node/swarm-key.js'
import type { RpcClient } from '../protocols/rpc/client.js'
import { isUnreachable } from '../protocols/rpc/failover.js'
import { HttpRpcClient } from '../protocols/rpc/http-client.js'
import { Libp2pRpcClient } from '../protocols/rpc/libp2p-client.js'
import type { OptionSpec } from './args.js'
import { stringFlag } from './args.js'
import { PeerUnreachableError, UsageError } from './errors.js'

/** Flags every command that talks to a node takes. */
export const CONNECT_OPTIONS = {
  peer: { type: 'string' },
  gateway: { type: 'string' },
  token: { type: 'string' },
  'data-dir': { type: 'string' },
  'swarm-key': { type: 'string' },
  json: { type: 'boolean' },
} as const satisfies OptionSpec

export const CONNECT_HELP = `Connection (one of):
  --peer MA         a node's multiaddr (with /p2p/<id>), over an encrypted libp2p stream
  --gateway URL     a node's HTTP gateway, e.g. http://127.0.0.1:8080   [HORUS_GATEWAY_URL]
  --token T         the gateway's bearer token                            [HORUS_GATEWAY_TOKEN]
  --data-dir D      identity to sign and authenticate with (default ~/${DEFAULT_DATA_DIR_NAME} if it has a key)
  --swarm-key F     swarm key of a private mesh
  --json            machine-readable output`

/** An open connection to one node; `close()` releases the client host. */
export interface NodeConnection {
  client: RpcClient
  /** This client's own peer ID over libp2p (a node lists it among its peers). */
  self?: string
  /** Explains a failed call: a refusal as a typed error, an unreachable node with the reason. */
  explain(err: unknown): unknown
  close(): Promise<void>
}

type Values = Record<string, string | boolean | string[] | undefined>

export async function connectToNode(values: Values): Promise<NodeConnection> {
  const peer = stringFlag(values.peer)
  const gateway = stringFlag(values.gateway) ?? process.env.HORUS_GATEWAY_URL
  if ((peer === undefined) === (gateway === undefined)) {
    throw new UsageError('give exactly one of --peer MULTIADDR or --gateway URL')
  }
  if (gateway !== undefined) {
    const token = stringFlag(values.token) ?? process.env.HORUS_GATEWAY_TOKEN
    const client = new HttpRpcClient({ url: gateway, ...(token === undefined ? {} : { token }) })
    return { client, explain: (err) => explainRefusal(err), close: async () => client.close() }
  }
  const { host, privateMesh } = await clientHost(values)
  const client = new Libp2pRpcClient({ libp2p: host, target: peer as string })
  const self = host.peerId.toString()
  return {
    client,
    self,
    explain: (err) =>
      isUnreachable(err)
        ? new PeerUnreachableError(`${peer}: ${explainDialFailure(err, privateMesh)}`, { cause: err })
        : explainRefusal(err, self),
    close: async () => {
      await client.close()
      await host.stop()
    },
  }
}

async function clientHost(values: Values): Promise<{ host: Libp2p; privateMesh: boolean }> {
  const explicitDir = stringFlag(values['data-dir']) ?? process.env.HORUS_DATA_DIR
  const dataDir = resolve(explicitDir ?? resolve(homedir(), DEFAULT_DATA_DIR_NAME))
  const hasKey = await access(identityFile(dataDir)).then(
    () => true,
    () => false,
  )
  // An explicit data dir must hold a key; the default one is used only when it exists.
  const identity = hasKey || explicitDir !== undefined ? await readExistingIdentity(dataDir) : undefined
  const swarmKeyFile = stringFlag(values['swarm-key']) ?? process.env.HORUS_SWARM_KEY
  const swarmKey = swarmKeyFile === undefined ? undefined : await readSwarmKey(swarmKeyFile)
  const host = await createClientHost({
    ...(identity === undefined ? {} : { privateKey: identity.privateKey }),
    ...(swarmKey === undefined ? {} : { swarmKey }),
  })
  return { host, privateMesh: swarmKey !== undefined }
}

/** Runs `fn` with a connection and always closes it; failures come out explained. */
export async function withNode<T>(
  values: Values,
  fn: (client: RpcClient, connection: NodeConnection) => Promise<T>,
): Promise<T> {
  const connection = await connectToNode(values)
  try {
    return await fn(connection.client, connection)
  } catch (err) {
    throw connection.explain(err)
  } finally {
    await connection.close()
  }
}
