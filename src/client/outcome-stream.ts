/**
 * `waitForJob` without a held call per job: one `supervisor.job_outcomes` subscription to each
 * supervisor this client creates jobs on, opened lazily by the first job it accepts, delivering the
 * outcomes of this client's own jobs several to a frame. A job is waited for on the stream only
 * when the stream was confirmed before the job's create call was sent, so its outcome cannot
 * have gone out before the stream listened; any other job — created earlier, on a supervisor
 * without a stream, after the stream dropped, or forgotten past the bounds — gets `undefined`
 * and is waited for with the held `get_job_result` call. When a stream drops, every wait on it
 * falls back the same way: no wait is lost or left hanging. The outcomes are only what the
 * supervisor says: the caller verifies each result as it would a `get_job_result` answer.
 */
import type { RpcSubscription } from '../protocols/rpc/client.js'
import { MAX_RESUBSCRIBE_DELAY_MS, RESUBSCRIBE_DELAY_MS } from './constants.js'
import { type JobResultView, TERMINAL_JOB_STATUSES } from './types.js'

export interface OutcomeStreamsInit {
  /** Subscribes to `supervisor.job_outcomes` on that supervisor. */
  open(peerId: string): RpcSubscription<unknown>
  /** True when subscribing failed because the supervisor has no such subscription (an older node). */
  unsupported(err: unknown): boolean
  log(format: string, ...args: unknown[]): void
  /** Jobs awaited per supervisor, and jobs whose create call is on its way. */
  maxTracked: number
  /** Outcomes that came before anyone waited for them, kept per supervisor. */
  maxArrived: number
}

type Waiter = (view: JobResultView | undefined) => void

/** The stream to one supervisor and the jobs it will answer. */
interface Stream {
  subscription: RpcSubscription<unknown> | undefined
  /** The `mark()` at which the supervisor confirmed the subscription; undefined while not live. */
  liveSince: number | undefined
  /** Jobs whose outcome the stream will carry and that have not had it yet (insertion-ordered). */
  expected: Map<string, true>
  /** Outcomes that came before anyone waited for them. */
  arrived: Map<string, JobResultView>
  waiters: Map<string, Waiter[]>
  /** Not before this time is it opened again after a failure. */
  retryAt: number
  failures: number
  unsupported: boolean
}

export class OutcomeStreams {
  private readonly init: OutcomeStreamsInit
  private readonly streams = new Map<string, Stream>()
  private clock = 0
  /** Jobs whose create call is on its way, with the `mark` taken before it was sent. */
  private readonly creating = new Map<string, number>()
  private closed = false

  constructor(init: OutcomeStreamsInit) {
    this.init = init
  }

  /** Called before the create call of `jobId` is sent. */
  sending(jobId: string): void {
    remember(this.creating, jobId, this.init.maxTracked, this.mark())
  }

  /** The create call of `jobId` failed: nothing comes for it. */
  unsent(jobId: string): void {
    this.creating.delete(jobId)
  }

  /**
   * `peerId` accepted job `jobId`: its outcome comes on the stream if the stream was live before
   * the create call was sent (and the job is not already over). Opens the stream to that supervisor
   * if there is none, for the jobs after this one.
   */
  adopt(jobId: string, peerId: string, status: string): void {
    const sentAt = this.creating.get(jobId)
    this.creating.delete(jobId)
    const stream = this.stream(peerId)
    if (stream === undefined || sentAt === undefined || stream.arrived.has(jobId)) return
    if (stream.liveSince === undefined || stream.liveSince >= sentAt) return
    if (TERMINAL_JOB_STATUSES.has(status as never)) return
    remember(stream.expected, jobId, this.init.maxTracked, true)
  }

  private mark(): number {
    return ++this.clock
  }

  /**
   * The job's outcome from the stream; `undefined` at once (or later, when the stream drops or
   * `signal` aborts) when the caller must ask the supervisor instead.
   */
  wait(jobId: string, signal?: AbortSignal): Promise<JobResultView | undefined> | undefined {
    for (const stream of this.streams.values()) {
      const arrived = stream.arrived.get(jobId)
      if (arrived !== undefined) {
        stream.arrived.delete(jobId)
        return Promise.resolve(arrived)
      }
      if (!stream.expected.has(jobId) || stream.liveSince === undefined) continue
      if (signal?.aborted === true) return undefined
      return new Promise((resolve) => {
        const waiting = stream.waiters.get(jobId)
        if (signal === undefined) {
          // No abort to undo: the waiter is the promise's own resolve.
          if (waiting === undefined) stream.waiters.set(jobId, [resolve])
          else waiting.push(resolve)
          return
        }
        const done: Waiter = (view) => {
          signal.removeEventListener('abort', onAbort)
          resolve(view)
        }
        const onAbort = (): void => {
          const left = (stream.waiters.get(jobId) ?? []).filter((w) => w !== done)
          if (left.length === 0) stream.waiters.delete(jobId)
          else stream.waiters.set(jobId, left)
          resolve(undefined)
        }
        signal.addEventListener('abort', onAbort, { once: true })
        if (waiting === undefined) stream.waiters.set(jobId, [done])
        else waiting.push(done)
      })
    }
    return undefined
  }

  /** Ends every stream; waits still open fall back to asking. */
  async close(): Promise<void> {
    this.closed = true
    const streams = [...this.streams.values()]
    this.streams.clear()
    this.creating.clear()
    for (const stream of streams) this.dropped(stream)
    await Promise.allSettled(streams.map((s) => s.subscription?.unsubscribe()))
  }

  /** The stream to `peerId`, opened if it is not live and may be tried now. */
  private stream(peerId: string): Stream | undefined {
    if (this.closed) return undefined
    let stream = this.streams.get(peerId)
    if (stream === undefined) {
      stream = {
        subscription: undefined,
        liveSince: undefined,
        expected: new Map(),
        arrived: new Map(),
        waiters: new Map(),
        retryAt: 0,
        failures: 0,
        unsupported: false,
      }
      this.streams.set(peerId, stream)
    }
    if (stream.subscription === undefined && !stream.unsupported && Date.now() >= stream.retryAt) {
      this.open(peerId, stream)
    }
    return stream
  }

  private open(peerId: string, stream: Stream): void {
    const subscription = this.init.open(peerId)
    stream.subscription = subscription
    subscription.id.then(
      () => {
        if (stream.subscription !== subscription) return
        stream.liveSince = this.mark()
        stream.failures = 0
        this.init.log('outcome stream to %s is live', peerId)
      },
      (err: unknown) => {
        if (this.init.unsupported(err)) stream.unsupported = true
      },
    )
    void (async () => {
      try {
        for await (const event of subscription) this.deliver(stream, event)
        this.init.log('outcome stream to %s ended', peerId)
      } catch (err) {
        this.init.log('outcome stream to %s dropped - %e', peerId, err)
      } finally {
        if (stream.subscription === subscription) {
          stream.subscription = undefined
          stream.failures++
          stream.retryAt =
            Date.now() + Math.min(MAX_RESUBSCRIBE_DELAY_MS, RESUBSCRIBE_DELAY_MS * 2 ** (stream.failures - 1))
          this.dropped(stream)
        }
      }
    })()
  }

  /** The stream can no longer be relied on: whoever waits on it asks instead. */
  private dropped(stream: Stream): void {
    stream.liveSince = undefined
    stream.expected.clear()
    const waiters = [...stream.waiters.values()].flat()
    stream.waiters.clear()
    for (const done of waiters) done(undefined)
  }

  private deliver(stream: Stream, event: unknown): void {
    const events = (event as { events?: unknown } | null)?.events
    if (!Array.isArray(events)) {
      this.init.log('ignoring an outcome notification without events')
      return
    }
    for (const item of events) {
      const jobId = (item as { jobId?: unknown } | null)?.jobId
      const status = (item as { status?: unknown } | null)?.status
      // Only a terminal outcome of a job this client waits for, or whose create answer is still on
      // its way (the outcome can overtake it), is kept.
      if (typeof jobId !== 'string' || typeof status !== 'string') continue
      if (!stream.expected.has(jobId) && !this.creating.has(jobId)) continue
      if (!TERMINAL_JOB_STATUSES.has(status as never)) continue
      stream.expected.delete(jobId)
      const view = item as JobResultView
      const waiters = stream.waiters.get(jobId)
      stream.waiters.delete(jobId)
      if (waiters !== undefined) for (const done of waiters) done(view)
      else remember(stream.arrived, jobId, this.init.maxArrived, view)
    }
  }
}

/** Adds to a bounded map; the oldest entry goes first (its job then falls back to asking). */
function remember<V>(into: Map<string, V>, jobId: string, max: number, value: V): void {
  into.delete(jobId)
  if (into.size >= max) {
    const oldest = into.keys().next().value
    if (oldest !== undefined) into.delete(oldest)
  }
  into.set(jobId, value)
}
