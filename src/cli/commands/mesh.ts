import type { PeerSummary } from '../../protocols/rpc/node-methods.js'
import { parseCommandArgs } from '../args.js'
import { CONNECT_HELP, CONNECT_OPTIONS, withNode } from '../connect.js'
import { UsageError } from '../errors.js'
import type { Output } from '../output.js'

export const MESH_HELP = `Usage: horus mesh peers (--peer MA | --gateway URL) [--json]

  peers     the peers a node is connected to, with their addresses

${CONNECT_HELP}`

export async function meshCommand(argv: string[], out: Output): Promise<number> {
  const [sub, ...rest] = argv
  const { values } = parseCommandArgs(`mesh ${sub ?? ''}`.trim(), rest, CONNECT_OPTIONS)
  switch (sub) {
    case 'peers': {
      const peers = await withNode(values, (client) => client.call<PeerSummary[]>('node.peers'))
      if (values.json === true) out.json(peers)
      else if (peers.length === 0) out.line('no peers')
      else for (const peer of peers) out.line(`${peer.peerId}  ${peer.addrs.join(' ')}`)
      return 0
    }
    default:
      throw new UsageError(
        `mesh: ${sub === undefined ? 'missing subcommand' : `unknown subcommand "${sub}"`}\n\n${MESH_HELP}`,
      )
  }
}
