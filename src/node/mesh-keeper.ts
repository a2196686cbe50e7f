import type { Libp2p, Logger } from '@libp2p/interface'
import { reconnectKnownPeers } from './reconnect.js'

/** How often a node with no connections tries its known peers again. @default 2_000 */
const REJOIN_INTERVAL_MS = 2_000

/**
 * Keeps a node in the mesh: on start it redials peers from the persisted peer store, and while it
 * has no connection at all it keeps retrying, so a node that lost every peer rejoins by itself.
 */
export class MeshKeeper {
  private controller?: AbortController
  private timer: NodeJS.Timeout | undefined
  private rejoining: Promise<unknown> | undefined

  constructor(
    private readonly libp2p: Libp2p,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
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
    this.controller?.abort()
    await this.rejoining
  }

  private async rejoin(signal: AbortSignal): Promise<void> {
    try {
      const n = await reconnectKnownPeers(this.libp2p, this.log, { signal })
      if (n > 0) this.log('reconnected to %d known peer(s)', n)
    } catch (err) {
      if (!signal.aborted) this.log.error('reconnecting to known peers failed: %e', err)
    } finally {
      this.rejoining = undefined
    }
  }
}
