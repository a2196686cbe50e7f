import type { Libp2p, Logger } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import { KnownPeers } from './known-peers.js'
import { reconnectKnownPeers } from './reconnect.js'

/** How often a node with no connections tries its known peers again. @default 2_000 */
const REJOIN_INTERVAL_MS = 2_000

/**
 * Keeps a node in the mesh: it remembers the peers it meets (with their listen addresses), on
 * start it redials them, and while it has no connection at all it keeps retrying, so a node that
 * lost every peer rejoins by itself.
 */
export class MeshKeeper {
  private readonly known: KnownPeers
  private controller?: AbortController
  private timer: NodeJS.Timeout | undefined
  private rejoining: Promise<unknown> | undefined
  private unfollow: (() => void) | undefined

  constructor(
    private readonly libp2p: Libp2p,
    datastore: Datastore,
    private readonly log: Logger,
  ) {
    this.known = new KnownPeers(datastore, log)
  }

  /** Starts recording peers; call before libp2p starts, so the bootstrap connections are seen. */
  follow(): void {
    this.unfollow ??= this.known.follow(this.libp2p)
  }

  async start(): Promise<void> {
    this.follow()
    this.controller = new AbortController()
    const signal = this.controller.signal
    // Reconnection runs in the background: a node must start even when every known peer is gone.
    this.rejoining = this.rejoin(signal)
    this.timer = setInterval(() => {
      if (this.libp2p.getConnections().length === 0 && this.rejoining === undefined) {
        this.rejoining = this.rejoin(signal)
      }
    }, REJOIN_INTERVAL_MS)
    this.timer.unref()
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.unfollow?.()
    this.unfollow = undefined
    this.controller?.abort()
    await this.rejoining
  }

  private async rejoin(signal: AbortSignal): Promise<void> {
    try {
      const n = await reconnectKnownPeers(this.libp2p, this.known, this.log, { signal })
      if (n > 0) this.log('reconnected to %d known peer(s)', n)
    } catch (err) {
      if (!signal.aborted) this.log.error('reconnecting to known peers failed: %e', err)
    } finally {
      this.rejoining = undefined
    }
  }
}
