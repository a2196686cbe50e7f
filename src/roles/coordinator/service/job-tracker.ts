/**
 * The step jobs this coordinator has in flight: it builds and signs each job (the coordinator is
 * its submitter; the id is the step's deterministic `run/step/attempt`), sends it to a supervisor,
 * and hands every status change of a tracked job to the engine. Failover: a job whose supervisor
 * fails the call, stops answering or loses its event stream is re-sent — the same envelope, so the
 * same id — to another supervisor; reconciliation polls in-flight jobs now and then to catch an
 * event that was lost. A job this coordinator takes over (`follow`) is first looked for on every
 * known supervisor and followed where it is; it is sent only when none has it, so a takeover does
 * not run an attempt twice on two supervisors.
 *
 * A job found under the step's id — on a conflict, or by that look-up — is followed only when it
 * is the same attempt of the same step, for the same capability, and was submitted by a
 * coordinator this node trusts (another coordinator took the run over, or this one restarted); the
 * result expected is then the one bound to that job's envelope. Any other holder is a squatter:
 * the attempt fails (`JobIdTakenError`) and the refusal is counted.
 */
import type { ComponentLogger, Libp2p, Logger } from '@libp2p/interface'
import { abortable } from '../../../core/abortable.js'
import {
  createJob,
  type JobAuthority,
  type JobEnvelope,
  jobDigest,
  type SealedSecret,
  type Signer,
  type TrustPolicy,
} from '../../../protocols/jobs/index.js'
import type { LivenessService } from '../../../protocols/liveness/index.js'
import { isTerminal, type JobEvent, type SupervisorService } from '../../supervisor/index.js'
import type { DispatchAction } from '../scheduling/index.js'
import { payloadText } from '../scheduling/jobs.js'
import { DEFAULT_JOB_TTL_MS, DEFAULT_STEP_JOB_TIMEOUT_MS, DISPATCH_RETRY_MS } from './constants.js'
import { errorName, type SupervisorLink } from './supervisor-link.js'
import { SupervisorPool } from './supervisor-pool.js'

export interface TrackedJob {
  readonly jobId: string
  readonly run: string
  readonly step: string
  readonly attempt: number
  /** Capability the step runs on. */
  readonly capability: string
  readonly envelope: JobEnvelope
  /** `jobDigest` of the envelope whose result counts: ours, or the one adopted on a conflict. */
  digest: string
  /** The envelope adopted on a conflict (another trusted coordinator's), whose result counts. */
  followed?: JobEnvelope
  /** Where it was (last) sent. */
  supervisor: string | undefined
  readonly tried: Set<string>
  delivering: boolean
  /**
   * The supervisor answered which envelope it holds under this id (ours, or one adopted). Until
   * then a result bound to another envelope may be a job still to be adopted or refused, and is
   * left to that decision rather than failing the attempt.
   */
  settled: boolean
  cancelled: boolean
  /** Another coordinator may have sent it: look for it on the supervisors before sending it. */
  locate: boolean
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
  /** The trust policy in force. */
  policy: () => TrustPolicy
  /** A status change of a tracked job (terminal ones end its tracking first). */
  onJobEvent(job: TrackedJob, event: JobEvent, supervisor: string): void
  /** A supervisor's event stream broke. */
  onSupervisorDown(supervisor: string, err: Error): void
}

export { payloadText }

const CALL_TIMEOUT_MS = 15_000

/** Why a job found under a step's id was not adopted. */
export const ADOPTION_REFUSALS = ['other_job', 'untrusted_submitter'] as const
export type AdoptionRefusal = (typeof ADOPTION_REFUSALS)[number]

export interface AdoptionStats {
  /** Jobs of another trusted coordinator followed instead of ours. */
  adopted: number
  refused: Record<AdoptionRefusal, number>
}

export class JobTracker {
  readonly pool: SupervisorPool
  private readonly init: JobTrackerInit
  private readonly log: Logger
  private readonly jobs = new Map<string, TrackedJob>()
  private readonly shutdown = new AbortController()
  private readonly adoptions: AdoptionStats = {
    adopted: 0,
    refused: { other_job: 0, untrusted_submitter: 0 },
  }

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
      policy: init.policy,
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

  adoptionStats(): AdoptionStats {
    return { adopted: this.adoptions.adopted, refused: { ...this.adoptions.refused } }
  }

  jobsOf(run: string): string[] {
    return [...this.jobs.values()].filter((job) => job.run === run).map((job) => job.jobId)
  }

  /**
   * Signs the dispatch's job — carrying the run's `authority`, so executors check the submitter's
   * trust for the step, and the step's sealed `secrets` as they are — and sends it (in the
   * background). Returns the signed envelope, or undefined for a job already tracked (left as is).
   */
  send(
    run: string,
    action: DispatchAction,
    authority: JobAuthority | undefined,
    secrets?: Record<string, SealedSecret>,
  ): JobEnvelope | undefined {
    return this.track(run, action, authority, secrets, false)
  }

  /**
   * Follows an attempt that is already in flight (sent by this node before a restart, or by
   * another coordinator): finds the supervisor that has its job id and follows it there, or sends
   * the envelope returned here when no supervisor has it. Undefined for a job already tracked.
   */
  follow(
    run: string,
    action: DispatchAction,
    authority: JobAuthority | undefined,
    secrets?: Record<string, SealedSecret>,
  ): JobEnvelope | undefined {
    return this.track(run, action, authority, secrets, true)
  }

  private track(
    run: string,
    action: DispatchAction,
    authority: JobAuthority | undefined,
    secrets: Record<string, SealedSecret> | undefined,
    locate: boolean,
  ): JobEnvelope | undefined {
    if (this.jobs.has(action.jobId)) return undefined
    const timeoutMs = action.timeoutMs ?? DEFAULT_STEP_JOB_TIMEOUT_MS
    const envelope = createJob(
      {
        id: action.jobId,
        run,
        step: action.step,
        attempt: action.attempt,
        runner: action.runner,
        payload: payloadText(action.payload),
        input: action.input,
        ...(secrets === undefined ? {} : { secrets }),
        timeoutMs,
        ttlMs: Math.max(DEFAULT_JOB_TTL_MS, timeoutMs),
        ...(authority === undefined ? {} : { authority }),
      },
      this.init.signer,
    )
    const job: TrackedJob = {
      jobId: action.jobId,
      run,
      step: action.step,
      attempt: action.attempt,
      capability: action.runner,
      envelope,
      digest: jobDigest(envelope),
      supervisor: undefined,
      tried: new Set(),
      delivering: false,
      settled: false,
      cancelled: false,
      locate,
      retryTimer: undefined,
    }
    this.jobs.set(job.jobId, job)
    this.deliver(job)
    return envelope
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
    if (!job.settled && event.result !== undefined && event.result.job !== job.digest) {
      this.log(
        'a result of another job under %s arrived before its holder was known: left to adoption',
        job.jobId,
      )
      return
    }
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
    if (job.delivering || job.cancelled || this.shutdown.signal.aborted) return
    job.delivering = true
    this.deliverLoop(job)
      .catch((err: Error) => this.log.error('delivering %s: %s', job.jobId, err.message))
      .finally(() => {
        job.delivering = false
      })
  }

  private async deliverLoop(job: TrackedJob): Promise<void> {
    if (job.locate && (await this.locate(job))) return
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
      job.settled = false
      this.pool.assign(peer)
      try {
        await link.ready()
        const view = await link.submit(job.envelope, this.callSignal())
        job.settled = true
        if (job.cancelled) await link.cancel(job.jobId, this.callSignal())
        else if (isTerminal(view.status)) await this.fetch(job, link)
        return
      } catch (err) {
        const name = errorName(err)
        // Another job holds this step's id: follow it only if it is a trusted coordinator's.
        if (name === 'JobIdConflictError') return await this.adopt(job, link)
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

  /**
   * The supervisor holds another job under this step's id. Adopted (its result expected from then
   * on) only when it is this very attempt, for the same capability, submitted by a coordinator
   * this node trusts; anything else fails the attempt and is counted.
   */
  private async adopt(job: TrackedJob, link: SupervisorLink): Promise<void> {
    let holder: JobEnvelope | undefined
    try {
      holder = (await link.result(job.jobId, this.callSignal(), { includeJob: true })).job
    } catch (err) {
      this.log('job holding %s on %s: %s', job.jobId, link.peerId, (err as Error).message)
      return
    }
    if (this.mayFollow(job, holder, link.peerId)) return this.fetch(job, link)
  }

  /**
   * Whether `holder`, found under the job's id on `supervisor`, is one to follow: if so the job's
   * result is expected bound to it from now on; if not the attempt fails (`JobIdTakenError`).
   */
  private mayFollow(job: TrackedJob, holder: JobEnvelope | undefined, supervisor: string): boolean {
    const refusal = holder === undefined ? 'other_job' : this.adoptionRefusal(job, holder)
    if (holder !== undefined && refusal === undefined) {
      const digest = jobDigest(holder)
      if (digest !== job.digest) {
        this.adoptions.adopted++
        this.log('following job %s submitted by coordinator %s', job.jobId, holder.submitter)
      }
      job.digest = digest
      if (digest !== jobDigest(job.envelope)) job.followed = holder
      job.settled = true
      return true
    }
    this.adoptions.refused[refusal ?? 'other_job']++
    const message =
      refusal === 'untrusted_submitter'
        ? `supervisor ${supervisor} holds another job under id ${job.jobId}, submitted by ${holder?.submitter}, which this coordinator does not trust as a coordinator`
        : `supervisor ${supervisor} holds a different job (another step, attempt or capability) under id ${job.jobId}`
    this.log.error('refused to adopt %s: %s', job.jobId, message)
    this.onEvent(
      { jobId: job.jobId, status: 'failed', error: { name: 'JobIdTakenError', message, retryable: true } },
      supervisor,
    )
    return false
  }

  private adoptionRefusal(job: TrackedJob, holder: JobEnvelope): AdoptionRefusal | undefined {
    if (
      holder.id !== job.jobId ||
      holder.run !== job.run ||
      holder.step !== job.step ||
      holder.attempt !== job.attempt ||
      holder.runner !== job.capability
    ) {
      return 'other_job'
    }
    return this.init.policy().admits(holder.submitter, { role: 'coordinator' })
      ? undefined
      : 'untrusted_submitter'
  }

  /**
   * Asks every known supervisor for the job; true when one has it — a job this coordinator may
   * follow (followed there from now on), or only others' (the attempt then fails as taken).
   * Supervisors that do not answer are not waited for: the job is then sent, at worst a second
   * execution, which beats a step that never ends.
   */
  private async locate(job: TrackedJob): Promise<boolean> {
    job.locate = false
    const candidates = this.pool.candidates()
    const found = await Promise.all(
      candidates.map(async (peer) => {
        const link = this.pool.link(peer)
        try {
          // Events must flow before the status is read, or a completion in between is missed.
          const signal = this.callSignal()
          await abortable(link.ready(), signal)
          return { peer, link, view: await link.result(job.jobId, signal, { includeJob: true }) }
        } catch (err) {
          if (errorName(err) !== 'JobNotFoundError')
            this.log('looking for %s on %s: %s', job.jobId, peer, (err as Error).message)
          return undefined
        }
      }),
    )
    const hits = found.filter((f) => f !== undefined)
    if (hits.length === 0 || job.cancelled || this.jobs.get(job.jobId) !== job) return false
    const followable = hits.find(
      (h) => h.view.job !== undefined && this.adoptionRefusal(job, h.view.job) === undefined,
    )
    const hit = followable ?? (hits[0] as (typeof hits)[number])
    if (!this.mayFollow(job, hit.view.job, hit.peer)) return true
    this.log('following %s on %s', job.jobId, hit.peer)
    job.supervisor = hit.peer
    this.pool.assign(hit.peer)
    const { job: _envelope, ...view } = hit.view
    if (isTerminal(view.status)) this.onEvent(view, hit.peer)
    return true
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
