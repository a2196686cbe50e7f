/**
 * The jobs a supervisor hands one runner in one turn go as one `runner.execute_many` call: the
 * runner verifies each on its own and answers at once which it started; the executions come back
 * on the link's `runner.logs` stream, those that ended together in one event. Each job keeps its
 * own promise, deadline and abort — to the supervisor a batched job looks exactly like one sent
 * with `runner.execute`. A job alone in its turn, or any job for a runner without
 * `execute_many`, still goes as `runner.execute`.
 *
 * The deadlines of all waiting jobs share one timer, set for the earliest of them: a timer per job
 * (made and cleared for every job, nearly always before it fires) was garbage at hundreds of jobs
 * per second. When it fires, every job past its own deadline fails as that call would have, and
 * the timer is set again for the earliest left.
 *
 * An execution is believed only for a job this link handed over in a batch and still waits for;
 * anything else the runner sends is dropped (and its result is verified by the supervisor in
 * any case). When the stream ends, every job still waiting fails as a lost link: the supervisor
 * sends it again and the runner answers with the execution it already has (`replayed`).
 */
import type { Logger } from '@libp2p/interface'
import { type LongTimeout, setLongTimeout } from '../../core/long-timeout.js'
import type { JobEnvelope } from '../../protocols/jobs/index.js'
import {
  CallTimeoutError,
  CancelledError,
  ConnectionClosedError,
  fromWireError,
  type HorusErrorClass,
  MethodNotFoundError,
} from '../../protocols/rpc/index.js'
import { MAX_EXECUTE_BATCH } from '../runner/service/constants.js'
import type { ExecuteManyItem, ExecuteResponse } from '../runner/service/wire.js'
import type { ExecuteCall } from './runner-link.js'

export interface ExecuteBatcherInit {
  /** `runner.execute` for one job. */
  one(job: JobEnvelope, call: ExecuteCall): Promise<ExecuteResponse>
  /** `runner.execute_many`, once the stream the executions come on is open. */
  many(jobs: JobEnvelope[]): Promise<ExecuteManyItem[]>
  /** Error classes to rebuild a refusal as (the runner's). */
  errors: ReadonlyMap<string, HorusErrorClass>
  log: Logger
  /** The runner sent an execution for a job not waiting here (it is dropped). */
  onStray?: (jobId: unknown) => void
}

interface Queued {
  job: JobEnvelope
  call: ExecuteCall
  resolve(response: ExecuteResponse): void
  reject(err: unknown): void
}

interface Waiting extends Queued {
  /** `performance.now()` past which the job fails as timed out. */
  deadline: number
  /** Takes back the abort listener. */
  detach(): void
}

export class ExecuteBatcher {
  private readonly init: ExecuteBatcherInit
  private queued: Queued[] = []
  /** Jobs handed over in a batch whose execution has not come yet, by id. */
  private readonly waiting = new Map<string, Waiting>()
  private unsupported = false
  /** The one timer of every waiting job's deadline, and the instant it is set for. */
  private timer: LongTimeout | undefined
  private timerAt = Number.POSITIVE_INFINITY

  constructor(init: ExecuteBatcherInit) {
    this.init = init
  }

  execute(job: JobEnvelope, call: ExecuteCall): Promise<ExecuteResponse> {
    if (this.unsupported) return this.init.one(job, call)
    return new Promise((resolve, reject) => {
      this.queued.push({ job, call, resolve, reject })
      // Jobs picked in this turn — by one pump, or by the pumps that each accepted job and each
      // finished one runs — ride in the batch sent after it.
      if (this.queued.length === 1) setImmediate(() => this.flush())
    })
  }

  /** Executions from the runner's stream. */
  deliver(outcomes: readonly unknown[]): void {
    for (const outcome of outcomes) {
      const jobId = (outcome as { jobId?: unknown } | null)?.jobId
      const waiting = typeof jobId === 'string' ? this.waiting.get(jobId) : undefined
      if (waiting === undefined) {
        this.init.onStray?.(jobId)
        this.init.log('runner sent an execution for %s, which it was not handed in a batch: dropped', jobId)
        continue
      }
      // The answer is read before the job stops waiting: whatever a runner sent, the job is
      // settled exactly once, with a result or an error.
      const { error, response } = outcome as Partial<{ error: unknown; response: unknown }>
      const failure = error === undefined ? undefined : fromWireError(error as never, this.init.errors)
      this.settle(waiting)
      if (failure !== undefined) waiting.reject(failure)
      else waiting.resolve(executeResponseOf(response))
    }
  }

  /** The stream ended: nothing more comes for the jobs still waiting. */
  streamEnded(reason: Error): void {
    for (const waiting of [...this.waiting.values()]) {
      this.settle(waiting)
      waiting.reject(
        new ConnectionClosedError(`runner event stream ended: ${reason.message}`, { cause: reason }),
      )
    }
  }

  private flush(): void {
    const queued = this.queued
    this.queued = []
    // A job already waiting here (sent again after an abort) goes alone, so two never share an id.
    const ids = new Set(this.waiting.keys())
    const alone: Queued[] = []
    const batched: Queued[] = []
    for (const q of queued) {
      ;(ids.has(q.job.id) ? alone : batched).push(q)
      ids.add(q.job.id)
    }
    for (const q of batched.length === 1 ? [...alone, ...batched] : alone) this.sendOne(q)
    if (batched.length < 2) return
    for (let i = 0; i < batched.length; i += MAX_EXECUTE_BATCH) {
      this.sendMany(batched.slice(i, i + MAX_EXECUTE_BATCH)).catch((err: unknown) => {
        this.init.log('runner.execute_many answer could not be read: %s', err)
      })
    }
  }

  private sendOne(q: Queued): void {
    this.init.one(q.job, q.call).then(q.resolve, q.reject)
  }

  private async sendMany(batch: Queued[]): Promise<void> {
    const live = batch.flatMap((q) => {
      const waiting = this.wait(q)
      return waiting === undefined ? [] : [waiting]
    })
    if (live.length === 0) return
    let accepted: ExecuteManyItem[]
    try {
      accepted = await this.init.many(live.map((w) => w.job))
    } catch (err) {
      const left = live.filter((w) => this.waiting.get(w.job.id) === w)
      for (const w of left) this.settle(w)
      if (err instanceof MethodNotFoundError) {
        this.unsupported = true
        for (const w of left) this.sendOne(w)
        return
      }
      // Not the job's own deadline: the runner did not say which it started. Sent again, each is
      // answered with its execution if it did.
      const failure =
        err instanceof CallTimeoutError
          ? new ConnectionClosedError(`runner.execute_many: ${err.message}`, { cause: err })
          : err
      for (const w of left) w.reject(failure)
      return
    }
    live.forEach((w, i) => {
      const item: ExecuteManyItem | undefined = Array.isArray(accepted) ? accepted[i] : undefined
      if (item?.ok === true || this.waiting.get(w.job.id) !== w) return
      this.settle(w)
      w.reject(
        item === undefined
          ? new ConnectionClosedError(`runner.execute_many did not answer job ${w.job.id}`)
          : fromWireError(item.error, this.init.errors),
      )
    })
  }

  /** Registers a job's wait: its own deadline and abort, as a `runner.execute` call would have. */
  private wait(q: Queued): Waiting | undefined {
    const { cancel, timeoutMs } = q.call
    if (cancel.aborted) {
      q.reject(new CancelledError('call cancelled by the caller', { cause: cancel.reason }))
      return undefined
    }
    const waiting = q as Waiting
    waiting.deadline = performance.now() + timeoutMs
    waiting.detach = cancel.onAbort((reason) => {
      this.settle(waiting)
      q.reject(new CancelledError('call cancelled by the caller', { cause: reason }))
    })
    this.waiting.set(q.job.id, waiting)
    if (waiting.deadline < this.timerAt) this.arm(waiting.deadline)
    return waiting
  }

  private settle(waiting: Waiting): void {
    waiting.detach()
    if (this.waiting.get(waiting.job.id) === waiting) this.waiting.delete(waiting.job.id)
    if (this.waiting.size === 0) this.disarm()
  }

  private arm(at: number): void {
    this.timer?.clear()
    this.timerAt = at
    // A long timeout, so a far deadline (beyond setTimeout's range) does not fire at once; should
    // it still come a little early, `expire` sets it again for what is left.
    this.timer = setLongTimeout(() => this.expire(), Math.max(1, at - performance.now()))
  }

  private disarm(): void {
    this.timer?.clear()
    this.timer = undefined
    this.timerAt = Number.POSITIVE_INFINITY
  }

  /** Fails every job past its deadline; sets the timer for the earliest deadline left. */
  private expire(): void {
    this.timer = undefined
    this.timerAt = Number.POSITIVE_INFINITY
    const now = performance.now()
    let next = Number.POSITIVE_INFINITY
    for (const waiting of [...this.waiting.values()]) {
      if (waiting.deadline > now) {
        if (waiting.deadline < next) next = waiting.deadline
        continue
      }
      this.settle(waiting)
      waiting.reject(new CallTimeoutError(`runner.execute: no answer within ${waiting.call.timeoutMs} ms`))
    }
    if (next < this.timerAt) this.arm(next)
  }
}

/** What the runner sent, in the shape the supervisor reads; its result is verified there. */
function executeResponseOf(value: unknown): ExecuteResponse {
  const v = (typeof value === 'object' && value !== null ? value : {}) as Partial<Record<string, unknown>>
  return {
    result: v.result as ExecuteResponse['result'],
    logs: Array.isArray(v.logs) ? v.logs.filter((l): l is string => typeof l === 'string') : [],
    logsTruncated: v.logsTruncated === true,
    replayed: v.replayed === true,
  }
}
