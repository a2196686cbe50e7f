/**
 * Peer IDs as people read them: `runner-1 (12D3KooW…9xq2Lm)` when the answering node's trust
 * policy names the key (`name:` in its `trust.keys`), the bare peer ID otherwise. `--json` output
 * keeps plain peer IDs and adds `name` fields where the node gave them.
 */
import type { HorusClient } from '../client/horus-client.js'

export type PeerLabel = (peerId: string) => string

export function peerLabel(peerId: string, name: string | undefined): string {
  if (name === undefined) return peerId
  const short = peerId.length > 16 ? `${peerId.slice(0, 8)}…${peerId.slice(-6)}` : peerId
  return `${name} (${short})`
}

/** Labels from the names the node gives the peers it hears alive (`mesh.liveness`). */
export async function livenessLabels(client: HorusClient): Promise<PeerLabel> {
  const names = new Map<string, string>()
  try {
    for (const peer of await client.liveness()) if (peer.name !== undefined) names.set(peer.peerId, peer.name)
  } catch {
    // Names are a courtesy: a node that cannot say leaves the peer IDs bare.
  }
  return (peerId) => peerLabel(peerId, names.get(peerId))
}
