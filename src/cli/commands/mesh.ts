import type { LivePeer } from '../../client/types.js'
import type { PeerSummary } from '../../protocols/rpc/node-methods.js'
import { parseCommandArgs } from '../args.js'
import { CONNECT_HELP, CONNECT_OPTIONS, withNode } from '../connect.js'
import { UsageError } from '../errors.js'
import type { Output } from '../output.js'
import { formatDuration } from '../progress.js'

export const MESH_HELP = `Usage: horus mesh peers|runners (--peer MA | --gateway URL) [--json]

  peers     the peers a node is connected to, with their addresses
  runners   the runners alive in the mesh (heard on the liveness topic by that node): their
            capabilities and load (jobs running / slots)

${CONNECT_HELP}`

export async function meshCommand(argv: string[], out: Output): Promise<number> {
  const [sub, ...rest] = argv
  const { values, positionals } = parseCommandArgs(`mesh ${sub ?? ''}`.trim(), rest, CONNECT_OPTIONS)
  if (positionals.length > 0) throw new UsageError(`mesh ${sub}: unexpected argument "${positionals[0]}"`)
  switch (sub) {
    case 'peers': {
      const peers = await withNode(values, (client) => client.call<PeerSummary[]>('node.peers'))
      if (values.json === true) out.json(peers)
      else if (peers.length === 0) out.line('no peers')
      else for (const peer of peers) out.line(`${peer.peerId}  ${peer.addrs.join(' ')}`)
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

function describeRunner(runner: LivePeer): string {
  const load = `${runner.load.running}/${runner.load.capacity}`
  const seen = formatDuration(Math.max(0, Date.now() - Date.parse(runner.lastSeen)))
  const capabilities = runner.capabilities.length === 0 ? '(no capabilities)' : runner.capabilities.join(',')
  return `${runner.peerId}  load ${load.padEnd(5)}  ${capabilities}  (seen ${seen} ago)`
}
