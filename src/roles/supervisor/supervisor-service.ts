/**
 * The supervisor: admits signed jobs (verify, persist, acknowledge), routes each to a runner of
 * its capability, follows it to a terminal status, and keeps the record. See index.ts for the
 * public surface and CLAIMS.md for the gossip claim rule.
 */
import { setMaxListeners } from 'node:events'
import type { ComponentLogger, Logger, Startable } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { type Span, type SpanContext, SpanKind } from '@opentelemetry/api'
import type { Datastore } from 'interface-datastore'
import { TypedEventEmitter } from 'main-event'
import { boundedCall } from '../../core/bounded-call.js'
import { CallerAuthority } from '../../node/caller-authority.js'
import type { MeshLibp2p } from '../../node/node.js'
import {
  ATTR_HORUS_JOB_REPLAYED,
  ATTR_HORUS_JOB_SOURCE,
  ATTR_HORUS_PEER_ID,
  endSpan,
  errorOutcome,
  jobOutcome,
  jobRefOf,
  type NodeTracing,
  rpcAttributes,
} from '../../node/telemetry/index.js'
import type { NodeTrust } from '../../node/trust.js'
import {
  commonRecipients,
  envelopeTag,
  type JobEnvelope,
  type JobFailure,
  JobRejectedError,
  type JobResult,
  jobDigest,
  peerIdFromPublicKeyHex,
  publicKeyHexOfPeer,
  type ResultRejectReason,
  resultRejectionCounts,
  runnerRecipients,
  type SecretRecipient,
  verifyResult,
} from '../../protocols/jobs/index.js'
import type { LivenessService, LivePeer } from '../../protocols/liveness/index.js'
import type { Caller, MethodRegistry } from '../../protocols/rpc/index.js'
import { CallTimeoutError, TooManyRequestsError } from '../../protocols/rpc/index.js'
import { RunnerBusyError, InvalidJobError as RunnerInvalidJobError } from '../runner/execution/errors.js'
import type { ExecuteResponse, RunnerJobEvent } from '../runner/service/wire.js'
import { mayAccessJob } from './access.js'
import { Cancellation } from './cancellation.js'
import {
  DEFAULT_IN_FLIGHT_PER_SLOT,
  DEFAULT_MAX_DISPATCHES,
  DEFAULT_MAX_IN_FLIGHT_PER_RUNNER,
  DEFAULT_RESUME_GRACE_MS,
  DEFAULT_RETENTION_MS,
  DEFAULT_TICK_MS,
  DHT_LOOKUP_TIMEOUT_MS,
  DISPATCH_TIMEOUT_GRACE_MS,
  MAX_LOG_LINES,
  MAX_RESERVATIONS,
  pruneIntervalMs,
  RESERVATION_MS,
  RUNNER_PING_TIMEOUT_MS,
  STARTUP_RUNNER_WAIT_MS,
} from './constants.js'
import { JobIdConflictError, JobNotFoundError, NoRunnerError, SupervisorNotRunningError } from './errors.js'
import { GossipClaims } from './gossip-claims.js'
import {
  eventOf,
  isTerminal,
  type JobEvent,
  type JobRecord,
  type JobResultView,
  type JobSource,
  resultView,
  type SupervisorJobStatus,
} from './job-record.js'
import { JobStore } from './job-store.js'
import { supervisorMethods, supervisorSubscriptions } from './methods.js'
import type { CancelOptions, LocalRunner } from './runner-link.js'
import { RunnerPool as Pool, type RunnerPool, type RunnerView } from './runner-pool.js'

/** The parts of a node the supervisor uses. */
export interface SupervisorComponents {
  peerId: string
  libp2p: MeshLibp2p
  datastore: Datastore
  logger: ComponentLogger
  liveness: LivenessService
  trust: Pick<NodeTrust, 'verifier' | 'policy' | 'replayCache'>
  rpc: MethodRegistry
  /** The node's tracing; undefined when off. */
  tracing?: NodeTracing | undefined
}

export interface SupervisorOptions {
  /** Dispatches in flight per unit of a runner's capacity. @default DEFAULT_IN_FLIGHT_PER_SLOT (2) */
  inFlightPerSlot?: number
  /** @default DEFAULT_MAX_IN_FLIGHT_PER_RUNNER (48) */
  maxInFlightPerRunner?: number
  /** Different runners a job may be handed to before it fails. @default DEFAULT_MAX_DISPATCHES (5) */
  maxDispatches?: number
  /** @default DEFAULT_RESUME_GRACE_MS (5 s) */
  resumeGraceMs?: number
  /** Finished jobs older than this are dropped, at start and then every `pruneIntervalMs(retentionMs)`. @default DEFAULT_RETENTION_MS (24 h) */
  retentionMs?: number
  /** @default DEFAULT_TICK_MS (1 s) */
  tickMs?: number
  /** Claim jobs announced on gossip (see CLAIMS.md). @default true */
  gossip?: boolean
  /** Job topics joined from the start; topics of capabilities live runners announce are joined too. @default [] */
  gossipCapabilities?: readonly string[]
  /** A runner in the same node, called directly. */
  local?: LocalRunner
}

export interface SupervisorStats {
  /** Runner results recorded, and refused by reason (the job failed as `InvalidResult`). */
  results: { accepted: number; rejected: Record<ResultRejectReason, number> }
  /** Jobs failed because every runner serving their capability refused them. */
  refusedJobs: number
  /** DHT providers skipped because their key is not trusted to run the capability. */
  untrustedProviders: number
  /** Executions runners sent for jobs they were not handed in a batch, or no longer waited for: dropped. */
  strayExecutions: number
}

export interface SupervisorEvents {
  /** Every status change of every job. */
  'job:status': CustomEvent<JobEvent>
  /** A job reached its terminal status and that status is on disk (what `job_outcomes` sends). */
  'job:outcome': CustomEvent<JobOutcome>
}

/** A terminal job, persisted: its `get_job_result` answer and who submitted it. */
export interface JobOutcome {
  /** Hex key of the job's submitter: only it is sent the outcome on `supervisor.job_outcomes`. */
  submitter: string
  view: JobResultView
}

interface Dispatch {
  runner: string
  cancel: Cancellation
  /** Set when the dispatch was abandoned on purpose: its outcome must not touch the record. */
  abandoned?: 'lost' | 'cancelled'
  settled: Promise<void>
}

export class SupervisorService extends TypedEventEmitter<SupervisorEvents> implements Startable {
  private readonly components: SupervisorComponents
  private readonly log: Logger
  private readonly store: JobStore
  private readonly pool: RunnerPool
  private readonly options: Required<Omit<SupervisorOptions, 'local' | 'gossip' | 'gossipCapabilities'>>
  private readonly claims: GossipClaims | undefined
  private readonly local: SupervisorOptions['local']
  private readonly queues = new Map<string, Set<string>>()
  private readonly reasons = new Map<string, string>()
  private readonly dispatches = new Map<string, Dispatch>()
  private readonly holds = new Map<string, { runner: string; until: number }>()
  private readonly accepting = new Map<string, Promise<JobRecord>>()
  /**
   * Step job ids a coordinator taking a step over looked for here and did not find: held for that
   * coordinator's key until `until`. An envelope of the same id from another submitter — the
   * previous owner's, sent before the takeover and delivered late (a cut-off TCP connection
   * retransmits when the cable is back) — is refused, or the step would run here as well as
   * wherever the new owner sent it.
   */
  private readonly reservations = new Map<string, { key: string; until: number }>()
  private readonly waiters = new Map<string, Set<() => void>>()
  /** Peer IDs of the runners a queued job's secrets were sealed to (jobs with secrets only). */
  private readonly recipients = new Map<string, ReadonlySet<string>>()
  /** While tracing: the accept span of each unfinished job, parent of its dispatch spans. */
  private readonly acceptSpans = new Map<string, SpanContext>()
  private shutdown = new AbortController()
  private timer: NodeJS.Timeout | undefined
  private pruneTimer: NodeJS.Timeout | undefined
  /** The persisted jobs read by `load()` ahead of `start()`, until `start()` takes them. */
  private loaded: Promise<JobRecord[]> | undefined
  private running = false
  private startedAt = 0
  private pumping = false
  private pumpAgain = false
  private readonly counts = {
    results: { accepted: 0, rejected: resultRejectionCounts() },
    refusedJobs: 0,
  }
  private readonly callers: CallerAuthority

  constructor(components: SupervisorComponents, options: SupervisorOptions = {}) {
    super()
    this.components = components
    this.log = components.logger.forComponent('horus:supervisor')
    this.callers = new CallerAuthority(
      () => components.trust.policy,
      publicKeyHexOfPeer(components.peerId) ?? components.peerId,
    )
    this.local = options.local
    this.store = new JobStore(components.datastore, this.log, components.trust.replayCache)
    this.options = {
      inFlightPerSlot: options.inFlightPerSlot ?? DEFAULT_IN_FLIGHT_PER_SLOT,
      maxInFlightPerRunner: options.maxInFlightPerRunner ?? DEFAULT_MAX_IN_FLIGHT_PER_RUNNER,
      maxDispatches: options.maxDispatches ?? DEFAULT_MAX_DISPATCHES,
      resumeGraceMs: options.resumeGraceMs ?? DEFAULT_RESUME_GRACE_MS,
      retentionMs: options.retentionMs ?? DEFAULT_RETENTION_MS,
      tickMs: options.tickMs ?? DEFAULT_TICK_MS,
    }
    this.pool = new Pool({
      libp2p: components.libp2p,
      liveness: components.liveness,
      logger: components.logger,
      self: components.peerId,
      local: options.local,
      inFlightPerSlot: this.options.inFlightPerSlot,
      maxInFlightPerRunner: this.options.maxInFlightPerRunner,
      onEvent: (runner, event) => this.onRunnerEvent(runner, event),
      policy: () => components.trust.policy,
    })
    this.claims =
      options.gossip === false
        ? undefined
        : new GossipClaims({
            pubsub: components.libp2p.services.pubsub,
            liveness: components.liveness,
            verifier: components.trust.verifier,
            self: components.peerId,
            log: this.log,
            capabilities: options.gossipCapabilities ?? [],
            submit: (job) => this.submit(job, 'gossip'),
          })
    components.rpc.add(...supervisorMethods(this))
    components.rpc.addSubscription(...supervisorSubscriptions(this))
  }

  get isRunning(): boolean {
    return this.running
  }

  /**
   * Reads the persisted jobs ahead of `start()` (which otherwise does it), giving their nonces
   * back to the node's replay cache: the records are the nonces' only durable copy. The node's
   * roles call it before any of them starts, so that a runner of this node, which starts first,
   * refuses a replay of a job this supervisor accepted before a restart from its first call on.
   */
  async load(): Promise<void> {
    if (this.running) return
    this.loaded ??= this.store.load(this.options.retentionMs)
    await this.loaded
  }

  /** Loads persisted jobs and resumes every unfinished one with its original id. */
  async start(): Promise<void> {
    if (this.running) return
    this.shutdown = new AbortController()
    // Calls bounded by it (pings, DHT look-ups, runners awaited at start) may be many at once:
    // not a leak. Dispatches do not listen on it: `stop` aborts each one itself.
    setMaxListeners(Number.POSITIVE_INFINITY, this.shutdown.signal)
    const records = await (this.loaded ?? this.store.load(this.options.retentionMs))
    this.loaded = undefined
    const now = Date.now()
    let resumed = 0
    for (const record of records) {
      if (isTerminal(record.status)) continue
      if ((record.status === 'dispatched' || record.status === 'running') && record.runner !== undefined) {
        // Out on a runner when we stopped: give that runner the chance to be re-attached to.
        this.holds.set(record.job.id, { runner: record.runner, until: now + this.options.resumeGraceMs })
      }
      this.enqueue(record)
      resumed++
    }
    const { liveness } = this.components
    liveness.addEventListener('peer:lost', this.onPeerLost)
    liveness.addEventListener('peer:alive', this.onPeerAlive)
    this.running = true
    this.startedAt = Date.now()
    this.timer = setInterval(() => this.tick(), this.options.tickMs)
    this.timer.unref()
    this.pruneTimer = setInterval(() => this.prune(), pruneIntervalMs(this.options.retentionMs))
    this.pruneTimer.unref()
    this.claims?.start()
    this.log('started with %d jobs, %d resumed', records.length, resumed)
    this.pump()
  }

  /**
   * Stops dispatching. Jobs out on runners keep their persisted status and are re-attached to on
   * the next start; nothing is lost and nothing is marked failed.
   */
  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    clearInterval(this.timer)
    clearInterval(this.pruneTimer)
    this.claims?.stop()
    const { liveness } = this.components
    liveness.removeEventListener('peer:lost', this.onPeerLost)
    liveness.removeEventListener('peer:alive', this.onPeerAlive)
    const stopping = new SupervisorNotRunningError()
    this.shutdown.abort(stopping)
    const out = [...this.dispatches.values()]
    for (const dispatch of out) dispatch.cancel.abort(stopping)
    await Promise.allSettled(out.map((d) => d.settled))
    for (const wake of [...this.waiters.values()].flatMap((set) => [...set])) wake()
    await this.pool.close()
    await this.store.flush()
    this.queues.clear()
    this.holds.clear()
    this.log('stopped')
  }

  /**
   * Verifies and accepts a job, persisting it before resolving. Idempotent by id: the same job
   * again resolves to its existing record; a different job under a taken id is refused. A job for
   * a capability no live runner offers is refused (NoRunnerError) unless `waitForRunner` is set.
   */
  async submit(
    input: unknown,
    source: JobSource = 'rpc',
    options: { waitForRunner?: boolean; traceparent?: string | undefined; owned?: boolean } = {},
  ): Promise<JobRecord> {
    this.assertRunning()
    const id = jobIdOf(input)
    let known = id === undefined ? undefined : this.store.get(id)
    // Awaited only when there is something to wait for: a new job goes on in this turn.
    const accepting = id === undefined || known !== undefined ? undefined : this.accepting.get(id)
    if (accepting !== undefined) known = await accepting.catch(() => undefined)
    if (known !== undefined) {
      const same = this.sameJob(known, input)
      this.log('job %s sent again (%s): answering its record (%s)', id, source, same.status)
      return this.whenWritten(same)
    }
    const span = this.components.tracing === undefined ? undefined : this.acceptSpan(input, source, options)
    try {
      if (id !== undefined) this.assertNotReserved(id, input)
      if (source === 'rpc' && options.waitForRunner !== true) await this.assertRunnerFor(input)
      const accepting = this.accept(input, source, options.owned === true)
      if (id !== undefined) {
        this.accepting.set(id, accepting)
        const forget = (): void => {
          this.accepting.delete(id)
        }
        accepting.then(forget, forget)
      }
      const record = await accepting
      if (span !== undefined) endSpan(span)
      return record
    } catch (err) {
      if (span !== undefined) {
        if (id !== undefined) this.acceptSpans.delete(id)
        endSpan(span, errorOutcome(err))
      }
      throw err
    }
  }

  /**
   * The span of a job's admission (verify, persist, acknowledge): under the caller's span when its
   * `traceparent` is of the job's trace. Noted before anything can dispatch the job, whose dispatch
   * spans it parents.
   */
  private acceptSpan(
    input: unknown,
    source: JobSource,
    options: { traceparent?: string | undefined },
  ): Span | undefined {
    const job = jobRefOf(input)
    if (job === undefined) return undefined
    const span = this.components.tracing?.startJobSpan(
      source === 'rpc' ? 'supervisor.create_job' : 'supervisor gossip job',
      source === 'rpc' ? SpanKind.SERVER : SpanKind.CONSUMER,
      job,
      { traceparent: options.traceparent },
      {
        ...(source === 'rpc' ? rpcAttributes('supervisor.create_job') : {}),
        [ATTR_HORUS_JOB_SOURCE]: source,
      },
    )
    if (span !== undefined) this.acceptSpans.set(job.id, span.spanContext())
    return span
  }

  /**
   * A coordinator (`key`, trusted as one) looked for step job `jobId` and this supervisor does not
   * have it: it is taking the step over and may send the job elsewhere, so the id is held for it
   * (see `reservations`). The latest looker wins: it is the latest takeover.
   */
  reserve(jobId: string, key: string): void {
    if (!jobId.includes('/') || this.store.has(jobId)) return
    const now = Date.now()
    for (const [id, held] of this.reservations) {
      if (held.until > now && this.reservations.size < MAX_RESERVATIONS) break
      this.reservations.delete(id)
    }
    this.reservations.delete(jobId)
    this.reservations.set(jobId, { key, until: now + RESERVATION_MS })
  }

  /** A caller's reservation (`supervisor.get_job_result` with `reserve`): only a coordinator's. */
  reserveFor(jobId: string, caller: Caller): void {
    this.assertRunning()
    const who = this.callers.identify(caller)
    if (who.key !== undefined && this.callers.holds(who, 'coordinator')) this.reserve(jobId, who.key)
  }

  private assertNotReserved(jobId: string, input: unknown): void {
    const held = this.reservations.get(jobId)
    if (held === undefined) return
    const submitter = (input as { submitter?: unknown } | null)?.submitter
    if (held.until <= Date.now() || submitter === held.key) {
      this.reservations.delete(jobId)
      return
    }
    this.log(
      'refused %s from %s: the id is held for coordinator %s, which took the step over',
      jobId,
      String(submitter).slice(0, 8),
      held.key.slice(0, 8),
    )
    throw new JobIdConflictError(
      jobId,
      `is held for coordinator ${held.key}, which took the step over; this envelope (by ${String(submitter)}) is from before that`,
    )
  }

  getRecord(jobId: string): JobRecord {
    const record = this.store.get(jobId)
    if (record === undefined) throw new JobNotFoundError(jobId)
    return record
  }

  findRecord(jobId: string): JobRecord | undefined {
    return this.store.get(jobId)
  }

  /** May `caller` see or cancel `job` (its submitter, a trusted coordinator for steps, an admin)? */
  mayAccess(caller: Caller, job: JobEnvelope): boolean {
    return mayAccessJob(this.callers, caller, job)
  }

  /**
   * The record for `caller`: JobNotFoundError, as for an unknown id, when it may not see it.
   * SupervisorNotRunningError (retryable) before `start()` has loaded the persisted jobs, or once
   * stopping: "not found" then would tell a coordinator that a job this supervisor holds is gone,
   * and it would send the step elsewhere (the nemesis suite caught a restarted supervisor doing so).
   */
  recordFor(jobId: string, caller: Caller): JobRecord {
    this.assertRunning()
    const record = this.getRecord(jobId)
    if (!this.mayAccess(caller, record.job)) throw new JobNotFoundError(jobId)
    return record
  }

  /** The record, with the current reason for a job still waiting. */
  status(jobId: string): JobRecord {
    const record = this.getRecord(jobId)
    const reason = this.reasons.get(jobId)
    return reason === undefined || record.status !== 'queued' ? record : { ...record, reason }
  }

  list(status?: SupervisorJobStatus): JobRecord[] {
    return this.store.list(status)
  }

  runners(): RunnerView[] {
    return this.pool.list()
  }

  stats(): SupervisorStats {
    const { results, refusedJobs } = this.counts
    return {
      results: { accepted: results.accepted, rejected: { ...results.rejected } },
      refusedJobs,
      ...this.pool.stats(),
    }
  }

  /** Jobs waiting for a runner, by capability. */
  queueDepths(): Map<string, number> {
    const depths = new Map<string, number>()
    for (const [capability, queue] of this.queues) depths.set(capability, queue.size)
    return depths
  }

  /** The runner keys this node trusts for `capability`: whom a client seals a job's secrets to. */
  secretRecipients(capability: string): SecretRecipient[] {
    const local = this.local
    return runnerRecipients(
      this.components.trust.policy,
      capability,
      (c) => local?.describe().capabilities.includes(c) ?? false,
    )
  }

  async logs(jobId: string): Promise<string[]> {
    this.getRecord(jobId)
    return this.store.getLogs(jobId)
  }

  /** Resolves once the job is terminal, or when `signal` aborts or the supervisor stops (then with its current record). */
  async waitForResult(jobId: string, signal: AbortSignal): Promise<JobRecord> {
    const record = this.getRecord(jobId)
    if (isTerminal(record.status) || signal.aborted || !this.running) return record
    await new Promise<void>((resolve) => {
      const set = this.waiters.get(jobId) ?? new Set()
      this.waiters.set(jobId, set)
      const done = (): void => {
        set.delete(done)
        if (set.size === 0) this.waiters.delete(jobId)
        signal.removeEventListener('abort', done)
        resolve()
      }
      set.add(done)
      signal.addEventListener('abort', done, { once: true })
    })
    return this.status(jobId)
  }

  /**
   * Cancels a job: terminal at once; a runner executing it is told to stop. `release`: the caller
   * gives this copy up, and a runner another supervisor also follows it on keeps running it (see
   * RunnerService.cancel); the record ends cancelled either way.
   */
  async cancel(jobId: string, options: CancelOptions = {}): Promise<JobRecord> {
    this.assertRunning()
    const record = this.getRecord(jobId)
    if (isTerminal(record.status)) return record
    const dispatch = this.dispatches.get(jobId)
    await this.finish(record, 'cancelled', {
      reason: 'cancelled on request',
      error: { name: 'JobCancelledError', message: 'job cancelled', retryable: false },
    })
    if (dispatch !== undefined) {
      dispatch.abandoned = 'cancelled'
      await this.pool
        .link(dispatch.runner)
        .cancel(jobId, options)
        .catch((err: Error) =>
          this.log('runner %s did not take the cancel of %s: %s', dispatch.runner, jobId, err.message),
        )
      dispatch.cancel.abort()
    }
    return record
  }

  /** `owned`: `input` is fresh from JSON.parse of a frame (see `VerifyOptions.owned`). */
  private async accept(input: unknown, source: JobSource, owned: boolean): Promise<JobRecord> {
    // The nonce is spent in memory only: the record, written before the job is acknowledged, is its
    // durable copy (JobStore gives it back to the replay cache when it loads).
    const outcome = await this.components.trust.verifier.verify(input, { persistNonce: false, owned })
    let pinnedTo: string | undefined
    if (!outcome.ok) {
      // The same job arriving again (a retry, or after a restart of this node): answer with what
      // we have.
      const existing = outcome.job === undefined ? undefined : this.store.get(outcome.job.id)
      if (outcome.reason === 'replayed' && existing !== undefined)
        return this.whenWritten(this.sameJob(existing, input))
      // A nonce spent here without a record: this node's runner took the job from another
      // supervisor (a coordinator sends it here once that one is lost), or this supervisor pruned
      // its record. Only that runner, still holding the execution, may have it: any other would
      // run it again.
      pinnedTo = outcome.reason === 'replayed' ? await this.localHolder(outcome.job) : undefined
      if (pinnedTo === undefined) throw new JobRejectedError(outcome.reason, outcome.message)
    } else if (this.store.mayHaveHeld(outcome.job, this.components.trust.verifier.clockSkewMs)) {
      // Its record, nonce included, may be among those the last start could not read: taken only
      // by this node's runner if that runner holds its execution, else refused.
      pinnedTo = await this.localHolder(outcome.job)
      if (pinnedTo === undefined) {
        throw new JobRejectedError(
          'replayed',
          `job ${outcome.job.id} may have been accepted here before this supervisor's last start, which could not read all its job records back (see its log)`,
        )
      }
    }
    const job = outcome.job as JobEnvelope
    // Another send of the same job may have been taken while this one waited for the runner.
    const taken = pinnedTo === undefined ? undefined : this.store.get(job.id)
    if (taken !== undefined) return this.whenWritten(this.sameJob(taken, input))
    const now = Date.now()
    const record: JobRecord = {
      job,
      digest: jobDigest(job),
      status: 'queued',
      tried: [],
      refused: [],
      source,
      acceptedAt: now,
      updatedAt: now,
      ...(pinnedTo === undefined ? {} : { pinnedTo }),
    }
    if (pinnedTo !== undefined)
      this.log("%s: its execution is on this node's runner; sent there only", job.id)
    // Dispatched in the same turn, before the write starts: a job that finds a free runner is
    // written once, already `dispatched` (the record's saves fold), not `queued` then `dispatched`.
    // It is acknowledged only once that write (which holds its nonce) is on disk. Handing it to a
    // runner before that widens nothing: the `dispatched` write never held back the execute call
    // either.
    const persisted = this.store.save(record)
    this.emitStatus(record)
    this.enqueue(record)
    this.pump()
    await persisted
    if (this.log.enabled) this.log('accepted %s from %s', envelopeTag(job), source)
    return record
  }

  /**
   * Throws NoRunnerError when no runner offers the job's capability: not in heartbeats, not in the
   * DHT, and (just after start) none heard within one liveness window.
   */
  private async assertRunnerFor(input: unknown): Promise<void> {
    const capability = (input as { runner?: unknown } | null)?.runner
    if (typeof capability !== 'string' || this.pool.serves(capability)) return
    // A job that would be rejected anyway is told why, not that no runner is there.
    const checked = this.components.trust.verifier.check(input)
    if (!checked.ok && checked.reason !== 'replayed')
      throw new JobRejectedError(checked.reason, checked.message)
    await boundedCall(this.shutdown.signal, DHT_LOOKUP_TIMEOUT_MS, (signal) =>
      this.pool.discover(capability, signal),
    ).catch(() => false)
    const until = this.startedAt + STARTUP_RUNNER_WAIT_MS
    if (!this.pool.serves(capability) && Date.now() < until) await this.runnerHeard(capability, until)
    if (this.pool.serves(capability)) return
    const available = [...new Set(this.pool.list().flatMap((r) => r.capabilities))].sort()
    throw new NoRunnerError(capability, available)
  }

  /** Resolves when a live runner offers `capability`, or at `until`. */
  private runnerHeard(capability: string, until: number): Promise<void> {
    const { liveness } = this.components
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        liveness.removeEventListener('peer:alive', check)
        resolve()
      }
      const check = (): void => {
        if (this.pool.serves(capability)) done()
      }
      const timer = setTimeout(done, Math.max(0, until - Date.now()))
      liveness.addEventListener('peer:alive', check)
    })
  }

  /**
   * Whether the runner a job is pinned to still offers its capability (and may open its secrets).
   * A runner only held back (busy, or in a failure backoff) still does: the job waits for it.
   */
  private pinnedServes(runner: string, capability: string, among: ReadonlySet<string> | undefined): boolean {
    if (among !== undefined && !among.has(runner)) return false
    return this.pool.list().some((r) => r.peerId === runner && r.capabilities.includes(capability))
  }

  /** This node's runner, if it runs `job` or keeps its result. */
  private async localHolder(job: JobEnvelope | undefined): Promise<string | undefined> {
    const local = this.local
    if (job === undefined || local === undefined) return undefined
    return (await local.holds(job).catch(() => false)) ? local.peerId : undefined
  }

  /**
   * `record`, once it is on disk: a job sent twice in the same moment is answered from the record
   * the first send is still writing, and that answer is an acknowledgement like the first one's.
   * No wait (and no promise) for a record already written.
   */
  private whenWritten(record: JobRecord): JobRecord | Promise<JobRecord> {
    const writing = this.store.written(record.job.id)
    return writing === undefined ? record : writing.then(() => record)
  }

  private sameJob(record: JobRecord, input: unknown): JobRecord {
    const job = input as Partial<JobEnvelope>
    if (job.nonce !== record.job.nonce || job.submitter !== record.job.submitter) {
      throw new JobIdConflictError(record.job.id)
    }
    return record
  }

  assertRunning(): void {
    if (!this.running) throw new SupervisorNotRunningError()
  }

  private enqueue(record: JobRecord): void {
    const capability = record.job.runner
    let queue = this.queues.get(capability)
    if (queue === undefined) {
      queue = new Set()
      this.queues.set(capability, queue)
    }
    queue.add(record.job.id)
  }

  /** Hands queued jobs to runners with free slots; re-entrant calls fold into one more pass. */
  private pump(): void {
    if (!this.running) return
    if (this.pumping) {
      this.pumpAgain = true
      return
    }
    this.pumping = true
    try {
      do {
        this.pumpAgain = false
        for (const [capability, queue] of this.queues) this.pumpCapability(capability, queue)
      } while (this.pumpAgain)
    } finally {
      this.pumping = false
    }
  }

  private pumpCapability(capability: string, queue: Set<string>): void {
    const now = Date.now()
    for (const jobId of queue) {
      const record = this.store.get(jobId)
      if (
        record === undefined ||
        (record.status !== 'queued' && record.status !== 'dispatched' && record.status !== 'running')
      ) {
        queue.delete(jobId)
        continue
      }
      if (record.job.expiresAt <= now) {
        queue.delete(jobId)
        this.fail(
          record,
          `expired at ${new Date(record.job.expiresAt).toISOString()} before a runner finished it`,
          'JobExpiredError',
        )
        continue
      }
      const hold = this.holds.get(jobId)
      if (hold !== undefined && hold.until <= now) this.holds.delete(jobId)
      const only = record.pinnedTo ?? (hold !== undefined && hold.until > now ? hold.runner : undefined)
      const among = this.recipientsOf(record)
      const outcome = this.pool.pick(capability, record.refused, only, among)
      if ('peerId' in outcome) {
        queue.delete(jobId)
        this.holds.delete(jobId)
        this.dispatch(record, outcome.peerId)
        continue
      }
      if (record.pinnedTo !== undefined && !this.pinnedServes(record.pinnedTo, capability, among)) {
        queue.delete(jobId)
        this.failPinned(record, `runner ${record.pinnedTo} no longer serves capability "${capability}"`)
        continue
      }
      if (only !== undefined) {
        this.reasons.set(
          jobId,
          record.pinnedTo !== undefined
            ? `waiting for runner ${only}, which holds its execution`
            : `waiting up to ${hold?.until === undefined ? 0 : hold.until - now} ms for runner ${only} to be seen again`,
        )
        continue
      }
      if (outcome.none === 'refused') {
        queue.delete(jobId)
        this.counts.refusedJobs++
        const said = (record.refusals ?? []).map((r) => `runner ${r.runner}: ${r.reason}`).join('; ')
        this.fail(
          record,
          `every runner for capability "${capability}" refused the job: ${said || record.refused.join(', ')}`,
          'JobRefusedError',
        )
        continue
      }
      if (outcome.none === 'busy') {
        this.reasons.set(jobId, `all runners for capability "${capability}" are busy`)
        // The jobs behind this one meet the same full runners: stop here (back-pressure).
        if (record.refused.length === 0) break
        continue
      }
      this.reasons.set(
        jobId,
        among === undefined
          ? `no runner for capability "${capability}"`
          : `no runner for capability "${capability}" among the ${among.size} its secrets were sealed to`,
      )
    }
  }

  /** A job with secrets can only run where every secret opens: on one of their common recipients. */
  private recipientsOf(record: JobRecord): ReadonlySet<string> | undefined {
    const { job } = record
    if (job.secrets === undefined) return undefined
    let among = this.recipients.get(job.id)
    if (among === undefined) {
      among = new Set(
        [...(commonRecipients(job.secrets) ?? [])].map((key) => peerIdFromPublicKeyHex(key).toString()),
      )
      this.recipients.set(job.id, among)
    }
    return among
  }

  private dispatch(record: JobRecord, runner: string): void {
    const jobId = record.job.id
    if (!record.tried.includes(runner)) {
      if (record.tried.length >= this.options.maxDispatches) {
        this.fail(
          record,
          `gave up after ${record.tried.length} runners: ${record.tried.join(', ')}`,
          'JobDispatchError',
        )
        return
      }
      record.tried.push(runner)
    }
    // Per job: its arguments are only built when the line is printed (DEBUG=horus:supervisor).
    if (this.log.enabled)
      this.log(
        'dispatching %s to runner %s (%s; runners so far: %s)',
        envelopeTag(record.job),
        runner,
        record.reason ?? (record.tried.length > 1 ? 'again' : 'first dispatch'),
        record.tried.join(', '),
      )
    this.reasons.delete(jobId)
    record.runner = runner
    void this.update(record, 'dispatched', undefined)
    this.pool.acquire(runner)
    // Aborted when the dispatch is abandoned (runner lost, job cancelled) or the supervisor stops
    // (`stop` aborts every dispatch in `dispatches`); the link's call rejects at once then.
    const cancel = new Cancellation()
    const tracing = this.components.tracing
    const span = tracing?.startJobSpan(
      'runner.execute',
      SpanKind.CLIENT,
      record.job,
      { local: this.acceptSpans.get(jobId) },
      { ...rpcAttributes('runner.execute'), [ATTR_HORUS_PEER_ID]: runner },
    )
    const answered = this.pool.link(runner).execute(record.job, {
      cancel,
      timeoutMs: record.job.timeoutMs + DISPATCH_TIMEOUT_GRACE_MS,
      traceparent: span === undefined ? undefined : tracing?.traceparent(span),
      answerOnly: record.pinnedTo !== undefined,
    })
    const dispatch: Dispatch = { runner, cancel, settled: Promise.resolve() }
    if (span !== undefined)
      answered.then(
        ({ result, replayed }) =>
          endSpan(span, jobOutcome(result.status, result.error, { [ATTR_HORUS_JOB_REPLAYED]: replayed })),
        (err: unknown) => endSpan(span, errorOutcome(err)),
      )
    dispatch.settled = this.follow(record, dispatch, answered)
    this.dispatches.set(jobId, dispatch)
  }

  /**
   * Records what came of a dispatch, then forgets it and pumps (one async function: the chain of
   * `then`, `catch` and `finally` it replaces made three promises and closures per job). The
   * runner's slot is free once the call settled, not once the outcome is on disk: the terminal
   * event goes out from inside the handlers, and whoever sees it must not still find the job
   * counted against the runner.
   */
  private async follow(
    record: JobRecord,
    dispatch: Dispatch,
    answered: Promise<ExecuteResponse>,
  ): Promise<void> {
    try {
      let response: ExecuteResponse
      try {
        response = await answered
      } catch (err) {
        this.pool.release(dispatch.runner)
        await this.onDispatchError(record, dispatch, err)
        return
      }
      this.pool.release(dispatch.runner)
      await this.onResponse(record, dispatch, response)
    } catch (err) {
      this.log.error('handling the outcome of %s failed: %e', record.job.id, err)
    } finally {
      if (this.dispatches.get(record.job.id) === dispatch) this.dispatches.delete(record.job.id)
      this.pump()
    }
  }

  private async onResponse(record: JobRecord, dispatch: Dispatch, response: ExecuteResponse): Promise<void> {
    if (dispatch.abandoned !== undefined || isTerminal(record.status)) return
    const { job } = record
    const policy = this.components.trust.policy
    // The result must answer this envelope, come from the runner it went to, and that runner must
    // (still) be trusted to run the capability; only then is its signature worth verifying.
    // The signature is checked here although the noise connection already proves which runner
    // sent it and every reader (client, coordinator) verifies it again: without it, a runner that
    // sends a bad signature would leave a job recorded `succeeded` that no reader accepts — not
    // the failed job (InvalidResult) it must be. See BENCHMARKS.md ("the supervisor's result check").
    const checked = verifyResult(response.result, {
      job: { jobId: job.id, attempt: job.attempt, digest: record.digest },
      runner: publicKeyHexOfPeer(dispatch.runner) ?? dispatch.runner,
      trusted: (key) => policy.admits(key, { role: 'runner', capability: job.runner }),
      // A remote runner's answer is fresh from JSON.parse of its frame; the local runner's result
      // is an object that runner also holds, so it is copied as before.
      owned: dispatch.runner !== this.local?.peerId,
    })
    if (!checked.ok) {
      this.counts.results.rejected[checked.reason]++
      const message = `${checked.reason}: ${checked.message}`
      this.log.error('result of %s from runner %s refused: %s', job.id, dispatch.runner, message)
      await this.finish(record, 'failed', {
        reason: `runner ${dispatch.runner} sent a result this supervisor refused (${message})`,
        error: { name: 'InvalidResult', message, retryable: false },
      })
      return
    }
    this.counts.results.accepted++
    this.pool.succeeded(dispatch.runner)
    this.log(
      'runner %s answered %s: %s%s',
      dispatch.runner,
      record.job.id,
      checked.result.status,
      response.replayed ? ' (its earlier execution, not run again)' : '',
    )
    const lines = response.logs.slice(0, MAX_LOG_LINES)
    await this.store.setLogs(record.job.id, lines)
    await this.finish(record, checked.result.status, { result: checked.result })
    this.store.releaseLogs(record.job.id)
  }

  private async onDispatchError(record: JobRecord, dispatch: Dispatch, err: unknown): Promise<void> {
    const { runner } = dispatch
    if (dispatch.abandoned === 'cancelled' || isTerminal(record.status)) return
    if (dispatch.abandoned === 'lost') {
      this.requeue(record, `runner ${runner} was lost`)
      return
    }
    // Stopping: the record keeps its status and is re-attached to on the next start.
    if (this.shutdown.signal.aborted) return
    const message = err instanceof Error ? err.message : String(err)
    if (err instanceof RunnerInvalidJobError) {
      this.fail(record, `runner ${runner} cannot execute this job: ${message}`, 'InvalidJobError')
    } else if (err instanceof CallTimeoutError) {
      await this.finish(record, 'timed_out', {
        reason: `runner ${runner} did not answer within ${record.job.timeoutMs + DISPATCH_TIMEOUT_GRACE_MS} ms`,
        error: { name: 'DispatchTimeoutError', message, retryable: true },
      })
    } else if (err instanceof RunnerBusyError || err instanceof TooManyRequestsError) {
      this.pool.failed(runner)
      this.requeue(record, `runner ${runner} is busy`)
    } else if (isRefusal(err)) {
      // A pinned job may go to no other runner: its runner's refusal ends it.
      if (record.pinnedTo !== undefined)
        this.failPinned(record, `runner ${runner} cannot answer it any more: ${message}`)
      else {
        record.refused.push(runner)
        record.refusals = [...(record.refusals ?? []), { runner, reason: message }]
        this.requeue(record, `runner ${runner} refused the job: ${message}`)
      }
    } else {
      this.pool.failed(runner)
      this.requeue(record, `lost the link to runner ${runner}: ${message}`)
    }
  }

  private requeue(record: JobRecord, reason: string): void {
    this.log('requeueing %s: %s', record.job.id, reason)
    void this.update(record, 'queued', reason)
    this.reasons.set(record.job.id, reason)
    this.enqueue(record)
  }

  /**
   * A job whose nonce this node's runner spent for another supervisor, when that runner can no
   * longer answer it: nothing here may run it, and whether it ran is not known here. Retryable: a
   * coordinator's retry policy decides whether a new attempt (a new nonce) runs it again.
   */
  private failPinned(record: JobRecord, why: string): void {
    const reason = `its execution on this node's runner, begun for another supervisor, is not available: ${why}`
    this.finish(record, 'failed', {
      reason,
      error: { name: 'JobOutcomeUnknownError', message: reason, retryable: true },
    }).catch((err: unknown) => this.log.error('recording the failure of %s failed: %e', record.job.id, err))
  }

  private fail(record: JobRecord, reason: string, name: string): void {
    this.finish(record, 'failed', { reason, error: { name, message: reason, retryable: false } }).catch(
      (err: unknown) => this.log.error('recording the failure of %s failed: %e', record.job.id, err),
    )
  }

  private async finish(
    record: JobRecord,
    status: SupervisorJobStatus,
    outcome: { result?: JobResult; error?: JobFailure; reason?: string },
  ): Promise<void> {
    if (outcome.result !== undefined) record.result = outcome.result
    if (outcome.error !== undefined) record.error = outcome.error
    this.reasons.delete(record.job.id)
    this.holds.delete(record.job.id)
    this.recipients.delete(record.job.id)
    this.acceptSpans.delete(record.job.id)
    this.queues.get(record.job.runner)?.delete(record.job.id)
    await this.update(record, status, outcome.reason)
    if (outcome.result === undefined) {
      // No runner answer carries the logs: keep the lines that streamed in.
      const lines = await this.store.getLogs(record.job.id)
      if (lines.length > 0) await this.store.setLogs(record.job.id, lines)
    }
    const waiters = this.waiters.get(record.job.id)
    if (waiters !== undefined) for (const wake of [...waiters]) wake()
    this.safeDispatchEvent('job:outcome', {
      detail: { submitter: record.job.submitter, view: resultView(record) },
    })
  }

  /**
   * Sets the status, persists it, and tells subscribers; resolves once it is on disk. `running`
   * is not written: a restart treats `dispatched` and `running` alike (re-attach to the runner),
   * so the write would buy nothing and cost one datastore put per job. A terminal status is told
   * only once it is on disk: a coordinator that hears it records the result and stops following
   * the job, so a crash before the write would run the job again after the restart.
   */
  private async update(
    record: JobRecord,
    status: SupervisorJobStatus,
    reason: string | undefined,
  ): Promise<void> {
    record.status = status
    if (reason === undefined) delete record.reason
    else record.reason = reason
    record.updatedAt = Date.now()
    const terminal = isTerminal(status)
    if (!terminal) this.emitStatus(record)
    if (status === 'running') return
    await this.store.save(record).catch((err: unknown) => {
      this.log.error('persisting job %s failed: %e', record.job.id, err)
    })
    if (terminal && record.status === status) this.emitStatus(record)
  }

  private emitStatus(record: JobRecord): void {
    // Three or four per job: the view and the event are only built for someone listening
    // (`job_events` subscribers, a coordinator in this node).
    if (this.listenerCount('job:status') === 0) return
    this.safeDispatchEvent('job:status', { detail: eventOf(record) })
  }

  private onRunnerEvent(runner: string, event: RunnerJobEvent): void {
    const record = this.store.get(event.jobId)
    if (record === undefined || record.runner !== runner || isTerminal(record.status)) return
    if (event.type === 'log' && event.line !== undefined) {
      this.store.appendLog(event.jobId, event.line, MAX_LOG_LINES)
    } else if (event.type === 'started' && record.status === 'dispatched') {
      void this.update(record, 'running', undefined)
    }
  }

  /**
   * A runner missed its heartbeats. Heartbeats also go missing from a runner that is only slow (a
   * starved CPU): its jobs are taken back only when it does not answer a ping either — moving a
   * job off a runner that is still executing it runs its effect twice.
   */
  private readonly onPeerLost = (evt: CustomEvent<LivePeer>): void => {
    const peerId = evt.detail.peerId
    const out = [...this.dispatches.values()].filter((d) => d.runner === peerId && d.abandoned === undefined)
    const abandon = (): void => {
      if (out.length > 0) this.log('runner %s lost: taking back %d job(s) it was running', peerId, out.length)
      for (const dispatch of out) {
        if (dispatch.abandoned !== undefined) continue
        dispatch.abandoned = 'lost'
        dispatch.cancel.abort()
      }
      this.pool.lost(peerId).catch(() => {})
    }
    if (out.length === 0) {
      abandon()
      return
    }
    this.answersPing(peerId).then((alive) => {
      if (!alive) abandon()
      else
        this.log(
          'runner %s missed its heartbeats but answers pings: its %d job(s) stay with it',
          peerId,
          out.length,
        )
    }, abandon)
  }

  private async answersPing(peerId: string): Promise<boolean> {
    const peer = peerIdFromString(peerId)
    if (this.components.libp2p.getConnections(peer).length === 0) return false
    try {
      await boundedCall(this.shutdown.signal, RUNNER_PING_TIMEOUT_MS, (signal) =>
        this.components.libp2p.services.ping.ping(peer, { signal }),
      )
      return true
    } catch {
      return false
    }
  }

  private readonly onPeerAlive = (evt: CustomEvent<LivePeer>): void => {
    if (evt.detail.roles.includes('runner')) this.pump()
  }

  private prune(): void {
    this.store
      .prune(this.options.retentionMs)
      .then((n) => {
        if (n > 0) this.log('dropped %d finished job(s) past retention', n)
      })
      .catch((err: Error) => this.log.error('pruning finished jobs failed: %e', err))
  }

  private tick(): void {
    this.pump()
    for (const [capability, queue] of this.queues) {
      if (queue.size === 0 || this.pool.serves(capability)) continue
      this.pool
        .discover(capability, this.shutdown.signal)
        .then((added) => {
          if (added) this.pump()
        })
        .catch(() => {})
    }
  }
}

function jobIdOf(input: unknown): string | undefined {
  if (typeof input !== 'object' || input === null) return undefined
  const id = (input as { id?: unknown }).id
  return typeof id === 'string' ? id : undefined
}

/** Errors by which a runner says it will not (or can no longer) run this job. */
function isRefusal(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  return [
    'JobRejectedError',
    'UnknownKindError',
    'RunnerStoppingError',
    'ExecutorNotRunningError',
    'JobCancelledError',
    'SecretNotRecipientError',
    'SecretOpenError',
  ].includes(err.name)
}
