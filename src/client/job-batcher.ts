/**
 * Concurrent `createJob` calls of one client, sent together: the jobs signed in one event-loop
 * turn go to the supervisor as one `supervisor.create_jobs` call (at most MAX_JOBS_PER_BATCH
 * each), the way a DataLoader coalesces loads. Each caller still gets its own job's answer or its
 * own error — a job the supervisor refuses fails alone. A job alone in its turn goes as a plain
 * `supervisor.create_job`, so one-at-a-time latency is unchanged.
 */
import type { JobEnvelope } from '../protocols/jobs/envelope.js'
import type { WireError } from '../protocols/rpc/errors.js'
import { MAX_JOBS_PER_BATCH } from '../roles/supervisor/constants.js'
import type { CreateJobsItem } from '../roles/supervisor/methods.js'
import type { JobStatusView } from './types.js'

export type { CreateJobsItem }

export interface CreateJobsTransport {
  /** One job: `supervisor.create_job`. */
  one(job: JobEnvelope, waitForRunner: boolean): Promise<JobStatusView>
  /** Several: `supervisor.create_jobs`, answers in the same order. */
  many(jobs: JobEnvelope[], waitForRunner: boolean): Promise<CreateJobsItem[]>
  /** The error a refused item stands for. */
  refusal(error: WireError, job: JobEnvelope): unknown
  /** The error each job of a failed `many` call gets (an ambiguous failure names its job). */
  failure(err: unknown, job: JobEnvelope): unknown
  /** True when `many` failed because the supervisor has no `create_jobs` (an older node). */
  unsupported(err: unknown): boolean
}

interface Pending {
  job: JobEnvelope
  resolve: (view: JobStatusView) => void
  reject: (err: unknown) => void
}

export class CreateJobBatcher {
  /** Queued jobs by their `waitForRunner` flag (one call carries one flag). */
  private readonly queued = new Map<boolean, Pending[]>()
  private scheduled = false
  private batchesUnsupported = false

  constructor(private readonly transport: CreateJobsTransport) {}

  create(job: JobEnvelope, waitForRunner: boolean): Promise<JobStatusView> {
    return new Promise<JobStatusView>((resolve, reject) => {
      const queue = this.queued.get(waitForRunner) ?? []
      this.queued.set(waitForRunner, queue)
      queue.push({ job, resolve, reject })
      if (this.scheduled) return
      this.scheduled = true
      // After this turn: every createJob called from it (and its microtasks) rides along.
      setImmediate(() => this.flush())
    })
  }

  private flush(): void {
    this.scheduled = false
    for (const [waitForRunner, queue] of this.queued) {
      this.queued.delete(waitForRunner)
      for (let i = 0; i < queue.length; i += MAX_JOBS_PER_BATCH) {
        void this.send(queue.slice(i, i + MAX_JOBS_PER_BATCH), waitForRunner)
      }
    }
  }

  private async send(batch: Pending[], waitForRunner: boolean): Promise<void> {
    const one = (p: Pending): Promise<void> =>
      this.transport.one(p.job, waitForRunner).then(p.resolve, p.reject)
    if (batch.length === 1 || this.batchesUnsupported) {
      await Promise.all(batch.map(one))
      return
    }
    let items: CreateJobsItem[]
    try {
      items = await this.transport.many(
        batch.map((p) => p.job),
        waitForRunner,
      )
    } catch (err) {
      if (this.transport.unsupported(err)) {
        this.batchesUnsupported = true
        await Promise.all(batch.map(one))
      } else for (const p of batch) p.reject(this.transport.failure(err, p.job))
      return
    }
    batch.forEach((p, i) => {
      const item = items[i]
      if (item === undefined) p.reject(new Error(`the supervisor did not answer job ${p.job.id}`))
      else if (item.ok) p.resolve(item.job)
      else p.reject(this.transport.refusal(item.error, p.job))
    })
  }
}
