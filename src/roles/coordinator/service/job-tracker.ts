/**
 * The step jobs this coordinator has in flight: it builds and signs each job (the coordinator is
 * its submitter; the id is the step's deterministic `run/step/attempt`), sends it to a supervisor,
 * and hands every status change of a tracked job to the engine. Failover: a job whose supervisor
 * fails the call, stops answering or loses its event stream is re-sent — the same envelope, so the
 * same id — to another supervisor; reconciliation polls in-flight jobs now and then to catch an
 * event that was lost.
 */
import type { ComponentLogger, Libp2p, Logger } from '@libp2p/interface'
import {
  createJob,
  type JobAuthority,
  type JobEnvelope,
  type SealedSecret,
  type Signer,
} from '../../../protocols/jobs/index.js'
import type { LivenessService } from '../../../protocols/liveness/index.js'
import type { JsonObject, JsonValue } from '../../../protocols/state/json-value.js'
import { isTerminal, type JobEvent, type SupervisorService } from '../../supervisor/index.js'
import type { DispatchAction } from '../scheduling/index.js'
import { DEFAULT_JOB_TTL_MS, DEFAULT_STEP_JOB_TIMEOUT_MS, DISPATCH_RETRY_MS } from './constants.js'
import { errorName, type SupervisorLink } from './supervisor-link.js'
import { SupervisorPool } from './supervisor-pool.js'

export interface TrackedJob {
  readonly jobId: string
  readonly run: string
  readonly step: string
  readonly attempt: number
  /** The signed job; undefined while its input is being prepared (large values stored as blobs). */
  envelope: JobEnvelope | undefined
  /** Where it was (last) sent. */
  supervisor: string | undefined
  readonly tried: Set<string>
  delivering: boolean
  cancelled: boolean
  retryTimer: NodeJS.Timeout | undefined
}

export interface JobTrackerInit {
  libp2p: Libp2p
  liveness: Pick<LivenessService, 'alive'>
  logger: ComponentLogger
  self: string
  signer: Signer
  localSupervisor: SupervisorService | undefined
  configuredSupervisors: readonly string[]
  /**
   * The input as it travels: large values become blob references (see blob-keeper.ts). Without
   * it, the input goes as it is.
   */
  prepareInput?(run: string, input: JsonObject): Promise<JsonObject>
  /** A job was signed (its envelope is what its result will answer). */
  onSigned?(job: TrackedJob, envelope: JobEnvelope): void
  /** A status change of a tracked job (terminal ones end its tracking first). */
  onJobEvent(job: TrackedJob, event: JobEvent, supervisor: string): void
  /** A supervisor's event stream broke. */
  onSupervisorDown(supervisor: string, err: Error): void
}

/** Job payloads are text: a step's payload that is not a string travels as its JSON. */
export function payloadText(payload: JsonValue): string {
  if (payload === null) return ''
  return typeof payload === 'string' ? payload : JSON.stringify(payload)
}

const CALL_TIMEOUT_MS = 15_000

export class JobTracker {
  readonly pool: SupervisorPool
  private readonly init: JobTrackerInit
  private readonly log: Logger
  private readonly jobs = new Map<string, TrackedJob>()
  private readonly shutdown = new AbortController()

  constructor(init: JobTrackerInit) {
    this.init = init
    this.log = init.logger.forComponent('horus:coordinator:jobs')
    this.pool = new SupervisorPool({
      libp2p: init.libp2p,
      liveness: init.liveness,
      logger: init.logger,
      self: init.self,
      local: init.localSupervisor,
      configured: init.configuredSupervisors,
      handlers: {
        onEvent: (event, supervisor) => this.onEvent(event, supervisor),
        onDown: (supervisor, err) => this.onDown(supervisor, err),
      },
    })
  }

  get size(): number {
    return this.jobs.size
  }

  has(jobId: string): boolean {
    return this.jobs.has(jobId)
  }

  jobsOf(run: string): string[] {
    return [...this.jobs.values()].filter((job) => job.run === run).map((job) => job.jobId)
  }

  /**
   * Signs the dispatch's job — carrying the run's `authority`, so executors check the submitter's
   * trust for the step, and the step's sealed `secrets` as they are — and sends it (in the
   * background, once its input is prepared; `onSigned` hears of the envelope). A job already
   * tracked is left as is.
   */
  send(
    run: string,
    action: DispatchAction,
    authority: JobAuthority | undefined,
    secrets?: Record<string, SealedSecret>,
  ): void {
    if (this.jobs.has(action.jobId)) return
    const job: TrackedJob = {
      jobId: action.jobId,
      run,
      step: action.step,
      attempt: action.attempt,
      envelope: undefined,
      supervisor: undefined,
      tried: new Set(),
      delivering: false,
      cancelled: false,
      retryTimer: undefined,
    }
    this.jobs.set(job.jobId, job)
    this.prepare(job, action, authority, secrets).then(
      () => this.deliver(job),
      (err: Error) =>
        // The input could not be prepared (the blob store failed): the attempt fails, retryably.
        this.onEvent(
          {
            jobId: job.jobId,
            status: 'failed',
            error: { name: err.name, message: err.message, retryable: true },
          },
          this.init.self,
        ),
    )
  }

  /** Prepares the input (large values as blobs), then signs the job. */
  private async prepare(
    job: TrackedJob,
    action: DispatchAction,
    authority: JobAuthority | undefined,
    secrets: Record<string, SealedSecret> | undefined,
  ): Promise<void> {
    const input =
      this.init.prepareInput === undefined
        ? action.input
        : await this.init.prepareInput(job.run, action.input)
    const timeoutMs = action.timeoutMs ?? DEFAULT_STEP_JOB_TIMEOUT_MS
    const envOrEmpty = Object.keys(action.env).length === 0 ? {} : { env: { ...action.env } }
    const envelope = createJob(
      {
        id: action.jobId,
        run: job.run,
        step: action.step,
        attempt: action.attempt,
        runner: action.runner,
        payload: payloadText(action.payload),
        input,
        ...envOrEmpty,
        context: action.context as unknown as Record<string, unknown>,
        ...(secrets === undefined ? {} : { secrets }),
        timeoutMs,
        ttlMs: Math.max(DEFAULT_JOB_TTL_MS, timeoutMs),
        ...(authority === undefined ? {} : { authority }),
      },
      this.init.signer,
    )
    job.envelope = envelope
    this.init.onSigned?.(job, envelope)
  }

  /** Stops tracking a job and cancels it on its supervisor. */
  cancel(jobId: string): void {
    const job = this.forget(jobId)
    if (job === undefined) return
    job.cancelled = true
    const supervisor = job.supervisor
    if (supervisor === undefined) return
    this.pool
      .link(supervisor)
      .cancel(jobId, this.callSignal())
      .catch((err: Error) => this.log('cancel of %s on %s failed: %s', jobId, supervisor, err.message))
  }

  /** Stops tracking a job without cancelling it (another coordinator follows it now). */
  forget(jobId: string): TrackedJob | undefined {
    const job = this.jobs.get(jobId)
    if (job === undefined) return undefined
    this.jobs.delete(jobId)
    clearTimeout(job.retryTimer)
    if (job.supervisor !== undefined) this.pool.release(job.supervisor)
    return job
  }

  forgetRun(run: string): void {
    for (const jobId of this.jobsOf(run)) this.forget(jobId)
  }

  /** Log lines the job printed, from the supervisor that ran it. */
  async logs(supervisor: string, jobId: string): Promise<string[]> {
    return this.pool.link(supervisor).logs(jobId, this.callSignal())
  }

  /** Asks supervisors about jobs whose completion may have been missed; re-sends lost ones. */
  reconcile(): void {
    for (const job of this.jobs.values()) {
      if (job.delivering || job.retryTimer !== undefined) continue
      const supervisor = job.supervisor
      if (supervisor === undefined) {
        this.deliver(job)
        continue
      }
      this.pool
        .link(supervisor)
        .result(job.jobId, this.callSignal())
        .then((view) => {
          if (isTerminal(view.status)) this.onEvent(view, supervisor)
        })
        .catch((err: unknown) => {
          if (errorName(err) !== 'JobNotFoundError' || job.supervisor !== supervisor) return
          // The supervisor lost the job (restarted without it): send it again.
          this.pool.release(supervisor)
          job.supervisor = undefined
          this.deliver(job)
        })
    }
  }

  async stop(): Promise<void> {
    this.shutdown.abort()
    for (const job of this.jobs.values()) clearTimeout(job.retryTimer)
    this.jobs.clear()
    await this.pool.close()
  }

  private callSignal(): AbortSignal {
    return AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(CALL_TIMEOUT_MS)])
  }

  private onEvent(event: JobEvent, supervisor: string): void {
    const job = this.jobs.get(event.jobId)
    if (job === undefined) return
    if (isTerminal(event.status)) this.forget(job.jobId)
    this.init.onJobEvent(job, event, supervisor)
  }

  private onDown(supervisor: string, err: Error): void {
    if (this.shutdown.signal.aborted) return
    this.log('supervisor %s lost: %s', supervisor, err.message)
    this.pool.markFailed(supervisor)
    for (const job of this.jobs.values()) {
      if (job.supervisor !== supervisor) continue
      this.pool.release(supervisor)
      job.supervisor = undefined
      job.tried.add(supervisor)
      this.deliver(job)
    }
    this.init.onSupervisorDown(supervisor, err)
  }

  private deliver(job: TrackedJob): void {
    if (job.delivering || job.cancelled || job.envelope === undefined || this.shutdown.signal.aborted) return
    job.delivering = true
    this.deliverLoop(job)
      .catch((err: Error) => this.log.error('delivering %s: %s', job.jobId, err.message))
      .finally(() => {
        job.delivering = false
      })
  }

  private async deliverLoop(job: TrackedJob): Promise<void> {
    for (;;) {
      if (job.cancelled || this.shutdown.signal.aborted || this.jobs.get(job.jobId) !== job) return
      let peer = this.pool.pick(job.tried)
      if (peer === undefined && job.tried.size > 0) {
        job.tried.clear()
        peer = this.pool.pick(job.tried)
      }
      if (peer === undefined) {
        this.retryLater(job)
        return
      }
      const link = this.pool.link(peer)
      job.supervisor = peer
      this.pool.assign(peer)
      try {
        await link.ready()
        const view = await link.submit(job.envelope as JobEnvelope, this.callSignal())
        if (job.cancelled) await link.cancel(job.jobId, this.callSignal())
        else if (isTerminal(view.status)) await this.fetch(job, link)
        return
      } catch (err) {
        const name = errorName(err)
        // Another coordinator sent this step's job first (a takeover): follow that one.
        if (name === 'JobIdConflictError') return await this.fetch(job, link)
        if (name === 'JobRejectedError' || name === 'InvalidJobError') {
          this.onEvent(
            {
              jobId: job.jobId,
              status: 'failed',
              error: { name, message: (err as Error).message, retryable: false },
            },
            peer,
          )
          return
        }
        this.log('sending %s to %s failed: %s', job.jobId, peer, (err as Error).message)
        if (job.supervisor === peer) {
          this.pool.release(peer)
          job.supervisor = undefined
        }
        job.tried.add(peer)
        this.pool.markFailed(peer)
      }
    }
  }

  private async fetch(job: TrackedJob, link: SupervisorLink): Promise<void> {
    try {
      const view = await link.result(job.jobId, this.callSignal())
      if (isTerminal(view.status)) this.onEvent(view, link.peerId)
    } catch (err) {
      this.log('status of %s on %s: %s', job.jobId, link.peerId, (err as Error).message)
    }
  }

  private retryLater(job: TrackedJob): void {
    if (job.retryTimer !== undefined) return
    job.retryTimer = setTimeout(() => {
      job.retryTimer = undefined
      this.deliver(job)
    }, DISPATCH_RETRY_MS)
    job.retryTimer.unref()
  }
}
