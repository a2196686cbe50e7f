import type { LivePeer } from '../../client/types.js'
import type { PeerSummary } from '../../protocols/rpc/node-methods.js'
import { parseCommandArgs } from '../args.js'
import { CONNECT_HELP, CONNECT_OPTIONS, withNode } from '../connect.js'
import { UsageError } from '../errors.js'
import { peerLabel } from '../names.js'
import type { Output } from '../output.js'
import { formatDuration } from '../progress.js'

export const MESH_HELP = `Usage: horus mesh peers|runners (--peer MA | --gateway URL) [--json]

  peers     the peers a node is connected to: name (from that node's trust policy), roles and
            the addresses they listen on; this client's own connection is not listed, other
            dial-only clients show as "client, no listen address"
  runners   the runners alive in the mesh (heard on the liveness topic by that node): their
            capabilities and load (jobs running / slots)

${CONNECT_HELP}`

export async function meshCommand(argv: string[], out: Output): Promise<number> {
  const [sub, ...rest] = argv
  const { values, positionals } = parseCommandArgs(`mesh ${sub ?? ''}`.trim(), rest, CONNECT_OPTIONS)
  if (positionals.length > 0) throw new UsageError(`mesh ${sub}: unexpected argument "${positionals[0]}"`)
  switch (sub) {
    case 'peers': {
      const peers = await withNode(values, async (client, connection) =>
        (await client.call<PeerSummary[]>('node.peers')).filter((p) => p.peerId !== connection.self),
      )
      if (values.json === true) out.json(peers)
      else if (peers.length === 0) out.line('no peers')
      else for (const peer of peers) out.line(describePeer(peer))
      return 0
    }
    case 'runners': {
      const runners = await withNode(values, (client) =>
        client.call<LivePeer[]>('mesh.liveness', { role: 'runner' }),
      )
      if (values.json === true) out.json(runners)
      else if (runners.length === 0) out.line('no runners alive')
      else for (const runner of runners) out.line(describeRunner(runner))
      return 0
    }
    default:
      throw new UsageError(
        `mesh: ${sub === undefined ? 'missing subcommand' : `unknown subcommand "${sub}"`}\n\n${MESH_HELP}`,
      )
  }
}

export function describePeer(peer: PeerSummary): string {
  const roles = peer.roles === undefined || peer.roles.length === 0 ? '' : `  ${peer.roles.join(',')}`
  const addrs = peer.addrs.length === 0 ? '  client, no listen address' : `  ${peer.addrs.join(' ')}`
  return `${peerLabel(peer.peerId, peer.name)}${roles}${addrs}`
}

function describeRunner(runner: LivePeer): string {
  const load = `${runner.load.running}/${runner.load.capacity}`
  const seen = formatDuration(Math.max(0, Date.now() - Date.parse(runner.lastSeen)))
  const capabilities = runner.capabilities.length === 0 ? '(no capabilities)' : runner.capabilities.join(',')
  return `${peerLabel(runner.peerId, runner.name)}  load ${load.padEnd(5)}  ${capabilities}  (seen ${seen} ago)`
}
