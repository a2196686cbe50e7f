import type { Libp2p, Logger } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { boundedCall } from '../../core/bounded-call.js'

/** How often provider records are refreshed (the DHT drops them after 48 h). @default 3_600_000 */
export const REPROVIDE_INTERVAL_MS = 60 * 60 * 1000
/** How long to wait before retrying a provide that reached no peer. @default 1_000 */
export const PROVIDE_RETRY_MS = 1_000

/**
 * Keeps provider records for a set of keys in the DHT: provides each as soon as the routing table
 * has a peer, retries until a provide succeeds, and refreshes them periodically.
 */
export class DhtAdvertiser {
  private readonly keys = new Map<string, { cid: CID; provided: boolean }>()
  private controller = new AbortController()
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined

  constructor(
    private readonly libp2p: Libp2p,
    private readonly log: Logger,
  ) {}

  add(cid: CID): void {
    const key = cid.toString()
    if (this.keys.has(key)) return
    this.keys.set(key, { cid, provided: false })
    this.kick()
  }

  /** Keys not yet provided successfully. */
  pending(): number {
    return [...this.keys.values()].filter((k) => !k.provided).length
  }

  start(): void {
    this.controller = new AbortController()
    this.timer = setInterval(() => {
      for (const entry of this.keys.values()) entry.provided = false
      this.kick()
    }, REPROVIDE_INTERVAL_MS)
    this.timer.unref()
    this.kick()
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.controller.abort()
    await this.running
  }

  private kick(): void {
    if (this.running !== undefined || this.controller.signal.aborted || this.timer === undefined) return
    this.running = this.provideAll(this.controller.signal).finally(() => {
      this.running = undefined
    })
  }

  private async provideAll(signal: AbortSignal): Promise<void> {
    while (!signal.aborted && this.pending() > 0) {
      if (this.libp2p.getPeers().length > 0) {
        for (const entry of this.keys.values()) {
          if (entry.provided || signal.aborted) continue
          try {
            await boundedCall(signal, 30_000, (bounded) =>
              this.libp2p.contentRouting.provide(entry.cid, { signal: bounded }),
            )
            entry.provided = true
            this.log('provided %c', entry.cid)
          } catch (err) {
            if (!signal.aborted)
              this.log('provide %c failed, will retry: %s', entry.cid, (err as Error).message)
          }
        }
      }
      if (this.pending() > 0) await sleep(PROVIDE_RETRY_MS, signal)
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer)
        resolve()
      },
      { once: true },
    )
  })
}
