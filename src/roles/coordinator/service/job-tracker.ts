/**
 * The step jobs this coordinator has in flight: it builds and signs each job (the coordinator is
 * its submitter; the id is the step's deterministic `run/step/attempt`), sends it to a supervisor,
 * and hands every status change of a tracked job to the engine.
 *
 * A supervisor that acknowledged a job holds it durably: it follows it to the end, and after a
 * restart it resumes it. So a job stays with its supervisor when that supervisor's event stream
 * breaks or a call to it fails: it is followed there by polling (`reconcile`), re-sent when the
 * supervisor answers that it does not have it, and sent to another supervisor only once its
 * supervisor has been unreachable for `supervisorLossMs` — then the copy left behind is cancelled
 * as soon as that supervisor answers again, and nothing it reports about the job is believed.
 * Moving a job sooner makes two recoveries of one fault: the coordinator's copy elsewhere and the
 * supervisor's own resumption (the duplicate executions the nemesis suite found).
 *
 * A job this coordinator takes over (`follow`) is followed on the supervisor the run recorded it
 * placed on (`job_placed`); without such a record it is looked for on every known supervisor, and
 * sent only once every one of them answered that it does not have it (or after
 * `supervisorLossMs` without an answer from all), so a takeover does not run an attempt twice.
 *
 * A job found under the step's id — on a conflict, by that look-up, or on the supervisor the run
 * recorded — is followed only when it is the same attempt of the same step, for the same
 * capability, and was submitted by a coordinator this node trusts (another coordinator took the
 * run over, or this one restarted); the result expected is then the one bound to that job's
 * envelope. Any other holder is a squatter: the attempt fails (`JobIdTakenError`) and the refusal
 * is counted.
 */
import type { ComponentLogger, Libp2p, Logger } from '@libp2p/interface'
import { type Span, SpanKind } from '@opentelemetry/api'
import { abortable } from '../../../core/abortable.js'
import { boundedCall } from '../../../core/bounded-call.js'
import {
  ATTR_HORUS_PEER_ID,
  ATTR_HORUS_STEP_FOLLOWED,
  endSpan,
  jobOutcome,
  type NodeTracing,
} from '../../../node/telemetry/index.js'
import {
  authorityRunMismatch,
  createJob,
  DEFAULT_MAX_JOB_TTL_MS,
  envelopeTag,
  type JobAuthority,
  type JobEnvelope,
  jobDigest,
  type SealedSecret,
  type Signer,
  signatureChainProblem,
  type TrustPolicy,
  verifyAuthoritySignature,
} from '../../../protocols/jobs/index.js'
import type { LivenessService } from '../../../protocols/liveness/index.js'
import { maybeHandled, RemoteError } from '../../../protocols/rpc/index.js'
import type { JsonObject } from '../../../protocols/state/json-value.js'
import { isTerminal, type JobEvent, type SupervisorService } from '../../supervisor/index.js'
import type { DispatchAction } from '../scheduling/index.js'
import { payloadText } from '../scheduling/jobs.js'
import { DEFAULT_JOB_TTL_MS, DEFAULT_STEP_JOB_TIMEOUT_MS, DISPATCH_RETRY_MS } from './constants.js'
import { errorName, type SupervisorLink } from './supervisor-link.js'
import { SupervisorPool } from './supervisor-pool.js'

/** How a supervisor's JobRejectedError names the `replayed` reason (REJECT_REASONS are stable). */
const REPLAYED = /^job rejected \(replayed\)/

/** How a job another coordinator may have sent is looked for before it is sent (`TrackedJob.locate`). */
export type LocateMode = 'wait' | 'answer'

export interface TrackedJob {
  readonly jobId: string
  readonly run: string
  readonly step: string
  readonly attempt: number
  /** Capability the step runs on. */
  readonly capability: string
  /** The signed job; undefined while its input is being prepared (large values stored as blobs). */
  envelope: JobEnvelope | undefined
  /**
   * `jobDigest` of the envelope whose result counts: ours (once signed), or the one adopted on a
   * conflict.
   */
  digest: string | undefined
  /** The envelope adopted on a conflict (another trusted coordinator's), whose result counts. */
  followed?: JobEnvelope
  /** The supervisor that holds it (or may: a send whose answer was lost). */
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
  /**
   * Another coordinator may have sent it: look for it on the supervisors before sending it —
   * `'wait'`ing up to `supervisorLossMs` for every one to answer (an attempt in flight: a silent
   * supervisor may hold it), or asking only those that `'answer'` (a new attempt of a run taken
   * over: its id is reserved where they answer; a silent one cannot be reserved anyway).
   */
  locate: false | LocateMode
  /** Since when the look-up has been waiting for supervisors that did not answer. */
  locatingSince: number | undefined
  /** Supervisors that said both "taken" and "not found" for its id once already. */
  idHeldBy?: Set<string>
  retryTimer: NodeJS.Timeout | undefined
  /** The attempt's span, while tracing is on and the attempt is tracked here. */
  span?: Span | undefined
}

export interface JobTrackerInit {
  libp2p: Libp2p
  liveness: Pick<LivenessService, 'alive'>
  logger: ComponentLogger
  self: string
  signer: Signer
  localSupervisor: SupervisorService | undefined
  configuredSupervisors: readonly string[]
  /** How long a supervisor holding jobs may stay unreachable before they are sent elsewhere. */
  supervisorLossMs: number
  /**
   * The input as it travels: large values become blob references (see blob-keeper.ts). Without
   * it, the input goes as it is.
   */
  prepareInput?(run: string, input: JsonObject): Promise<JsonObject>
  /** A job was signed (its envelope is what its result will answer). */
  onSigned?(job: TrackedJob, envelope: JobEnvelope): void
  /** The trust policy in force. */
  policy: () => TrustPolicy
  /** A status change of a tracked job (terminal ones end its tracking first). */
  onJobEvent(job: TrackedJob, event: JobEvent, supervisor: string): void
  /** A supervisor acknowledged a job (or a look-up found it there): it holds it from now on. */
  onPlaced(job: TrackedJob, supervisor: string): void
  /** A supervisor's event stream broke. */
  onSupervisorDown(supervisor: string, err: Error): void
  /** The node's tracing, when on: a span per attempt tracked here. */
  tracing?: NodeTracing | undefined
}

export { payloadText }

const CALL_TIMEOUT_MS = 15_000

/** How an attempt cancelled here ends (its span's outcome). */
const CANCELLED = { status: 'cancelled' } as const

/** Why a job found under a step's id was not adopted. */
export const ADOPTION_REFUSALS = ['other_job', 'untrusted_submitter', 'forged'] as const
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
  /** This coordinator's key (hex): the submitter of its jobs. */
  private readonly selfKey: string
  /** Supervisors not heard from since a call or their event stream failed, and since when. */
  private readonly unreachableSince = new Map<string, number>()
  /** Copies left on supervisors jobs were moved away from: supervisor → job id → its expiry. */
  private readonly leftBehind = new Map<string, Map<string, number>>()
  /** Envelopes found on supervisors whose signatures verified: each is judged several times. */
  private readonly authenticHolders = new WeakSet<JobEnvelope>()
  private readonly adoptions: AdoptionStats = {
    adopted: 0,
    refused: { other_job: 0, untrusted_submitter: 0, forged: 0 },
  }

  constructor(init: JobTrackerInit) {
    this.init = init
    this.selfKey = Buffer.from(init.signer.publicKey).toString('hex')
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
   * background, once its input is prepared; `onSigned` hears of the envelope). A job already
   * tracked is left as is.
   */
  send(
    run: string,
    action: DispatchAction,
    authority: JobAuthority | undefined,
    secrets?: Record<string, SealedSecret>,
  ): void {
    this.track(run, action, authority, secrets, { locate: false })
  }

  /**
   * Follows an attempt that is already in flight (sent by this node before a restart, or by
   * another coordinator): on the supervisor `placedOn()` names (the run's record of where it was
   * placed), else on whichever supervisor has its job id; the envelope (`onSigned` hears of it) is
   * sent only when no supervisor has it. A job already tracked is left as is.
   */
  follow(
    run: string,
    action: DispatchAction,
    authority: JobAuthority | undefined,
    secrets: Record<string, SealedSecret> | undefined,
    placedOn: () => string | undefined,
    mode: LocateMode = 'wait',
  ): void {
    this.track(run, action, authority, secrets, { locate: mode, placedOn })
  }

  private track(
    run: string,
    action: DispatchAction,
    authority: JobAuthority | undefined,
    secrets: Record<string, SealedSecret> | undefined,
    how: { locate: false | LocateMode; placedOn?: () => string | undefined },
  ): void {
    if (this.jobs.has(action.jobId)) return
    const job: TrackedJob = {
      jobId: action.jobId,
      run,
      step: action.step,
      attempt: action.attempt,
      capability: action.runner,
      envelope: undefined,
      digest: undefined,
      supervisor: undefined,
      tried: new Set(),
      delivering: false,
      settled: false,
      cancelled: false,
      locate: how.locate,
      locatingSince: undefined,
      retryTimer: undefined,
    }
    this.jobs.set(job.jobId, job)
    job.span = this.init.tracing?.startJobSpan(
      `step ${action.step}`,
      SpanKind.CLIENT,
      { id: job.jobId, run, step: action.step, attempt: action.attempt, runner: action.runner },
      {},
      how.locate === 'wait' ? { [ATTR_HORUS_STEP_FOLLOWED]: true } : {},
    )
    this.prepare(job, action, authority, secrets).then(
      () => this.dispatch(job, how.placedOn),
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

  /**
   * Sends a signed job, or follows it on the supervisor the run recorded it was placed on — a
   * record believed only for a peer the policy still trusts as a supervisor.
   */
  private dispatch(job: TrackedJob, placedOn: (() => string | undefined) | undefined): void {
    if (this.jobs.get(job.jobId) !== job || job.envelope === undefined) return
    const placed = placedOn?.()
    if (placed !== undefined && this.init.policy().admitsPeer(placed, { role: 'supervisor' })) {
      // Its supervisor holds it: follow it there, whatever that supervisor's state now.
      this.log('following %s on supervisor %s, where it was placed', job.jobId, placed)
      job.locate = false
      this.assign(job, placed)
      this.check(job, placed)
      return
    }
    this.log('%s %s', job.locate ? 'following' : 'sending', envelopeTag(job.envelope))
    this.deliver(job)
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
        // Valid for as long as the step may run, so that a redispatch while it runs is accepted —
        // but never longer than verifiers accept by default (24 h): an envelope beyond that is
        // refused by every supervisor and runner, and a step with a longer timeout never ran.
        ttlMs: Math.min(Math.max(DEFAULT_JOB_TTL_MS, timeoutMs), DEFAULT_MAX_JOB_TTL_MS),
        ...(authority === undefined ? {} : { authority }),
      },
      this.init.signer,
    )
    job.envelope = envelope
    job.digest = jobDigest(envelope)
    this.init.onSigned?.(job, envelope)
  }

  /** Stops tracking a job and cancels it on its supervisor. */
  cancel(jobId: string): void {
    const job = this.forget(jobId, CANCELLED)
    if (job === undefined) return
    job.cancelled = true
    const supervisor = job.supervisor
    if (supervisor === undefined) return
    this.call((signal) => this.pool.link(supervisor).cancel(jobId, signal)).catch((err: Error) =>
      this.log('cancel of %s on %s failed: %s', jobId, supervisor, err.message),
    )
  }

  /**
   * Stops tracking a job without cancelling it (another coordinator follows it now); its span ends
   * with `ended`, the attempt's end, when it is known.
   */
  forget(jobId: string, ended?: Pick<JobEvent, 'status' | 'error' | 'result'>): TrackedJob | undefined {
    const job = this.jobs.get(jobId)
    if (job === undefined) return undefined
    this.jobs.delete(jobId)
    if (job.span !== undefined) {
      endSpan(
        job.span,
        ended === undefined ? {} : jobOutcome(ended.status, ended.error ?? ended.result?.error),
      )
      job.span = undefined
    }
    clearTimeout(job.retryTimer)
    if (job.supervisor !== undefined) this.pool.release(job.supervisor)
    return job
  }

  forgetRun(run: string): void {
    for (const jobId of this.jobsOf(run)) this.forget(jobId)
  }

  /** Log lines the job printed, from the supervisor that ran it. */
  async logs(supervisor: string, jobId: string): Promise<string[]> {
    return this.call((signal) => this.pool.link(supervisor).logs(jobId, signal))
  }

  /**
   * Asks each job's supervisor about it (a completion may have been missed, the supervisor may
   * have lost it or be gone), sends jobs that have none, and cancels copies left behind.
   */
  reconcile(): void {
    this.cancelLeftBehind()
    for (const job of this.jobs.values()) {
      if (job.delivering || job.retryTimer !== undefined) continue
      const supervisor = job.supervisor
      if (supervisor === undefined) this.deliver(job)
      else this.check(job, supervisor)
    }
  }

  async stop(): Promise<void> {
    this.shutdown.abort()
    for (const job of this.jobs.values()) clearTimeout(job.retryTimer)
    this.jobs.clear()
    await this.pool.close()
  }

  /** One call to a supervisor, bounded by CALL_TIMEOUT_MS and aborted on shutdown. */
  private call<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return boundedCall(this.shutdown.signal, CALL_TIMEOUT_MS, fn)
  }

  private onEvent(event: JobEvent, supervisor: string): void {
    this.reachable(supervisor)
    const job = this.jobs.get(event.jobId)
    // Only the copy this coordinator follows counts: a copy left on a supervisor the job was moved
    // away from (and is being cancelled there) says nothing about the attempt.
    if (job === undefined || job.supervisor !== supervisor) return
    if (!job.settled && event.result !== undefined && event.result.job !== job.digest) {
      this.log(
        'a result of another job under %s arrived before its holder was known: left to adoption',
        job.jobId,
      )
      return
    }
    if (isTerminal(event.status)) this.forget(job.jobId, event)
    this.init.onJobEvent(job, event, supervisor)
  }

  /**
   * A supervisor's event stream ended. Its jobs stay with it — it holds them and resumes them
   * after a restart — and are followed by polling until it answers again (`check`).
   */
  private onDown(supervisor: string, err: Error): void {
    if (this.shutdown.signal.aborted) return
    this.pool.markFailed(supervisor)
    this.init.onSupervisorDown(supervisor, err)
    if (this.unreachableSince.has(supervisor)) return
    this.unreachableSince.set(supervisor, Date.now())
    const held = [...this.jobs.values()].filter((job) => job.supervisor === supervisor)
    this.log(
      'event stream of supervisor %s ended (%s): its %d job(s) stay with it and are followed by polling; they go elsewhere only if it stays unreachable for %d ms',
      supervisor,
      err.message,
      held.length,
      this.init.supervisorLossMs,
    )
    for (const job of held) this.check(job, supervisor)
  }

  private reachable(supervisor: string): void {
    if (this.unreachableSince.delete(supervisor)) this.log('supervisor %s answers again', supervisor)
  }

  private unreachable(supervisor: string): number {
    const since = this.unreachableSince.get(supervisor)
    if (since !== undefined) return Date.now() - since
    this.unreachableSince.set(supervisor, Date.now())
    return 0
  }

  /**
   * Asks the job's supervisor for it: a terminal status is reported, a supervisor without it gets
   * it again, and one that does not answer keeps it until it has been unreachable for
   * `supervisorLossMs`; then the job goes to another supervisor.
   */
  private check(job: TrackedJob, supervisor: string): void {
    // Until it is known which envelope the supervisor holds under this id (a job followed where the
    // run recorded it, sent by another coordinator), it is asked for that envelope too.
    const settle = !job.settled
    this.call((signal) => this.pool.link(supervisor).result(job.jobId, signal, { includeJob: settle }))
      .then(({ job: holder, ...view }) => {
        this.reachable(supervisor)
        if (job.supervisor !== supervisor || this.jobs.get(job.jobId) !== job) return
        if (settle && !job.settled && !this.mayFollow(job, holder, supervisor)) return
        if (isTerminal(view.status)) this.onEvent(view, supervisor)
      })
      .catch((err: unknown) => {
        if (job.supervisor !== supervisor || this.jobs.get(job.jobId) !== job) return
        if (errorName(err) === 'JobNotFoundError') {
          this.reachable(supervisor)
          // It lost the job (a datastore it could not read, a crash before the record was written).
          this.log('%s: supervisor %s does not have it (any more): sending it again', job.jobId, supervisor)
          this.unassign(job)
          this.deliver(job)
          return
        }
        // An answer that is not the job's status (busy): it is there, ask again later. One still
        // starting (or stopping) counts as unreachable: a supervisor stuck loading its jobs, or
        // crash-looping, must not keep them for ever.
        if (err instanceof RemoteError && errorName(err) !== 'SupervisorNotRunningError') {
          this.reachable(supervisor)
          return
        }
        const unreachableMs = this.unreachable(supervisor)
        if (unreachableMs < this.init.supervisorLossMs) return
        this.log(
          '%s: supervisor %s unreachable for %d ms: sending the job elsewhere; its copy there is cancelled once it answers again',
          job.jobId,
          supervisor,
          unreachableMs,
        )
        this.leaveBehind(job, supervisor)
        this.unassign(job)
        job.tried.add(supervisor)
        this.deliver(job)
      })
  }

  private assign(job: TrackedJob, supervisor: string): void {
    job.span?.setAttribute(ATTR_HORUS_PEER_ID, supervisor)
    job.supervisor = supervisor
    this.pool.assign(supervisor)
  }

  private unassign(job: TrackedJob): void {
    if (job.supervisor !== undefined) this.pool.release(job.supervisor)
    job.supervisor = undefined
  }

  private leaveBehind(job: TrackedJob, supervisor: string): void {
    // Only a signed job was ever sent: one still being prepared left nothing behind.
    if (job.envelope === undefined) return
    const jobs = this.leftBehind.get(supervisor) ?? new Map<string, number>()
    jobs.set(job.jobId, job.envelope.expiresAt)
    this.leftBehind.set(supervisor, jobs)
  }

  /** Cancels the copies left on supervisors that are heard from again (until their jobs expire). */
  private cancelLeftBehind(): void {
    const now = Date.now()
    const known = new Set(this.pool.candidates())
    for (const [supervisor, jobs] of this.leftBehind) {
      for (const [jobId, expiresAt] of jobs) {
        // Followed there again (moved back), or past its expiry: nothing to cancel.
        if (expiresAt <= now || this.jobs.get(jobId)?.supervisor === supervisor) jobs.delete(jobId)
      }
      if (jobs.size === 0) {
        this.leftBehind.delete(supervisor)
        continue
      }
      if (!known.has(supervisor)) continue
      for (const jobId of jobs.keys()) {
        this.call((signal) => this.pool.link(supervisor).cancel(jobId, signal, { release: true })).then(
          () => {
            jobs.delete(jobId)
            this.log('cancelled the copy of %s left on supervisor %s', jobId, supervisor)
          },
          (err: unknown) => {
            if (errorName(err) === 'JobNotFoundError') jobs.delete(jobId)
          },
        )
      }
    }
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
    const envelope = job.envelope
    if (envelope === undefined) return
    if (job.locate) {
      const found = await this.locate(job)
      if (found === 'found') return
      if (found === 'unknown') {
        this.retryLater(job)
        return
      }
    }
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
      this.log(
        'sending %s to supervisor %s (tried before: %s)',
        envelopeTag(envelope),
        peer,
        [...job.tried].join(', ') || 'none',
      )
      this.assign(job, peer)
      // From now on the result must answer this envelope: one followed before (another
      // coordinator's, on a supervisor that has since lost it) is no longer what runs.
      job.digest = jobDigest(envelope)
      delete job.followed
      job.settled = false
      try {
        await link.ready()
        const traceparent = job.span === undefined ? undefined : this.init.tracing?.traceparent(job.span)
        const view = await this.call((signal) => link.submit(envelope, signal, traceparent))
        job.settled = true
        this.reachable(peer)
        this.init.onPlaced(job, peer)
        if (job.cancelled) await this.call((signal) => link.cancel(job.jobId, signal))
        else if (isTerminal(view.status)) await this.fetch(job, link)
        return
      } catch (err) {
        const name = errorName(err)
        // Another job holds this step's id: follow it only if it is a trusted coordinator's.
        if (name === 'JobIdConflictError') return await this.adopt(job, link)
        if (name === 'JobRejectedError' || name === 'InvalidJobError') {
          // `replayed`: the envelope was already used on that supervisor's node (its runner took it
          // from the supervisor this coordinator lost) and nothing there holds its execution any
          // more. Whether it ran is unknown: the step's retry policy decides on a new attempt.
          const replayed = REPLAYED.test((err as Error).message)
          this.onEvent(
            {
              jobId: job.jobId,
              status: 'failed',
              error: replayed
                ? {
                    name: 'JobOutcomeUnknownError',
                    message: `supervisor ${peer} cannot take this attempt again: ${(err as Error).message}`,
                    retryable: true,
                  }
                : { name, message: (err as Error).message, retryable: false },
            },
            peer,
          )
          return
        }
        if (maybeHandled(err) && !job.cancelled) {
          // The supervisor may hold it now (only the answer was lost): it is asked before the job
          // goes anywhere else, or a second supervisor would run it too.
          this.log(
            'sending %s to %s: %s; asking it before sending it elsewhere',
            job.jobId,
            peer,
            (err as Error).message,
          )
          this.unreachable(peer)
          return
        }
        this.log('sending %s to %s failed: %s', job.jobId, peer, (err as Error).message)
        if (job.supervisor === peer) this.unassign(job)
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
      holder = (await this.call((signal) => link.result(job.jobId, signal, { includeJob: true }))).job
    } catch (err) {
      this.log('job holding %s on %s: %s', job.jobId, link.peerId, (err as Error).message)
      if (
        errorName(err) === 'JobNotFoundError' &&
        this.jobs.get(job.jobId) === job &&
        job.supervisor === link.peerId
      ) {
        // No job there: only its id, held for a coordinator that looked for it while taking the
        // step over — and this node owns the run again since (the lease went back to it). Looking
        // the job up again holds the id for this node instead (the latest looker wins), and it is
        // sent once no supervisor has it. Sending it as is would be refused for ever. A supervisor
        // that says both again is lying (or stuck): it is passed over, or the step would loop.
        job.idHeldBy ??= new Set()
        if (job.idHeldBy.has(link.peerId)) job.tried.add(link.peerId)
        job.idHeldBy.add(link.peerId)
        this.unassign(job)
        job.locate = 'wait'
        job.locatingSince = undefined
        this.retryLater(job)
      }
      return
    }
    if (!this.mayFollow(job, holder, link.peerId)) return
    this.init.onPlaced(job, link.peerId)
    return this.fetch(job, link)
  }

  /**
   * Whether `holder`, found under the job's id on `supervisor`, is one to follow: if so the job's
   * result is expected bound to it from now on; if not the attempt fails (`JobIdTakenError`).
   */
  private mayFollow(job: TrackedJob, holder: JobEnvelope | undefined, supervisor: string): boolean {
    const refusal = this.refusalOf(job, holder)
    if (holder !== undefined && refusal === undefined) {
      const digest = jobDigest(holder)
      if (digest !== job.digest) {
        this.adoptions.adopted++
        this.log('following job %s submitted by coordinator %s', job.jobId, holder.submitter)
      }
      job.digest = digest
      // A job not signed yet was never sent: the holder cannot be ours, so its envelope is the one
      // whose result counts (and the run's log needs its record).
      if (job.envelope === undefined || digest !== jobDigest(job.envelope)) job.followed = holder
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

  /** Why `holder`, found under the job's id, is not to be followed; undefined when it is. */
  private refusalOf(job: TrackedJob, holder: JobEnvelope | undefined): AdoptionRefusal | undefined {
    return holder === undefined ? 'other_job' : this.adoptionRefusal(job, holder)
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
    if (!this.init.policy().admits(holder.submitter, { role: 'coordinator' })) return 'untrusted_submitter'
    return this.authentic(holder) ? undefined : 'forged'
  }

  /**
   * Whether `holder` was signed by the coordinator it names, under the authority of this run: a
   * supervisor answering a look-up could otherwise make up an envelope naming any trusted
   * coordinator, and capture (then stall) a step it was never sent.
   */
  private authentic(holder: JobEnvelope): boolean {
    if (this.authenticHolders.has(holder)) return true
    if (holder.signatures[0]?.key !== holder.submitter) return false
    const { authority, run } = holder
    const genuine =
      signatureChainProblem(holder) === undefined &&
      (run === undefined ||
        (authority !== undefined &&
          authorityRunMismatch(authority, run) === undefined &&
          verifyAuthoritySignature(authority)))
    if (genuine) this.authenticHolders.add(holder)
    return genuine
  }

  /**
   * Asks every known supervisor for the job: 'found' (it is followed there from now on), 'absent'
   * (every one answered that it does not have it, or none answered for `supervisorLossMs`: send
   * it) or 'unknown' (one that did not answer may have it: ask again later).
   */
  private async locate(job: TrackedJob): Promise<'found' | 'absent' | 'unknown'> {
    const candidates = this.pool.candidates()
    const found = await Promise.all(
      candidates.map(async (peer) => {
        const link = this.pool.link(peer)
        try {
          const view = await this.call(async (signal) => {
            // Events must flow before the status is read, or a completion in between is missed.
            await abortable(link.ready(), signal)
            // Where it is not, its id is held for this coordinator: a late envelope of the previous
            // owner (sent before it was cut off, delivered after) is refused there.
            return link.result(job.jobId, signal, { includeJob: true, reserveFor: this.selfKey })
          })
          return { peer, link, view }
        } catch (err) {
          if (errorName(err) === 'JobNotFoundError') return 'absent' as const
          this.log('looking for %s on %s: %s', job.jobId, peer, (err as Error).message)
          return 'unknown' as const
        }
      }),
    )
    if (job.cancelled || this.jobs.get(job.jobId) !== job) return 'found'
    const answered = found
      .filter((f) => typeof f === 'object')
      .map((hit) => ({ ...hit, refusal: this.refusalOf(job, hit.view.job) }))
    // An envelope no trusted coordinator signed is no job at all: the supervisor that answered it
    // is passed over, whatever the mode, and cannot fail the attempt either.
    for (const hit of answered) {
      if (hit.refusal !== 'forged') continue
      job.tried.add(hit.peer)
      this.adoptions.refused.forged++
      this.log.error(
        '%s: supervisor %s answered with an envelope nobody signed: passed over',
        job.jobId,
        hit.peer,
      )
    }
    let hits = answered.filter((hit) => hit.refusal !== 'forged')
    if (job.locate === 'answer' && hits.length > 0 && hits.every((h) => h.refusal !== undefined)) {
      // A new attempt: a supervisor holding something else under its id (a squatter) is passed
      // over, not allowed to fail the attempt — it would veto every step of a run taken over.
      for (const hit of hits) {
        job.tried.add(hit.peer)
        this.adoptions.refused[hit.refusal ?? 'other_job']++
        this.log.error(
          '%s: supervisor %s holds another job under its id: sending it elsewhere',
          job.jobId,
          hit.peer,
        )
      }
      hits = []
    }
    if (hits.length > 0) {
      job.locate = false
      const followable = hits.find((h) => h.refusal === undefined)
      const hit = followable ?? (hits[0] as (typeof hits)[number])
      this.assign(job, hit.peer)
      if (!this.mayFollow(job, hit.view.job, hit.peer)) return 'found'
      this.log('following %s on %s', job.jobId, hit.peer)
      this.init.onPlaced(job, hit.peer)
      const { job: _envelope, ...view } = hit.view
      if (isTerminal(view.status)) this.onEvent(view, hit.peer)
      return 'found'
    }
    const silent = found.filter((f) => f === 'unknown').length
    if (job.locate === 'wait' && (silent > 0 || candidates.length === 0)) {
      job.locatingSince ??= Date.now()
      const waited = Date.now() - job.locatingSince
      if (waited < this.init.supervisorLossMs) return 'unknown'
      this.log('%s: %d supervisor(s) did not answer for %d ms: sending it', job.jobId, silent, waited)
    }
    job.locate = false
    return 'absent'
  }

  private async fetch(job: TrackedJob, link: SupervisorLink): Promise<void> {
    try {
      const view = await this.call((signal) => link.result(job.jobId, signal))
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
