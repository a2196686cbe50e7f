/**
 * Where a peer heard only through heartbeats listens. A peer this node was never connected to has
 * no address in the peer store (identify puts them there on a connection), so a call to it — a
 * coordinator forwarding to a member of a run's replica set, a supervisor link — could dial only
 * after a DHT lookup, which a busy mesh does not answer in time (the c = 10 scale bench failed on
 * it: "no valid addresses"). Its heartbeats announce where it listens (`addrs`).
 */
import type { Libp2p, Logger } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { HEARD_ADDRS_REFRESH_MS } from './constants.js'

/** Addresses a heartbeat announced, parsed; ones that do not parse are left out. */
export function announced(addrs: readonly string[]): Multiaddr[] {
  return addrs.flatMap((text) => {
    try {
      return [multiaddr(text)]
    } catch {
      return []
    }
  })
}

/**
 * Puts the addresses `peer` announced in the peer store, unless this node is connected to it (then
 * identify told it already). A wrong address costs one failed dial: noise checks the peer ID.
 *
 * The peer store hides an address an hour after it first saw it, and a merge keeps that first time;
 * so the addresses it holds are replaced, not merged into, and the announced ones count from now.
 */
export async function storeHeardAddrs(
  libp2p: Pick<Libp2p, 'getConnections' | 'peerStore'>,
  peer: { peerId: string; addrs?: string[] | undefined },
  log: Logger,
): Promise<void> {
  const addrs = announced(peer.addrs ?? [])
  if (addrs.length === 0) return
  const id = peerIdFromString(peer.peerId)
  if (libp2p.getConnections(id).length > 0) return
  try {
    if (await libp2p.peerStore.has(id)) await libp2p.peerStore.patch(id, { multiaddrs: [] })
    await libp2p.peerStore.merge(id, { multiaddrs: addrs })
  } catch (err) {
    log('could not store the addresses %s announced: %s', peer.peerId, (err as Error).message)
  }
}

export interface HeardAddrsInit {
  libp2p: Pick<Libp2p, 'getConnections' | 'peerStore'>
  /** The peers heard alive now, with the addresses they announce. */
  alive: () => Iterable<{ peerId: string; addrs?: string[] | undefined }>
  log: Logger
  /** How often the addresses of peers heard but not connected are stored again. */
  refreshMs?: number
}

/**
 * Keeps the addresses of peers heard but not connected usable: stored when a peer is first heard
 * (`heard`), and again every `refreshMs`, well within the peer store's hour.
 */
export class HeardAddrs {
  private timer: NodeJS.Timeout | undefined

  constructor(private readonly init: HeardAddrsInit) {}

  start(): void {
    if (this.timer !== undefined) return
    this.timer = setInterval(() => this.refresh(), this.init.refreshMs ?? HEARD_ADDRS_REFRESH_MS)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  heard(peer: { peerId: string; addrs?: string[] | undefined }): void {
    void storeHeardAddrs(this.init.libp2p, peer, this.init.log)
  }

  private refresh(): void {
    for (const peer of this.init.alive()) this.heard(peer)
  }
}
