/**
 * The coordinator's engine: the runs it holds and what it does with them. It follows the
 * scheduler's contract (../scheduling/index.ts): for each run it owns, `plan` → `commitAction`
 * each action → send dispatched jobs, cancel jobs of cancel/timeout actions; supervisor reports go
 * through `recordJobUpdate`. Changes are batched: any number of events in one turn of the event
 * loop lead to one `plan` per run, one gossip delta, one datastore append.
 *
 * Ownership is the lease in the run's CRDT (../../../protocols/state/lease.ts): the owner renews
 * it every third of its time to live; when it lapses the live coordinators take over in rendezvous
 * order (the first after `grace`, the next one `grace` later, …), and the new owner plans once with
 * `redispatchInFlight` so attempts still in flight are followed: found on the supervisor that has
 * them, or re-sent under their own job ids. An owner whose own lease lapsed (it was paused, or
 * starved) never renews it from its stale view: it merges with its peers first and re-acquires
 * the lease through the same takeover path, and an owner re-follows in-flight attempts after every
 * merge, since a merge can bring jobs another coordinator sent while it believed it owned the run.
 */
import { randomUUID } from 'node:crypto'
import type { ComponentLogger, Libp2p, Logger } from '@libp2p/interface'
import { setLongTimeout } from '../../../core/long-timeout.js'
import type { NodeTracing } from '../../../node/telemetry/index.js'
import type { BlobService } from '../../../protocols/blob/blob-service.js'
import type { MonitorEvent } from '../../../protocols/events/index.js'
import type {
  JobAuthority,
  JobEnvelope,
  SealedSecret,
  Signer,
  TrustPolicy,
} from '../../../protocols/jobs/index.js'
import type { LivenessService } from '../../../protocols/liveness/index.js'
import { UnavailableError } from '../../../protocols/rpc/index.js'
import { Hlc, hlcNode } from '../../../protocols/state/hlc.js'
import type { JsonObject, JsonValue } from '../../../protocols/state/json-value.js'
import type { LogEntry } from '../../../protocols/state/lattice.js'
import { renewLease, takeOverLease } from '../../../protocols/state/lease.js'
import { RunState } from '../../../protocols/state/run-state.js'
import type { StateStore } from '../../../protocols/state/state-store.js'
import { MAX_DELTA_BYTES } from '../../../protocols/state/sync/index.js'
import type { JobEvent, SupervisorService } from '../../supervisor/index.js'
import {
  appendStepLog,
  cancelRun,
  commitAction,
  createRun,
  type JobUpdate,
  obsoleteJobs,
  plan,
  recordJobUpdate,
  retryRun,
  setRunPaused,
  signalRun,
} from '../scheduling/index.js'
import { WorkflowInputError } from '../workflow/errors.js'
import type { CompiledWorkflow } from '../workflow/types.js'
import { BlobKeeper } from './blob-keeper.js'
import { COMPACT_AFTER_DELTAS, LEASE_RENEW_FRACTION, MAX_JOB_LOG_LINES } from './constants.js'
import { dispatchRecord, placementRecord, placements } from './dispatch-record.js'
import { RunExistsError } from './errors.js'
import { type FetchOutput, jobTrace, jobUpdateOf, ResultChecks } from './job-reports.js'
import { JobTracker, type TrackedJob } from './job-tracker.js'
import { provenanceRecords } from './result-record.js'
import { runAuthority } from './run-access.js'
import { RunEntry } from './run-entry.js'
import { checkRunSecrets, stepSecrets } from './run-secrets.js'
import { monitorEvent } from './views.js'

export interface EngineLimits {
  maxInFlight: number
  runConcurrency: number
  leaseTtlMs: number
  leaseGraceMs: number
  /** How long a supervisor holding jobs may stay unreachable before they are sent elsewhere. */
  supervisorLossMs: number
}

export interface RunEngineInit {
  self: string
  logger: ComponentLogger
  libp2p: Libp2p
  liveness: Pick<LivenessService, 'alive'>
  signer: Signer
  /** The trust policy in force: supervisors, runners and lease owners are judged by it. */
  policy: () => TrustPolicy
  store: StateStore
  localSupervisor: SupervisorService | undefined
  configuredSupervisors: readonly string[]
  /** The node's blob service: large step outputs (../workflow/README.md, "Big outputs"). */
  blobs?: BlobService | undefined
  limits: EngineLimits
  /** Other coordinators alive now (peer IDs): where a run's blobs may be. */
  liveCoordinators(): string[]
  /**
   * The run's replica set in rendezvous order (this coordinator included when it is a member):
   * only members take a lapsed lease over, in this order.
   */
  replicaSet(run: string): string[]
  /** One anti-entropy round with every live coordinator (bounded in time; failures are logged). */
  syncPeers(): Promise<void>
  /** Send a delta of local changes to the run's other replicas. */
  publishDelta(delta: RunState): void
  /**
   * Tell an owner whose key the policy no longer trusts as a coordinator that its lease was just
   * taken: it is no replica here, so no delta tells it, and it would go on driving the run. An
   * owner merely lost from the view is not told: it is cut off (a partition, a crash), and a note
   * that dialled it would carry state across the partition; it learns when anti-entropy meets it.
   */
  tellPreviousOwner(owner: string, takeover: RunState): void
  /** A new monitor event (`local`: this node wrote it). */
  onEvent(event: MonitorEvent, local: boolean): void
  /** A run changed (after its changes were flushed). */
  onRunChanged(entry: RunEntry): void
  /** The node's tracing, when on (a span per step attempt). */
  tracing?: NodeTracing | undefined
}

export class RunEngine {
  readonly runs = new Map<string, RunEntry>()
  readonly hlc: Hlc
  readonly tracker: JobTracker
  /** Large outputs of the runs held here; undefined on a node without a blob service. */
  readonly blobs: BlobKeeper | undefined
  readonly results: ResultChecks
  private readonly init: RunEngineInit
  private readonly log: Logger
  private readonly dirty = new Set<RunEntry>()
  private flushing = false
  /**
   * Each run's writes, in order (its appends, then a compaction or its deletion). Different runs'
   * writes go side by side, so the datastore puts one event-loop turn's into one LevelDB batch; one
   * chain for every run made each write wait for the one before, and at ~40 runs/s the backlog
   * grew by seconds (drained at ~550 writes/s once the runs stopped) — and `durable`, which every
   * anti-entropy answer and replica push waits for, waited for all of it.
   */
  private readonly writes = new Map<string, Promise<void>>()
  /** Writes that failed since start: what they carried is only in memory (see `durable`). */
  private failedWrites = 0
  private running = false
  /** Coordinators the liveness service lost, and when: their leases count as lapsed from then. */
  private readonly lost = new Map<string, number>()
  /** Leases this node took over, by why (`lease lapsed`, `owner lost`, `reacquired`…), for metrics. */
  readonly takeovers = new Map<string, number>()

  constructor(init: RunEngineInit) {
    this.init = init
    this.log = init.logger.forComponent('horus:coordinator')
    this.hlc = new Hlc(init.self)
    const keeper =
      init.blobs === undefined
        ? undefined
        : new BlobKeeper({
            blobs: init.blobs,
            self: init.self,
            log: this.log,
            onLoaded: (run) => {
              const entry = this.runs.get(run)
              if (entry !== undefined) this.touch(entry)
            },
          })
    this.blobs = keeper
    this.results = new ResultChecks({ policy: init.policy, log: this.log })
    this.tracker = new JobTracker({
      libp2p: init.libp2p,
      liveness: init.liveness,
      logger: init.logger,
      self: init.self,
      signer: init.signer,
      localSupervisor: init.localSupervisor,
      configuredSupervisors: init.configuredSupervisors,
      supervisorLossMs: init.limits.supervisorLossMs,
      ...(keeper === undefined ? {} : { prepareInput: (run, input) => keeper.prepareInput(run, input) }),
      onSigned: (job, envelope) => this.onSigned(job, envelope),
      policy: init.policy,
      onJobEvent: (job, event, supervisor) => this.onJobEvent(job, event, supervisor),
      onPlaced: (job, supervisor) => this.onPlaced(job, supervisor),
      onSupervisorDown: () => {},
      tracing: init.tracing,
    })
  }

  /** Loads the runs persisted in the datastore; runs this node owned are re-driven. */
  async start(): Promise<void> {
    this.running = true
    for (const run of await this.init.store.runs()) {
      const state = await this.init.store.load(run).catch((err: Error) => {
        this.log.error('run %s not loaded: %s', run, err.message)
        return undefined
      })
      if (state === undefined) continue
      const entry = new RunEntry(state)
      if (state.maxHlc !== undefined) this.receiveStamp(state.maxHlc)
      entry.refreshStatus(Date.now())
      this.runs.set(run, entry)
      if (!entry.terminal && state.lease?.owner === this.init.self) {
        entry.redispatch = true
        this.touch(entry)
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false
    for (const entry of this.runs.values()) entry.clearWake()
    await this.tracker.stop()
    await this.written()
  }

  /**
   * Resolves once every change made or merged before the call is on disk; rejects after a failed
   * write, whose change exists only in memory (a replica then promises no peer that it holds a
   * run: see anti-entropy's `durable`).
   */
  async durable(): Promise<void> {
    // Changes of this turn are flushed in the check phase; queue behind that flush.
    await new Promise((resolve) => setImmediate(resolve))
    await this.written()
    if (this.failedWrites > 0) {
      throw new UnavailableError(`${this.failedWrites} run-state write(s) failed on this coordinator`)
    }
  }

  owns(entry: RunEntry): boolean {
    return entry.state.lease?.owner === this.init.self
  }

  /** Owns the run with an unexpired lease: only then is it driven from the local view. */
  drives(entry: RunEntry, now = Date.now()): boolean {
    const lease = entry.state.lease
    return lease?.owner === this.init.self && now < lease.expiresAt && !entry.reclaiming
  }

  /**
   * Creates a run, takes its lease and starts it. `origin` is the document as submitted, the
   * signed authority every step job carries and the run's sealed secrets. Throws workflow input
   * errors, RunExistsError.
   */
  async submit(
    workflow: CompiledWorkflow,
    inputs: unknown,
    runId?: string,
    origin: {
      document?: JsonValue
      authority?: JobAuthority
      secrets?: Readonly<Record<string, SealedSecret>>
    } = {},
  ): Promise<RunEntry> {
    const run = runId ?? randomUUID()
    // The run is driven by its replica set's first member: this coordinator when it is one.
    const members = this.init.replicaSet(run)
    const owner = members.includes(this.init.self) ? this.init.self : (members[0] ?? this.init.self)
    if (this.runs.has(run)) throw new RunExistsError(run)
    const secrets = origin.secrets
    checkRunSecrets(workflow, secrets ?? {})
    const state = createRun(workflow, {
      run,
      stamp: this.hlc.now(),
      inputs,
      ...(origin.document === undefined ? {} : { document: origin.document }),
      ...(origin.authority === undefined ? {} : { authority: origin.authority as unknown as JsonObject }),
      ...(secrets === undefined || Object.keys(secrets).length === 0
        ? {}
        : { secrets: secrets as unknown as JsonObject }),
    })
    // The creation travels to the replica set whole, in one sync frame: refuse what cannot.
    const size = JSON.stringify(state.toJSON()).length
    if (size > MAX_DELTA_BYTES) {
      throw new WorkflowInputError([
        {
          path: 'inputs',
          message: `the run's definition and inputs encode to ${size} bytes; at most ${MAX_DELTA_BYTES} can be replicated`,
        },
      ])
    }
    state.setLease(this.hlc.now(), owner, Date.now() + this.init.limits.leaseTtlMs)
    const entry = new RunEntry(state, workflow)
    this.runs.set(run, entry)
    // Acknowledged runs survive a crash: the creation is on disk before the caller hears of it.
    await this.init.store.append(state)
    entry.addGossip(state.clone())
    this.touch(entry)
    return entry
  }

  cancel(entry: RunEntry, reason?: string): void {
    this.changed(entry, cancelRun(entry.state, this.hlc.now(), reason))
  }

  setPaused(entry: RunEntry, paused: boolean): void {
    this.changed(entry, setRunPaused(entry.state, this.hlc.now(), paused))
  }

  /**
   * Reruns a finished run (see ../scheduling/rerun.ts); returns the steps that run again. This
   * coordinator takes the run's lease when it has lapsed (a finished run's owner stops renewing),
   * so whoever retries drives the rerun; a live owner just plans the merged rerun.
   */
  retry(entry: RunEntry, steps?: readonly string[]): readonly string[] {
    const workflow = entry.workflow as CompiledWorkflow
    const { delta, reset } = retryRun(workflow, entry.state, {
      stamp: this.hlc.now(),
      ...(steps === undefined ? {} : { steps }),
    })
    const lease = takeOverLease(entry.state, this.hlc.now(), this.init.self, Date.now(), this.leaseOptions())
    if (lease !== undefined) delta.merge(lease)
    entry.status = 'running'
    this.changed(entry, delta)
    return reset
  }

  /** Delivers a signal to a run (see ../scheduling/signals.ts). */
  signal(entry: RunEntry, name: string, data: unknown, by?: string): void {
    const workflow = entry.workflow as CompiledWorkflow
    const options = { name, data, stamp: this.hlc.now(), ...(by === undefined ? {} : { by }) }
    this.changed(entry, signalRun(workflow, entry.state, options))
  }

  /** Appends a record (audit, note) to the run's log; it changes nothing that needs planning. */
  record(entry: RunEntry, log: LogEntry): void {
    this.changed(entry, entry.state.appendLog(log), false)
  }

  /**
   * The run leaves this coordinator's replica set: `owner` (a member) drives it from now on. The
   * jobs in flight are left where they are; the new owner follows them from the replicated state.
   */
  handOverLease(entry: RunEntry, owner: string): void {
    const delta = entry.state.setLease(this.hlc.now(), owner, Date.now() + this.init.limits.leaseTtlMs)
    this.tracker.forgetRun(entry.id)
    entry.clearWake()
    this.changed(entry, delta, false)
  }

  /** Forgets a run handed off to its replica set (memory and datastore). */
  async drop(entry: RunEntry): Promise<void> {
    if (this.runs.get(entry.id) !== entry) return
    this.runs.delete(entry.id)
    this.dirty.delete(entry)
    entry.clearWake()
    this.tracker.forgetRun(entry.id)
    // After every append already queued for it, so none lands after the deletion.
    const store = this.init.store
    await this.write(
      entry.id,
      () => store.delete(entry.id),
      (err) => this.log.error('deleting run %s failed: %s', entry.id, err.message),
    )
  }

  /**
   * Merges state from another coordinator (gossip or anti-entropy). Returns the local versions the
   * merge itself took the run from and to (the writes it causes here come after), or undefined
   * when it changed nothing.
   */
  mergeRemote(delta: RunState): { before: number; after: number } | undefined {
    let entry = this.runs.get(delta.run)
    if (entry === undefined) {
      entry = new RunEntry(new RunState(delta.run))
      this.runs.set(delta.run, entry)
    }
    const owned = this.owns(entry)
    const before = entry.state.version
    if (!entry.state.merge(delta)) return undefined
    const merged = { before, after: entry.state.version }
    entry.mergedSince ??= before
    // Replicate the run's blobs: every coordinator holding the run holds its big outputs too.
    this.blobs?.replicate(delta, this.blobSources(entry))
    if (delta.maxHlc !== undefined) this.receiveStamp(delta.maxHlc)
    if (owned && !this.owns(entry)) {
      // Another coordinator won the lease. It follows every attempt in flight in the replicated
      // state once it has merged it (ours included: this merge's delta is gossiped back to it).
      this.log('run %s is now owned by %s', entry.id, entry.state.lease?.owner)
      this.tracker.forgetRun(entry.id)
      entry.clearWake()
    } else if (this.owns(entry)) {
      // The merge may carry attempts another coordinator sent while it believed it owned the run.
      entry.redispatch = true
    }
    for (const jobId of obsoleteJobs(entry.state, this.tracker.jobsOf(entry.id))) this.tracker.cancel(jobId)
    this.touch(entry)
    return merged
  }

  /**
   * A coordinator stopped sending heartbeats (`at`: when that was noticed): its leases count as
   * lapsed from then rather than at their expiry, so its runs are taken over sooner.
   */
  peerLost(peerId: string, at = Date.now()): void {
    this.lost.set(peerId, at)
  }

  /** Heard from again: its leases run to their own expiry. */
  peerAlive(peerId: string): void {
    this.lost.delete(peerId)
  }

  /**
   * A complete anti-entropy round with `peerId` succeeded: every run it holds is merged here, so
   * runs taken over from it need no look-up before each send any more (its dispatches are known).
   */
  mergedWith(peerId: string): void {
    for (const entry of this.runs.values()) if (entry.takenFrom === peerId) entry.takenFrom = undefined
  }

  /** Renews own leases, takes over lapsed ones. */
  checkLeases(now = Date.now()): void {
    const { leaseTtlMs, leaseGraceMs } = this.init.limits
    for (const entry of this.runs.values()) {
      if (entry.terminal || entry.ensureWorkflow() === undefined) continue
      const lease = entry.state.lease
      if (lease?.owner === this.init.self) {
        if (now >= lease.expiresAt) {
          // Lapsed: another coordinator may have taken the run over meanwhile. Never renew from
          // this view; re-acquire through the takeover path once merged with the peers.
          this.reclaim(entry)
          continue
        }
        if (lease.expiresAt - now <= leaseTtlMs * (1 - LEASE_RENEW_FRACTION)) {
          const delta = renewLease(entry.state, this.hlc.now(), this.init.self, now, this.leaseOptions())
          if (delta !== undefined) this.changed(entry, delta, false)
        }
        continue
      }
      // An owner lost from liveness lapsed when it was last heard; one whose key the policy no longer
      // trusts as a coordinator has lost its lease now (the first in takeover order takes over).
      const revoked =
        lease !== undefined && !this.init.policy().admitsPeer(lease.owner, { role: 'coordinator' })
      const lostAt = lease === undefined ? undefined : this.lost.get(lease.owner)
      const lapsedAt = revoked ? now - leaseGraceMs : lostAt
      const expiresAt = Math.min(lease?.expiresAt ?? entry.createdAt, lapsedAt ?? Number.POSITIVE_INFINITY)
      const rank = this.takeoverRank(entry.id, lease?.owner)
      if (now < expiresAt + leaseGraceMs * (1 + rank)) continue
      // The register is only overwritten once the lease lapsed, or its owner was lost that long ago.
      const delta = takeOverLease(entry.state, this.hlc.now(), this.init.self, now, {
        ...this.leaseOptions(),
        graceMs: leaseGraceMs * (1 + rank),
        ...(lapsedAt === undefined ? {} : { lapsedAt: expiresAt }),
      })
      if (delta === undefined) continue
      const why = revoked
        ? 'its owner is no longer trusted as a coordinator'
        : lostAt !== undefined && lostAt < (lease?.expiresAt ?? 0)
          ? 'owner lost'
          : 'lease lapsed'
      this.log('taking over run %s from %s (%s)', entry.id, lease?.owner ?? 'nobody', why)
      this.countTakeover(revoked ? 'owner_untrusted' : why === 'owner lost' ? 'owner_lost' : 'lease_lapsed')
      delta.merge(
        entry.state.appendLog(
          this.nodeEvent(
            `coordinator took over the run from ${lease?.owner ?? 'nobody'} (${why})`,
            'warning',
          ),
        ),
      )
      entry.redispatch = true
      const previous = lease?.owner === this.init.self ? undefined : lease?.owner
      // Until the next complete round with it (`mergedWith`), every job is looked for first.
      if (previous !== undefined) entry.takenFrom = previous
      this.changed(entry, delta)
      if (revoked && previous !== undefined) this.init.tellPreviousOwner(previous, delta)
    }
  }

  private countTakeover(reason: string): void {
    this.takeovers.set(reason, (this.takeovers.get(reason) ?? 0) + 1)
  }

  /**
   * Re-acquires this node's own lapsed lease: merge with every live coordinator first, then take
   * the run over like any other lapsed lease (re-following every attempt in flight) — unless the
   * merge showed that another coordinator took it meanwhile.
   */
  private reclaim(entry: RunEntry): void {
    if (entry.reclaiming) return
    entry.reclaiming = true
    entry.clearWake()
    const lapsedAt = entry.state.lease?.expiresAt ?? 0
    this.log(
      'own lease of run %s lapsed %d ms ago: merging with peers before re-acquiring it',
      entry.id,
      Date.now() - lapsedAt,
    )
    this.init
      .syncPeers()
      .catch((err: Error) => this.log('sync before re-acquiring run %s failed: %s', entry.id, err.message))
      .finally(() => {
        entry.reclaiming = false
        if (!this.running || entry.terminal) return
        const now = Date.now()
        const lease = entry.state.lease
        if (lease?.owner !== this.init.self) return
        if (now < lease.expiresAt) {
          // A peer's merge renewed it? Only we write our own lease; nothing to do but drive.
          this.touch(entry)
          return
        }
        const delta = takeOverLease(entry.state, this.hlc.now(), this.init.self, now, this.leaseOptions())
        if (delta === undefined) return
        this.countTakeover('reacquired')
        delta.merge(
          entry.state.appendLog(
            this.nodeEvent(
              `coordinator re-acquired its lapsed lease after merging with its peers (lapsed ${now - lapsedAt} ms ago)`,
              'warning',
            ),
          ),
        )
        entry.redispatch = true
        this.changed(entry, delta)
      })
  }

  /**
   * Marks a run changed: it is flushed at the end of this turn, and re-planned (when owned) unless
   * every change of the turn was one that cannot make anything due (`replan: false`).
   */
  touch(entry: RunEntry, replan = true): void {
    if (replan) entry.replan = true
    this.dirty.add(entry)
    if (this.flushing) return
    this.flushing = true
    setImmediate(() => this.flush())
  }

  // --- internals ---------------------------------------------------------------------------

  private changed(entry: RunEntry, delta: RunState, replan = true): void {
    entry.addGossip(delta)
    this.touch(entry, replan)
  }

  private leaseOptions() {
    return { ttlMs: this.init.limits.leaseTtlMs, graceMs: this.init.limits.leaseGraceMs }
  }

  /**
   * 0 for the member of the run's replica set that takes it over first (rendezvous order), 1
   * next…; never (Infinity) for a coordinator outside the set.
   */
  private takeoverRank(run: string, lapsedOwner: string | undefined): number {
    const members = this.init.replicaSet(run).filter((peer) => peer !== lapsedOwner)
    const rank = members.indexOf(this.init.self)
    return rank < 0 ? Number.POSITIVE_INFINITY : rank
  }

  private nodeEvent(message: string, severity: 'info' | 'warning'): LogEntry {
    return { hlc: this.hlc.now(), kind: 'event', type: 'node_status', severity, message }
  }

  private receiveStamp(stamp: string): void {
    try {
      this.hlc.receive(stamp)
    } catch {
      // A peer's clock far ahead: its writes still merge, our clock just does not follow it.
    }
  }

  private flush(): void {
    this.flushing = false
    const entries = [...this.dirty]
    this.dirty.clear()
    const now = Date.now()
    for (const entry of entries) {
      // Handed off meanwhile: nothing of it is persisted or sent again.
      if (this.runs.get(entry.id) !== entry) continue
      const replan = entry.replan
      entry.replan = false
      if (this.running && this.drives(entry, now) && entry.ensureWorkflow() !== undefined) {
        if (replan) this.drive(entry, now)
      } else entry.refreshStatus(now)
      this.publish(entry)
    }
  }

  private drive(entry: RunEntry, now: number): void {
    const workflow = entry.workflow as CompiledWorkflow
    const { maxInFlight, runConcurrency } = this.init.limits
    let result: ReturnType<typeof plan>
    const keeper = this.blobs
    try {
      result = plan(workflow, entry.state, now, {
        maxConcurrency: runConcurrency,
        maxDispatch: Math.max(0, maxInFlight - this.tracker.size),
        redispatchInFlight: entry.redispatch,
        ...(keeper === undefined ? {} : { blobs: (digest: string) => keeper.value(digest) }),
      })
    } catch (err) {
      this.log.error('planning run %s failed: %s', entry.id, (err as Error).message)
      return
    }
    // Right after a takeover or a merge, the previous owner may have sent a job whose dispatch
    // never reached this replica (it was cut off just after sending): every job of this plan is
    // looked for on the supervisors before it is sent, under its deterministic id — and every
    // later one too while the run's previous owner has not been merged with since (it may have
    // learnt of a result this replica had not, and sent the next step before it was cut off).
    const unsure = entry.redispatch
    const takenOver = entry.takenFrom !== undefined
    entry.redispatch = false
    // Where the run's jobs were placed: read once per plan, and only when a job is followed.
    let placed: Map<string, string> | undefined
    for (const action of result.actions) {
      // A re-dispatch of an attempt already in flight is followed (found where it is, or sent
      // again); the step's state stays as it is.
      const inFlight = action.type === 'dispatch' && this.inFlightAt(entry, action.step, action.attempt)
      if (!inFlight) entry.addGossip(commitAction(entry.state, action, this.hlc.now()))
      if (action.type === 'dispatch') {
        const authority = runAuthority(entry.state.meta)
        const secrets = stepSecrets(workflow, action.step, entry.state.meta?.secrets)
        if (inFlight || unsure || takenOver)
          this.tracker.follow(
            entry.id,
            action,
            authority,
            secrets,
            () => {
              placed ??= placements(entry.state)
              return placed.get(action.jobId)
            },
            inFlight || unsure ? 'wait' : 'answer',
          )
        else this.tracker.send(entry.id, action, authority, secrets)
      } else if ((action.type === 'timeout' || action.type === 'cancel') && action.jobId !== undefined)
        this.tracker.cancel(action.jobId)
    }
    if (result.needBlobs.length > 0)
      keeper?.load(entry.id, result.needBlobs, entry.state, this.blobSources(entry))
    entry.status = result.status
    if (entry.terminal) {
      entry.clearWake()
      for (const jobId of this.tracker.jobsOf(entry.id)) this.tracker.cancel(jobId)
      return
    }
    this.wakeAt(entry, result.wakeAt)
  }

  private inFlightAt(entry: RunEntry, step: string, attempt: number): boolean {
    const current = entry.state.step(step)
    return (
      current !== undefined &&
      current.attempt === attempt &&
      (current.phase === 'dispatched' || current.phase === 'running')
    )
  }

  private wakeAt(entry: RunEntry, at: number | undefined): void {
    if (at === entry.wakeAt) return
    entry.clearWake()
    if (at === undefined) return
    entry.wakeAt = at
    // A sleep, signal wait or run timeout may be further than setTimeout's range: a plain timer
    // would fire at once, and the plan it runs would set it again, for ever.
    entry.wakeTimer = setLongTimeout(
      () => {
        entry.wakeTimer = undefined
        entry.wakeAt = undefined
        this.touch(entry)
      },
      Math.max(0, at - Date.now()) + 1,
      { unref: true },
    )
  }

  private publish(entry: RunEntry): void {
    const gossip = entry.takeGossip()
    if (gossip !== undefined && !gossip.isEmpty()) this.init.publishDelta(gossip)
    // Local changes are exactly the gossip delta; after a merge, scan for what the merge added too
    // (`deltaSince` walks the whole run, so it is kept off the owner's hot path).
    const since = entry.mergedSince
    entry.mergedSince = undefined
    const delta = since === undefined ? gossip : entry.state.deltaSince(since)
    if (delta === undefined || delta.isEmpty()) return
    this.persist(entry, delta)
    for (const log of delta.log()) {
      const event = monitorEvent(entry.id, log)
      if (event !== undefined) this.init.onEvent(event, hlcNode(log.hlc) === this.init.self)
    }
    this.init.onRunChanged(entry)
  }

  private persist(entry: RunEntry, delta: RunState): void {
    const store = this.init.store
    const compact = ++entry.appended >= COMPACT_AFTER_DELTAS
    if (compact) entry.appended = 0
    void this.write(
      entry.id,
      async () => {
        await store.append(delta)
        if (compact) await store.compact(entry.id)
      },
      (err) => {
        this.failedWrites++
        this.log.error('persisting run %s failed: %s', entry.id, err.message)
      },
    )
  }

  /** Queues `work` after the run's writes so far; settles when it is done (failures go to `failed`). */
  private write(run: string, work: () => Promise<void>, failed: (err: Error) => void): Promise<void> {
    const tail = (this.writes.get(run) ?? Promise.resolve()).then(work).catch(failed)
    this.writes.set(run, tail)
    return tail.then(() => {
      if (this.writes.get(run) === tail) this.writes.delete(run)
    })
  }

  /** Resolves once every write queued before the call is done. */
  private async written(): Promise<void> {
    await Promise.all([...this.writes.values()])
  }

  /** Records where an owned run's job is, for a coordinator that takes the run over. */
  private onPlaced(job: TrackedJob, supervisor: string): void {
    const entry = this.runs.get(job.run)
    if (entry === undefined || !this.owns(entry)) return
    this.changed(entry, entry.state.appendLog(placementRecord(this.hlc.now(), job, supervisor)), false)
  }

  /** The provenance record of a signed job (what its result answers), in the run's log. */
  private onSigned(job: TrackedJob, envelope: JobEnvelope): void {
    const entry = this.runs.get(job.run)
    if (entry === undefined || !this.owns(entry)) return
    this.changed(
      entry,
      entry.state.appendLog(dispatchRecord(this.hlc.now(), envelope, job.step, job.attempt)),
      false,
    )
  }

  /** Peers that may hold a run's blobs besides those a reference names: its owner, live coordinators. */
  private blobSources(entry: RunEntry): string[] {
    const owner = entry.state.lease?.owner
    return [...(owner === undefined ? [] : [owner]), ...this.init.liveCoordinators()]
  }

  /** A job's output is a blob on its runner: fetch it, then record the step with a reference. */
  private adoptOutput(job: TrackedJob, event: JobEvent, supervisor: string, fetch: FetchOutput): void {
    const keeper = this.blobs
    const at = { step: fetch.step, attempt: fetch.attempt }
    const adopted: Promise<JobUpdate> =
      keeper === undefined
        ? Promise.resolve({
            type: 'failed',
            ...at,
            error: {
              type: 'BlobUnavailable',
              message: 'this coordinator keeps no blobs',
              nonRetryable: true,
            },
          })
        : keeper.adopt(job.run, fetch.digest, fetch.producer).then(
            (blob): JobUpdate => ({ type: 'succeeded', ...at, blob }),
            (err: Error): JobUpdate => ({
              type: 'failed',
              ...at,
              error: { type: 'BlobUnavailable', message: `output ${fetch.digest}: ${err.message}` },
            }),
          )
    adopted
      .then((update) => this.recordUpdate(job, event, supervisor, update))
      .catch((err: Error) => this.log.error('job %s: %s', job.jobId, err.message))
  }

  private onJobEvent(job: TrackedJob, event: JobEvent, supervisor: string): void {
    const entry = this.runs.get(job.run)
    if (entry === undefined || entry.workflow === undefined || !this.owns(entry)) return
    const update = jobUpdateOf(job, event, this.results)
    if (update === undefined) return
    if (update.type === 'fetch') this.adoptOutput(job, event, supervisor, update)
    else this.recordUpdate(job, event, supervisor, update)
  }

  private recordUpdate(job: TrackedJob, event: JobEvent, supervisor: string, update: JobUpdate): void {
    const entry = this.runs.get(job.run)
    const workflow = entry?.workflow
    if (entry === undefined || workflow === undefined || !this.owns(entry)) return
    let delta: RunState | undefined
    try {
      delta = recordJobUpdate(workflow, entry.state, update, this.hlc.now())
    } catch (err) {
      this.log.error('job %s: %s', job.jobId, (err as Error).message)
    }
    if (update.type !== 'started') {
      // A slot is free again: runs waiting for one may go on.
      if (this.tracker.size + 1 >= this.init.limits.maxInFlight)
        for (const other of this.runs.values()) if (!other.terminal && this.owns(other)) this.touch(other)
    }
    if (delta === undefined) return
    if (update.type !== 'started') {
      delta.merge(entry.state.appendLog(jobTrace(this.hlc.now(), job, event, supervisor)))
      const signed = this.results.verified(event)
      if (signed !== undefined)
        for (const log of provenanceRecords(() => this.hlc.now(), job, signed))
          delta.merge(entry.state.appendLog(log))
    }
    // A job that started changes no step's readiness nor any deadline: no plan needed.
    this.changed(entry, delta, update.type !== 'started')
    if (update.type !== 'started') this.copyLogs(entry, job, supervisor)
  }

  /** Copies what the job printed into the run's log (bounded), once it ended. */
  private copyLogs(entry: RunEntry, job: TrackedJob, supervisor: string): void {
    this.tracker
      .logs(supervisor, job.jobId)
      .then((lines) => {
        if (lines.length === 0) return
        const delta = new RunState(entry.id)
        for (const line of lines.slice(-MAX_JOB_LOG_LINES)) {
          delta.merge(
            appendStepLog(entry.state, this.hlc.now(), {
              step: job.step,
              attempt: job.attempt,
              stream: 'output',
              message: line,
            }),
          )
        }
        this.changed(entry, delta, false)
      })
      .catch((err: Error) => this.log('logs of %s: %s', job.jobId, err.message))
  }
}
