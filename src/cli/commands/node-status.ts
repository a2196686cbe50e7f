import type { NodeHealth, PeerSummary } from '../../protocols/rpc/node-methods.js'
import { parseCommandArgs } from '../args.js'
import { CONNECT_HELP, CONNECT_OPTIONS, withNode } from '../connect.js'
import { EXIT, UsageError } from '../errors.js'
import type { Output } from '../output.js'
import { formatDuration } from '../progress.js'
import { describePeer } from './mesh.js'

export const NODE_STATUS_HELP = `Usage: horus node status (--peer MA | --gateway URL) [--json]

The health of one node: its peer ID, version, uptime, roles, the checks of its components, the
addresses it listens on (relayed /p2p-circuit addresses among them, if any) and its peers with
their names, roles and listen addresses. Exits 0 when the node is healthy, 1 when it is degraded.

${CONNECT_HELP}`

interface NodeInfo {
  peerId: string
  publicKey: string
  roles: string[]
  multiaddrs: string[]
  version: string
  startedAt: string
  uptimeMs: number
}

export interface NodeStatus {
  info: NodeInfo
  health: NodeHealth
  /** Listen addresses through a circuit relay (none unless the node uses one). */
  relays: string[]
  peers: PeerSummary[]
}

export async function nodeStatusCommand(argv: string[], out: Output): Promise<number> {
  const { values, positionals } = parseCommandArgs('node status', argv, CONNECT_OPTIONS)
  if (positionals.length > 0) throw new UsageError(`node status: unexpected argument "${positionals[0]}"`)
  const status = await withNode(values, async (client, connection): Promise<NodeStatus> => {
    const [info, health, peers] = await Promise.all([
      client.call<NodeInfo>('node.info'),
      client.call<NodeHealth>('node.health'),
      client.call<PeerSummary[]>('node.peers'),
    ])
    const relays = info.multiaddrs.filter((a) => a.includes('/p2p-circuit'))
    return { info, health, relays, peers: peers.filter((p) => p.peerId !== connection.self) }
  })
  if (values.json === true) out.json(status)
  else for (const line of renderNodeStatus(status)) out.line(line)
  return status.health.status === 'ok' ? EXIT.ok : EXIT.failed
}

export function renderNodeStatus({ info, health, relays, peers }: NodeStatus): string[] {
  const checks = Object.entries(health.checks ?? {})
    .map(([name, state]) => `${name} ${state}`)
    .join(', ')
  const lines = [
    `node     ${info.peerId}`,
    `version  ${info.version}, up ${formatDuration(info.uptimeMs)} (since ${info.startedAt})`,
    `roles    ${info.roles.length === 0 ? 'none (relays gossip, serves the DHT)' : info.roles.join(', ')}`,
    `health   ${health.status}${checks === '' ? '' : ` (${checks})`}`,
    'listen',
    ...info.multiaddrs.map((a) => `  ${a}`),
    `relays   ${relays.length === 0 ? 'none' : relays.join(' ')}`,
    `peers    ${peers.length}`,
    ...peers.map((p) => `  ${describePeer(p)}`),
  ]
  return lines
}
