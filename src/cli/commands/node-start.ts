import { loadConfig, type RawConfig } from '../../node/config/load.js'
import { limitHeapGrowth } from '../../node/heap-growth.js'
import { IdleHeapRelease } from '../../node/idle-heap.js'
import { createNode } from '../../node/node.js'
import { attachRoles } from '../../node/roles.js'
import { listFlag, parseCommandArgs, stringFlag } from '../args.js'
import { UsageError } from '../errors.js'
import { type Output, write } from '../output.js'
import { NODE_STATUS_HELP, nodeStatusCommand } from './node-status.js'

export const NODE_HELP = `Usage: horus node start [options]
       horus node status (--peer MA | --gateway URL) [--json]

start   Starts a mesh node and runs it until SIGINT/SIGTERM (SIGHUP re-reads the trust policy).
        Prints its peer ID, then each full multiaddr (ending in /p2p/<peer id>) on its own line.
status  A node's health, roles, addresses and peers (below).

Options of start (flags override HORUS_* environment variables, which override the config file;
relative paths in the config file are relative to the file's directory):
  --config F          YAML config file
  --data-dir D        data directory: identity key, datastore      [HORUS_DATA_DIR]
  --listen MA         listen multiaddr (repeatable)                 [HORUS_LISTEN, comma-separated]
  --announce MA       address to announce instead (repeatable)     [HORUS_ANNOUNCE]
  --bootstrap MA      bootstrap peer, /p2p/<id> included (repeatable) [HORUS_BOOTSTRAP]
  --roles r1,r2       any of coordinator, supervisor, runner        [HORUS_ROLES]
  --swarm-key F       private mesh: only peers with this key connect [HORUS_SWARM_KEY]
  --mdns              discover peers on the local network           [HORUS_MDNS]
  --max-connections N                                               [HORUS_MAX_CONNECTIONS]
  --gateway H:P       serve the HTTP gateway on H:P                 [HORUS_GATEWAY]
  --relay-service     serve as a circuit relay for trusted keys     [HORUS_RELAY_SERVICE]
                      (relay.service in the config file for its limits)
  --relay MA          relay to reserve on when not publicly reachable,
                      /p2p/<id> included (repeatable)               [HORUS_RELAY_PEERS]
  --json              print the start-up information as one JSON line

${NODE_STATUS_HELP}`

const OPTIONS = {
  config: { type: 'string' },
  'data-dir': { type: 'string' },
  listen: { type: 'string', multiple: true },
  announce: { type: 'string', multiple: true },
  bootstrap: { type: 'string', multiple: true },
  roles: { type: 'string', multiple: true },
  'swarm-key': { type: 'string' },
  mdns: { type: 'boolean' },
  'max-connections': { type: 'string' },
  gateway: { type: 'string' },
  'relay-service': { type: 'boolean' },
  relay: { type: 'string', multiple: true },
  json: { type: 'boolean' },
} as const

export async function nodeCommand(argv: string[], out: Output): Promise<number> {
  const [sub, ...rest] = argv
  if (sub === 'status') return nodeStatusCommand(rest, out)
  if (sub !== 'start')
    throw new UsageError(
      `node: ${sub === undefined ? 'missing subcommand' : `unknown subcommand "${sub}"`}\n\n${NODE_HELP}`,
    )
  const { values, positionals } = parseCommandArgs('node start', rest, OPTIONS)
  if (positionals.length > 0) throw new UsageError(`node start: unexpected argument "${positionals[0]}"`)

  const overrides: RawConfig = {
    dataDir: stringFlag(values['data-dir']),
    listen: listFlag(values.listen),
    announce: listFlag(values.announce),
    bootstrap: listFlag(values.bootstrap),
    roles: listFlag(values.roles),
    swarmKey: stringFlag(values['swarm-key']),
    mdns: values.mdns === true ? true : undefined,
    maxConnections: stringFlag(values['max-connections']),
    gateway: stringFlag(values.gateway) === undefined ? undefined : { listen: stringFlag(values.gateway) },
    relay: relayFlags(values['relay-service'] === true, listFlag(values.relay)),
  }
  const configFile = stringFlag(values.config)
  const config = await loadConfig({
    ...(configFile === undefined ? {} : { file: configFile }),
    env: process.env,
    overrides,
  })
  limitHeapGrowth()
  const node = await createNode(config)
  let roles: ReturnType<typeof attachRoles> | undefined
  try {
    roles = attachRoles(node)
    await roles.start()
  } catch (err) {
    // A role that failed to start (a plugin that does not load) leaves nothing running.
    await roles?.stop()
    await node.stop()
    throw err
  }

  if (values.json === true) {
    const info = { peerId: node.peerId, multiaddrs: node.multiaddrs(), roles: node.roles }
    const gateway = node.gateway?.url
    write('stdout', `${JSON.stringify(gateway === undefined ? info : { ...info, gateway })}\n`)
  } else {
    out.line(node.peerId)
    for (const addr of node.multiaddrs()) out.line(addr)
    if (node.gateway !== undefined) out.error(`gateway: ${node.gateway.url}`)
  }
  if (node.gateway !== undefined) {
    out.error(`gateway: ${node.gatewayIdentity()}`)
  }
  out.error(`horus node running (roles: ${node.roles.join(', ') || 'none'}); Ctrl-C to stop`)
  const onAlone = (): void => {
    if (node.config.bootstrap.length === 0) return
    out.error(`alone: ${node.health().checks?.peers ?? 'no peer connected'}`)
  }
  const onJoined = (): void => out.error(`joined the mesh (${node.libp2p.getPeers().length} peer(s))`)
  node.keeper.addEventListener('mesh:alone', onAlone)
  node.keeper.addEventListener('mesh:joined', onJoined)

  const onHangup = (): void => {
    node.trust.reload().then(
      (ok) =>
        out.error(
          ok ? 'trust policy reloaded' : 'trust policy NOT reloaded: the file is invalid (old policy kept)',
        ),
      (err: Error) => out.error(`trust policy reload failed: ${err.message}`),
    )
  }
  process.on('SIGHUP', onHangup)
  // Process-wide, like the heap growth: a library embedding nodes keeps its own.
  const idleHeap = new IdleHeapRelease()
  idleHeap.start()
  await waitForShutdownSignal()
  idleHeap.stop()
  process.off('SIGHUP', onHangup)
  node.keeper.removeEventListener('mesh:alone', onAlone)
  node.keeper.removeEventListener('mesh:joined', onJoined)
  out.error('stopping…')
  await roles.stop()
  await node.stop()
  return 0
}

function waitForShutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      resolve(signal)
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}

/** `--relay-service` and `--relay`: the fields of the `relay` section they set (merged with the file's). */
function relayFlags(service: boolean, peers: string[] | undefined): RawConfig | undefined {
  if (!service && peers === undefined) return undefined
  return { ...(service ? { service: true } : {}), ...(peers === undefined ? {} : { peers }) }
}
