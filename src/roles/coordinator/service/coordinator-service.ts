/**
 * The coordinator role: accepts workflows, drives their runs through supervisors, replicates each
 * run's state among coordinators, and serves the API of ../API.md. The engine (run-engine.ts) does
 * the scheduling; this class wires it to the node — gossip of deltas and events, anti-entropy,
 * the RPC surface, triggers — and answers the API's questions from the replicated state.
 */
import type { ComponentLogger, Logger, Startable } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { anySignal } from 'any-signal'
import type { Datastore } from 'interface-datastore'
import { TypedEventEmitter } from 'main-event'
import { CallerAuthority } from '../../../node/caller-authority.js'
import type { HttpGateway } from '../../../node/gateway/http-gateway.js'
import type { MeshLibp2p } from '../../../node/node.js'
import type { NodeTracing } from '../../../node/telemetry/index.js'
import type { NodeTrust } from '../../../node/trust.js'
import type { BlobService } from '../../../protocols/blob/blob-service.js'
import { EventsGossip, type MonitorEvent } from '../../../protocols/events/index.js'
import { type TopicStats, trustedPublisher } from '../../../protocols/gossip/index.js'
import {
  runnerRecipients,
  sealSecret,
  toHex,
  verifyAuthoritySignature,
} from '../../../protocols/jobs/index.js'
import type { LivenessService, LivePeer } from '../../../protocols/liveness/index.js'
import {
  type AnyMethodDefinition,
  type Caller,
  isUnreachable,
  type MethodRegistry,
  shouldFailover,
  UnavailableError,
} from '../../../protocols/rpc/index.js'
import { DEFAULT_LEASE_GRACE_MS, DEFAULT_LEASE_TTL_MS } from '../../../protocols/state/constants.js'
import type { RunState } from '../../../protocols/state/run-state.js'
import { StateStore } from '../../../protocols/state/state-store.js'
import { StateGossip, type SyncHost, syncMethod } from '../../../protocols/state/sync/index.js'
import type { RunnerService } from '../../runner/index.js'
import type { SupervisorService } from '../../supervisor/index.js'
import { exportRunBundle, type RunBundle } from '../provenance/index.js'
import { describeRun, type RunStatus, UnknownStepError } from '../scheduling/index.js'
import type { TriggerDefinition } from '../triggers/definition.js'
import { HOOK_SECRET_NAME, type TriggerSealing } from '../triggers/trigger-record.js'
import { TriggerService } from '../triggers/trigger-service.js'
import { compileWorkflow } from '../workflow/compile.js'
import { DEFAULT_RUNNER_KINDS } from '../workflow/constants.js'
import type { CompiledWorkflow } from '../workflow/types.js'
import { Admission, parseDocument, type SubmitOptions } from './admission.js'
import type {
  LogLine,
  PendingStep,
  RunErrorRecord,
  RunMetrics,
  RunSummary,
  RunView,
  TriggerSummary,
} from './api-types.js'
import { checkStepCapabilities } from './authority-check.js'
import type { CoordinatorConfig } from './config.js'
import {
  DEFAULT_LEASE_CHECK_MS,
  DEFAULT_LIST_LIMIT,
  DEFAULT_MAX_IN_FLIGHT,
  DEFAULT_RECONCILE_INTERVAL_MS,
  DEFAULT_REPLICAS,
  DEFAULT_RUN_CONCURRENCY,
  DEFAULT_RUN_RETENTION_MS,
  DEFAULT_SUPERVISOR_LOSS_MS,
  DEFAULT_SYNC_INTERVAL_MS,
  DEFAULT_WAIT_MS,
  MAX_RETENTION_SWEEP_MS,
  RUNS_PREFIX,
} from './constants.js'
import { controlMethods } from './control-methods.js'
import {
  CoordinatorNotRunningError,
  RunExpiredError,
  RunFinishedError,
  RunNotExportableError,
  RunNotFoundError,
  TriggerAccessDeniedError,
} from './errors.js'
import { exportRunMethod } from './export-method.js'
import { FORWARD_METHOD, forwardedCaller, forwardMethod, isForwarded } from './forwarding.js'
import type { ResultStats } from './job-reports.js'
import type { AdoptionStats } from './job-tracker.js'
import { coordinatorMethods, coordinatorSubscriptions } from './methods.js'
import { PeerSync, type PeerSyncStats } from './peer-sync.js'
import { ReplicaHandoff } from './replica-handoff.js'
import { ReplicaPush, type ReplicaPushStats } from './replica-push.js'
import { ReplicaSets } from './replica-set.js'
import { RunAccess, type RunAction, runAuthority } from './run-access.js'
import { RunEngine } from './run-engine.js'
import type { RunEntry } from './run-entry.js'
import { RunRetention } from './run-retention.js'
import { checkRunSecrets, type SecretUse, secretUses } from './run-secrets.js'
import { type StepItemsPage, stepItems } from './step-items.js'
import { logLines, monitorEvent, pendingSteps, runErrors, runMetrics, runSummary, runView } from './views.js'

/** The parts of a node the coordinator uses (a HorusNode is one). */
export interface CoordinatorComponents {
  /** The node's blob service, for step outputs too large to travel inline. */
  blobs?: BlobService
  peerId: string
  libp2p: MeshLibp2p
  datastore: Datastore
  logger: ComponentLogger
  liveness: LivenessService
  trust: Pick<NodeTrust, 'signer' | 'policy' | 'secrets'>
  rpc: MethodRegistry
  gateway?: HttpGateway | undefined
  /** The node's tracing; undefined when off. */
  tracing?: NodeTracing | undefined
}

export interface CoordinatorOptions extends CoordinatorConfig {
  /** The supervisor of the same node, called directly. */
  localSupervisor?: SupervisorService
  /** The runner of the same node: its kinds are known to workflow validation. */
  localRunner?: Pick<RunnerService, 'capabilities'>
  /** How often lapsed leases are looked for. @default DEFAULT_LEASE_CHECK_MS (1 s) */
  leaseCheckMs?: number
  /** @default DEFAULT_RECONCILE_INTERVAL_MS (5 s) */
  reconcileIntervalMs?: number
  /** A cron tick not started by its designated coordinator is started by another after this long. @default 3_000 */
  triggerFallbackMs?: number
}

export interface CoordinatorEvents {
  /** Every monitor event of every run this node holds, and node status events. */
  'monitor:event': CustomEvent<MonitorEvent>
  /** A run's state changed (locally or by merge). */
  'run:changed': CustomEvent<string>
}

export interface CoordinatorStats {
  /** The state and events topics' validators: accepted, rejected and ignored by reason. */
  topics: TopicStats[]
  /** Step results believed and refused (by reason). */
  results: ResultStats
  /** Jobs found under a step's id: followed, or refused (by reason). */
  adoptions: AdoptionStats
  /** Leases this node took over, by reason (`lease_lapsed`, `owner_lost`, `owner_untrusted`, `reacquired`). */
  takeovers: Record<string, number>
  /** Anti-entropy rounds this node started (ok / failed) and the entries they moved. */
  sync: PeerSyncStats
  /** Run replicas held here, deltas pushed to replica-set members, and runs handed off to their set. */
  replication: ReplicaPushStats & { held: number; handedOff: number }
  /** Jobs of this coordinator's runs in flight on supervisors. */
  jobsInFlight: number
}

const TERMINAL: ReadonlySet<RunStatus> = new Set(['completed', 'failed', 'cancelled'])

/**
 * Methods a coordinator outside a run's replica set forwards to a member (forwarding.ts):
 * every per-run read and control except the local `get_run_digest`, and list_workflows' local scope.
 */
const FORWARDED_METHODS: ReadonlySet<string> = new Set([
  'coordinator.get_workflow_status',
  'coordinator.cancel_workflow',
  'coordinator.pause_workflow',
  'coordinator.resume_workflow',
  'coordinator.get_workflow_logs',
  'coordinator.get_workflow_errors',
  'coordinator.get_workflow_metrics',
  'coordinator.pending_steps',
  'coordinator.wait_for_completion',
  'coordinator.retry_workflow',
  'coordinator.signal_workflow',
  'coordinator.get_step_items',
  'coordinator.export_run',
  'coordinator.get_run_events',
  'coordinator.list_workflows',
])

/** Forwarded controls that must not run twice (a second retry reruns again, a second signal fails). */
const RUN_TWICE_UNSAFE: ReadonlySet<string> = new Set([
  'coordinator.cancel_workflow',
  'coordinator.retry_workflow',
  'coordinator.signal_workflow',
])

export class CoordinatorService extends TypedEventEmitter<CoordinatorEvents> implements Startable {
  readonly engine: RunEngine
  readonly triggers: TriggerService
  /** Who may do what: the trust policy and HTTP callers' grants. */
  readonly authority: CallerAuthority
  /** Who may touch a run, with its audit trail. */
  readonly access: RunAccess
  private readonly admission: Admission
  private readonly components: CoordinatorComponents
  private readonly options: CoordinatorOptions
  private readonly log: Logger
  private readonly stateGossip: StateGossip
  private readonly eventsGossip: EventsGossip
  private readonly peerSync: PeerSync
  /** Which coordinators hold each run. */
  readonly sets: ReplicaSets
  private readonly push: ReplicaPush
  private readonly handoff: ReplicaHandoff
  /** Finished runs deleted after the retention period; what arrives for them is dropped. */
  readonly retention: RunRetention
  private readonly timers: NodeJS.Timeout[] = []
  private running = false

  constructor(components: CoordinatorComponents, options: CoordinatorOptions = {}) {
    super()
    this.components = components
    this.options = options
    this.log = components.logger.forComponent('horus:coordinator')
    this.authority = new CallerAuthority(
      () => components.trust.policy,
      toHex(components.trust.signer.publicKey),
    )
    const pubsub = components.libp2p.services.pubsub
    this.sets = new ReplicaSets({
      self: components.peerId,
      replicas: options.replicas ?? DEFAULT_REPLICAS,
      liveCoordinators: () => this.liveCoordinators().map((p) => p.peerId),
    })
    this.engine = new RunEngine({
      self: components.peerId,
      logger: components.logger,
      libp2p: components.libp2p,
      liveness: components.liveness,
      signer: components.trust.signer,
      policy: () => components.trust.policy,
      store: new StateStore({ datastore: components.datastore, prefix: RUNS_PREFIX }),
      localSupervisor: options.localSupervisor,
      configuredSupervisors: options.supervisors ?? [],
      blobs: components.blobs,
      limits: {
        maxInFlight: options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
        runConcurrency: options.runConcurrency ?? DEFAULT_RUN_CONCURRENCY,
        leaseTtlMs: options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS,
        leaseGraceMs: options.leaseGraceMs ?? DEFAULT_LEASE_GRACE_MS,
        supervisorLossMs: options.supervisorLossMs ?? DEFAULT_SUPERVISOR_LOSS_MS,
      },
      liveCoordinators: () => this.liveCoordinators().map((p) => p.peerId),
      replicaSet: (run) => this.sets.members(run),
      syncPeers: () => this.peerSync.pull(),
      // Only to the other members of the run's replica set: state is sharded, not gossiped to all.
      publishDelta: (delta) => {
        const peers = this.sets.peers(delta.run)
        this.push.push(delta, peers)
        // Held outside its set (a submission received here): give it up as soon as they hold it.
        if (!this.sets.members(delta.run).includes(this.peerId))
          for (const peer of peers) this.peerSync.confirmSoon(peer, [delta.run])
      },
      tellPreviousOwner: (owner, takeover) => {
        // Only the takeover itself (the lease and its log line), and only to a peer not sent the
        // run's deltas anyway: a revoked owner learns it lost the run, not what happens next.
        if (!this.sets.peers(takeover.run).includes(owner)) this.push.push(takeover, [owner], { dial: true })
      },
      onEvent: (event, local) => {
        this.safeDispatchEvent('monitor:event', { detail: event })
        // The log cursor means nothing to other nodes (and older ones refuse unknown fields).
        if (local) this.eventsGossip.publish(withoutId(event))
      },
      onRunChanged: (entry) => this.safeDispatchEvent('run:changed', { detail: entry.id }),
      tracing: components.tracing,
    })
    const retentionMs = options.runRetentionMs ?? DEFAULT_RUN_RETENTION_MS
    this.retention = new RunRetention({
      datastore: components.datastore,
      store: new StateStore({ datastore: components.datastore, prefix: RUNS_PREFIX }),
      runs: this.engine.runs,
      retentionMs,
      sweepIntervalMs: Math.min(MAX_RETENTION_SWEEP_MS, Math.max(1, Math.floor(retentionMs / 4))),
      log: this.log,
    })
    const coordinatorsOnly = trustedPublisher(() => components.trust.policy, 'coordinator')
    this.access = new RunAccess({
      authority: this.authority,
      record: (entry, log) => this.engine.record(entry, log),
      stamp: () => this.engine.hlc.now(),
    })
    this.admission = new Admission({
      authority: this.authority,
      engine: this.engine,
      access: this.access,
      signer: components.trust.signer,
      log: this.log,
      compile: (document) => this.compile(document),
      register: (definition) => this.triggers.register(definition),
      expired: (runId) => this.retention.isExpired(runId) !== undefined,
      newRunId: () => this.sets.newRunId(),
      // Outside the run's set, this coordinator holds none of the mesh's runs of that id: ask a member.
      fetchRun: async (runId) => {
        if (this.sets.members(runId).includes(this.peerId)) return
        const peers = this.sets.peers(runId)
        for (const peer of peers) {
          if (!(await this.peerSync.fetch(peer, runId))) continue
          // The copy fetched here is held outside its set: give it up once the members confirm.
          for (const member of peers) this.peerSync.confirmSoon(member, [runId])
          return
        }
      },
    })
    this.stateGossip = new StateGossip({
      pubsub,
      log: this.log,
      publisher: coordinatorsOnly,
      onDelta: (delta) => this.mergeRemote(delta),
    })
    this.eventsGossip = new EventsGossip({
      pubsub,
      log: this.log,
      publisher: coordinatorsOnly,
      onEvent: (event) => {
        // Events of runs replicated here already come from their replicated log (a copy held
        // outside the run's set is not: the members do not send it their changes).
        if (event.runId === undefined || !this.engine.runs.has(event.runId) || this.forwardsRun(event.runId))
          this.safeDispatchEvent('monitor:event', { detail: event })
      },
    })
    this.triggers = new TriggerService({
      datastore: components.datastore,
      logger: components.logger,
      self: components.peerId,
      gateway: components.gateway,
      pubsub,
      isCoordinator: (peer) => this.isCoordinator(peer),
      stamp: () => this.engine.hlc.now(),
      sealing: this.hookSealing(),
      unfinishedRuns: (name) =>
        [...this.engine.runs.values()]
          .filter((entry) => entry.id.startsWith(`cron.${name}.`) && !entry.terminal)
          .map((entry) => entry.id),
      cancelRun: (runId, reason) => {
        const entry = this.engine.runs.get(runId)
        if (entry !== undefined && !entry.terminal) this.engine.cancel(entry, reason)
      },
      liveCoordinators: () => this.liveCoordinators().map((p) => p.peerId),
      hasRun: (runId) => this.engine.runs.has(runId),
      sign: (definition) => this.admission.signRegistration(definition),
      problem: (definition) =>
        definition.registration === undefined
          ? 'registered before registrations were signed: register it again'
          : verifyAuthoritySignature({ trigger: definition.registration })
            ? undefined
            : 'its registration signature does not verify',
      start: (definition, inputs, runId, at) => {
        this.assertRunning()
        return this.admission.startTriggered(definition, inputs, runId, at)
      },
      fallbackMs: options.triggerFallbackMs ?? 3_000,
      configured: options.triggers ?? [],
    })
    this.peerSync = new PeerSync({
      libp2p: components.libp2p,
      liveness: components.liveness,
      logger: components.logger,
      host: this.syncHost(),
      coordinators: () => this.liveCoordinators().map((p) => p.peerId),
      isCoordinator: (peer) => this.isCoordinator(peer),
      // Triggers ride the same rounds as runs: whoever repairs runs repairs triggers too.
      alsoSync: (client, signal) => this.triggers.replica.syncWith(client, signal),
      onRound: (peer, stats, { complete }) => {
        this.handoff.onRound(peer, stats.confirmed)
        if (complete) this.engine.mergedWith(peer)
      },
    })
    this.push = new ReplicaPush({
      log: this.log,
      client: (peer, { dial }) => (dial ? this.peerSync.client(peer) : this.peerSync.connectedClient(peer)),
      connected: (peer) => {
        try {
          return components.libp2p.getConnections(peerIdFromString(peer)).length > 0
        } catch {
          return false
        }
      },
      belongs: (run, peer) => this.isCoordinator(peer) && this.sets.peers(run).includes(peer),
    })
    this.handoff = new ReplicaHandoff({
      self: components.peerId,
      sets: this.sets,
      runs: this.engine.runs,
      handOverLease: (entry, owner) => this.engine.handOverLease(entry, owner),
      drop: async (entry) => {
        await this.engine.drop(entry)
        // Whoever waits on it here goes on waiting at a member.
        this.safeDispatchEvent('run:changed', { detail: entry.id })
      },
      log: this.log,
    })
    components.rpc.add(
      ...[...coordinatorMethods(this), ...controlMethods(this), exportRunMethod(this)].map((def) =>
        this.forwarding(def),
      ),
      forwardMethod({
        registry: components.rpc,
        forwardable: FORWARDED_METHODS,
        isCoordinator: (peer) => this.isCoordinator(peer),
      }),
      syncMethod(this.syncHost(), (peer) => this.isCoordinator(peer)),
      this.triggers.replica.syncMethod(),
    )
    components.rpc.addSubscription(...coordinatorSubscriptions(this))
  }

  get peerId(): string {
    return this.components.peerId
  }

  get isRunning(): boolean {
    return this.running
  }

  async start(): Promise<void> {
    if (this.running) return
    await this.engine.start()
    await this.retention.start()
    await this.retention.sweep()
    this.running = true
    this.push.start()
    this.stateGossip.start()
    this.eventsGossip.start()
    const every = (ms: number, fn: () => void): void => {
      const timer = setInterval(fn, ms)
      timer.unref()
      this.timers.push(timer)
    }
    every(this.options.leaseCheckMs ?? DEFAULT_LEASE_CHECK_MS, () => this.engine.checkLeases())
    every(this.options.reconcileIntervalMs ?? DEFAULT_RECONCILE_INTERVAL_MS, () =>
      this.engine.tracker.reconcile(),
    )
    every(this.options.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS, () => this.peerSync.syncAll())
    this.peerSync.start()
    this.components.liveness.addEventListener('peer:lost', this.onPeerLost)
    this.components.liveness.addEventListener('peer:alive', this.onPeerAlive)
    await this.triggers.start()
    this.log('coordinator started with %d run(s)', this.engine.runs.size)
    this.peerSync.syncAll()
  }

  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    for (const timer of this.timers.splice(0)) clearInterval(timer)
    this.components.liveness.removeEventListener('peer:lost', this.onPeerLost)
    this.components.liveness.removeEventListener('peer:alive', this.onPeerAlive)
    await this.triggers.stop()
    this.stateGossip.stop()
    this.eventsGossip.stop()
    this.push.stop()
    await this.peerSync.stop()
    await this.handoff.idle()
    await this.retention.stop()
    await this.engine.stop()
  }

  // --- the API (../API.md) -------------------------------------------------------------------

  /**
   * Validates and starts a workflow run; returns its id. A libp2p caller must send a submission it
   * signed (SDK, CLI); gateway and in-process callers act as this node, which signs one. See
   * admission.ts for what is checked; resubmitting the same signed submission answers the same run.
   * `options.secrets`: the sealed values of the secrets its steps name (see run-secrets.ts), all of
   * them and no others.
   */
  async submit(workflow: unknown, inputs: unknown = {}, options: SubmitOptions = {}): Promise<string> {
    this.assertRunning()
    return this.admission.submit(workflow, inputs, options)
  }

  /** The capabilities a run of `workflow` would dispatch jobs to. */
  capabilitiesOf(workflow: unknown): Set<string> {
    const runners = this.compile(workflow).steps.map((step) => step.runner)
    return new Set(runners.filter((runner): runner is string => runner !== undefined))
  }

  /** The secrets a workflow's steps name, with the runner keys (trusted here) to seal each to. */
  secretRecipients(workflow: unknown): SecretUse[] {
    const policy = this.components.trust.policy
    const local = this.options.localRunner
    const selfServes = (capability: string): boolean => local?.capabilities.includes(capability) ?? false
    return secretUses(this.compile(workflow), (capability) =>
      runnerRecipients(policy, capability, selfServes),
    )
  }

  compile(workflow: unknown): CompiledWorkflow {
    return compileWorkflow(parseDocument(workflow), { runners: this.runnerKinds() })
  }

  async status(runId: string, signal?: AbortSignal, caller?: Caller): Promise<RunView> {
    // RPC calls were forwarded before they got here; in-process ones (tools, benches) are now.
    if (this.forwardsRun(runId) && !isForwarded(caller))
      return (await this.forward(
        runId,
        'coordinator.get_workflow_status',
        { runId },
        caller,
        signal,
      )) as RunView
    const entry = await this.find(runId, signal, 'status', caller)
    return runView(entry.workflow as CompiledWorkflow, entry.state, Date.now())
  }

  /**
   * Runs this coordinator holds, newest first: the caller's own, or every run for an admin.
   * `page.query` keeps runs whose workflow name or run id contains it (any case); `page.after`
   * (a run id) starts after that run, for the next page.
   */
  list(status?: RunStatus, limit = DEFAULT_LIST_LIMIT, caller?: Caller, page: ListPage = {}): RunSummary[] {
    const who = this.authority.identify(caller)
    const now = Date.now()
    let anchor: ListAnchor | undefined
    if (page.after !== undefined && page.afterCreatedAt !== undefined)
      anchor = { id: page.after, createdAt: page.afterCreatedAt }
    else if (page.after !== undefined) {
      const entry = this.engine.runs.get(page.after)
      // A run the caller may not read is no anchor either: its existence is not the caller's business.
      if (entry === undefined || !this.access.mayRead(entry, who)) throw new RunNotFoundError(page.after)
      anchor = entry
    }
    const query = page.query?.toLowerCase()
    const out: Array<RunSummary & { created: number }> = []
    for (const entry of this.engine.runs.values()) {
      const workflow = entry.ensureWorkflow()
      if (workflow === undefined) continue
      if (status !== undefined && entry.status !== status) continue
      if (anchor !== undefined && !listedAfter(entry, anchor)) continue
      if (
        query !== undefined &&
        !workflow.name.toLowerCase().includes(query) &&
        !entry.id.toLowerCase().includes(query)
      )
        continue
      if (!this.access.mayRead(entry, who)) continue
      const finishedAt = TERMINAL.has(entry.status)
        ? describeRun(workflow, entry.state, now).finishedAt
        : undefined
      out.push({
        ...runSummary(entry.state, workflow.name, entry.status, entry.createdAt, finishedAt),
        created: entry.createdAt,
      })
    }
    out.sort((a, b) => b.created - a.created || (a.runId < b.runId ? -1 : 1))
    return out.slice(0, limit).map(({ created: _created, ...summary }) => summary)
  }

  /**
   * `list` across the mesh: this coordinator's runs and every live coordinator's (asked for the
   * caller, forwarding.ts), each run once, in the same order, so `page.after` pages through the
   * mesh's runs whichever coordinators hold them. A page holds at most MAX_MESH_PAGE runs (every
   * coordinator sends that many). A coordinator that does not answer in time is left out of the
   * page while its runs are surely on another member that answered (fewer than `replicas`
   * coordinators silent); otherwise the page fails (`UnavailableError`) rather than skip runs.
   */
  async listMesh(
    status: RunStatus | undefined,
    limit = DEFAULT_LIST_LIMIT,
    caller: Caller | undefined,
    page: ListPage = {},
    signal?: AbortSignal,
  ): Promise<RunSummary[]> {
    limit = Math.min(limit, MAX_MESH_PAGE)
    const afterCreatedAt =
      page.after === undefined ? undefined : await this.listPosition(page.after, caller, signal)
    const local: ListPage = {
      ...page,
      ...(afterCreatedAt === undefined ? {} : { afterCreatedAt }),
    }
    const found = new Map<string, RunSummary>()
    for (const summary of this.list(status, limit, caller, local)) found.set(summary.runId, summary)
    const envelope = {
      method: 'coordinator.list_workflows',
      params: { ...local, limit, scope: 'local', ...(status === undefined ? {} : { status }) },
      caller: forwardedCaller(this.authority.identify(caller)),
    }
    const peers = this.liveCoordinators().map((p) => p.peerId)
    const answers = await Promise.allSettled(
      peers.map((peer) =>
        this.peerSync.client(peer).call<unknown>(FORWARD_METHOD, envelope, {
          timeoutMs: LIST_PEER_TIMEOUT_MS,
          ...(signal === undefined ? {} : { signal }),
        }),
      ),
    )
    const silent: string[] = []
    answers.forEach((answer, i) => {
      if (answer.status === 'rejected') {
        silent.push(peers[i] as string)
        this.log('list_workflows: %s did not answer: %s', peers[i], (answer.reason as Error).message)
        return
      }
      if (!Array.isArray(answer.value)) return
      for (const summary of answer.value as RunSummary[]) {
        if (typeof summary?.runId !== 'string' || typeof summary.createdAt !== 'string') continue
        if (!found.has(summary.runId)) found.set(summary.runId, summary)
      }
    })
    // Every run is on `replicas` coordinators (all of them when fewer are alive): with fewer
    // silent than that, each run has a member that answered.
    if (silent.length >= this.sets.replicas && peers.length + 1 > this.sets.replicas) {
      throw new UnavailableError(
        `list_workflows: ${silent.length} coordinator(s) did not answer (${silent.join(', ')}); a page now could miss runs, try again`,
      )
    }
    return [...found.values()].sort(compareSummaries).slice(0, limit)
  }

  /** When the run `after` (a page's last) was created, if the caller may read it. */
  private async listPosition(
    after: string,
    caller: Caller | undefined,
    signal?: AbortSignal,
  ): Promise<number> {
    const held = this.engine.runs.get(after)
    if (held?.ensureWorkflow() !== undefined) {
      if (!this.access.mayRead(held, this.authority.identify(caller))) throw new RunNotFoundError(after)
      return held.createdAt
    }
    try {
      const view = this.forwardsRun(after)
        ? ((await this.forward(
            after,
            'coordinator.get_workflow_status',
            { runId: after },
            caller,
            signal,
          )) as {
            createdAt?: unknown
          })
        : await this.status(after, signal, caller)
      const at = typeof view.createdAt === 'string' ? Date.parse(view.createdAt) : Number.NaN
      if (Number.isFinite(at)) return at
    } catch {
      // Not found, expired or not the caller's: no anchor either way.
    }
    throw new RunNotFoundError(after)
  }

  async cancel(runId: string, signal?: AbortSignal, caller?: Caller): Promise<RunView> {
    const entry = await this.findUnfinished(runId, signal, 'cancel', caller)
    this.engine.cancel(entry, 'cancelled by request')
    return this.viewAfterFlush(entry)
  }

  async pause(runId: string, signal?: AbortSignal, caller?: Caller): Promise<RunView> {
    const entry = await this.findUnfinished(runId, signal, 'pause', caller)
    this.engine.setPaused(entry, true)
    return this.viewAfterFlush(entry)
  }

  async resume(runId: string, signal?: AbortSignal, caller?: Caller): Promise<RunView> {
    const entry = await this.findUnfinished(runId, signal, 'resume', caller)
    this.engine.setPaused(entry, false)
    return this.viewAfterFlush(entry)
  }

  /**
   * Reruns a finished run from its failed steps, or from `steps` (../workflow/README.md). A control
   * action: the run's submitter or an admin, audited.
   */
  async retry(
    runId: string,
    steps?: readonly string[],
    signal?: AbortSignal,
    caller?: Caller,
  ): Promise<RunView> {
    this.assertRunning()
    const entry = await this.find(runId, signal, 'retry', caller)
    // A rerun executes steps again: a gateway caller's grant must cover their capabilities, as it
    // must for a submission (the run's own authority was checked when it was submitted).
    const who = this.authority.identify(caller)
    const workflow = entry.ensureWorkflow()
    if (who.grant !== undefined && workflow !== undefined)
      checkStepCapabilities(workflow, this.authority, who)
    entry.refreshStatus(Date.now())
    this.engine.retry(entry, steps)
    return this.viewAfterFlush(entry)
  }

  /** Delivers a signal to a run's `wait_for_signal` step (now, or when it starts waiting); audited. */
  async signal(
    runId: string,
    name: string,
    data: unknown,
    signal?: AbortSignal,
    caller?: Caller,
  ): Promise<RunView> {
    this.assertRunning()
    const entry = await this.findUnfinished(runId, signal, 'signal', caller)
    // The deliverer's key goes into the run's log: a signal step's output is its data, so the
    // run's provenance names who supplied it (`horus workflow verify` checks it against the ACL).
    this.engine.signal(entry, name, data, this.authority.identify(caller).key)
    return this.viewAfterFlush(entry)
  }

  /** A page of a for_each step's children. */
  async stepItems(
    runId: string,
    stepId: string,
    page: { offset?: number; limit?: number } = {},
    signal?: AbortSignal,
    caller?: Caller,
  ): Promise<StepItemsPage> {
    const entry = await this.find(runId, signal, 'items', caller)
    const step = (entry.workflow as CompiledWorkflow).byId.get(stepId)
    if (step === undefined) throw new UnknownStepError(runId, stepId)
    return stepItems(entry.state, step, page.offset, page.limit)
  }

  async logs(runId: string, stepId?: string, signal?: AbortSignal, caller?: Caller): Promise<LogLine[]> {
    return logLines((await this.find(runId, signal, 'logs', caller)).state, stepId)
  }

  async errors(runId: string, signal?: AbortSignal, caller?: Caller): Promise<RunErrorRecord[]> {
    return runErrors((await this.find(runId, signal, 'errors', caller)).state)
  }

  async metrics(runId: string, signal?: AbortSignal, caller?: Caller): Promise<RunMetrics> {
    const entry = await this.find(runId, signal, 'metrics', caller)
    return runMetrics(describeRun(entry.workflow as CompiledWorkflow, entry.state, Date.now()))
  }

  async pending(runId: string, signal?: AbortSignal, caller?: Caller): Promise<PendingStep[]> {
    const entry = await this.find(runId, signal, 'pending', caller)
    const workflow = entry.workflow as CompiledWorkflow
    return pendingSteps(workflow, describeRun(workflow, entry.state, Date.now()))
  }

  /**
   * The run's provenance bundle (see ../provenance/): its signed authority, document, inputs,
   * every step attempt's signed envelopes and results, and the policy entries of their signers.
   */
  async exportRun(runId: string, signal?: AbortSignal, caller?: Caller): Promise<RunBundle> {
    const entry = await this.find(runId, signal, 'export', caller)
    const authority = runAuthority(entry.state.meta)
    if (authority === undefined) throw new RunNotExportableError(runId, 'it has no signed authority')
    entry.refreshStatus(Date.now())
    return exportRunBundle({
      state: entry.state,
      workflow: entry.workflow as CompiledWorkflow,
      authority,
      status: entry.status,
      policy: this.components.trust.policy,
      signer: this.components.trust.signer,
    })
  }

  /**
   * Makes `monitor:event` carry other coordinators' events (of runs not held here) until the
   * returned function is called: this node subscribes to the events topic only while someone
   * follows, so coordinators publish (and sign) events only while a subscriber somewhere reads them.
   */
  followPeerEvents(): () => void {
    return this.eventsGossip.want()
  }

  /** May the caller follow this run's events (audited like a read)? Without a run: see `mayReceive`. */
  async authorizeEvents(
    runId: string | undefined,
    caller: Caller | undefined,
    signal?: AbortSignal,
  ): Promise<void> {
    if (runId !== undefined) await this.find(runId, signal, 'events', caller)
  }

  /**
   * The run's monitor events whose id sorts after `after` (`''`: all of them), oldest first: the
   * history a subscriber missed. Call `authorizeEvents` first.
   */
  runEvents(runId: string, after: string): MonitorEvent[] {
    const entry = this.engine.runs.get(runId)
    if (entry === undefined) return []
    const events: MonitorEvent[] = []
    for (const log of entry.state.log()) {
      if (log.hlc <= after) continue
      const event = monitorEvent(runId, log)
      if (event !== undefined) events.push(event)
    }
    return events
  }

  /** Should this event reach a subscriber who is `caller`? Run events only for those who may read the run. */
  mayReceive(event: MonitorEvent, caller: Caller | undefined): boolean {
    const who = this.authority.identify(caller)
    if (who.via === 'local' || this.authority.isAdmin(who)) return true
    if (event.runId === undefined) return true
    const entry = this.engine.runs.get(event.runId)
    return entry !== undefined && this.access.mayRead(entry, who)
  }

  /** The run once terminal, or as it stands when `timeoutMs` passes or `signal` aborts. */
  async waitForCompletion(
    runId: string,
    timeoutMs = DEFAULT_WAIT_MS,
    signal?: AbortSignal,
    caller?: Caller,
  ): Promise<RunView> {
    const began = Date.now()
    const elsewhere = (ms: number): Promise<RunView> =>
      this.forward(
        runId,
        'coordinator.wait_for_completion',
        { runId, timeoutMs: Math.max(1, ms) },
        caller,
        signal,
        ms + 5_000,
      ) as Promise<RunView>
    if (this.forwardsRun(runId) && !isForwarded(caller)) return elsewhere(timeoutMs)
    const entry = await this.find(runId, signal, 'wait', caller)
    // Handed off to its replica set while waiting: a member waits for the rest of the time.
    const gone = (): boolean => this.engine.runs.get(runId) !== entry
    if (!entry.terminal) {
      const deadline = AbortSignal.timeout(timeoutMs)
      const stop = anySignal([signal, deadline])
      await new Promise<void>((resolve) => {
        const check = (evt?: CustomEvent<string>): void => {
          if (evt !== undefined && evt.detail !== runId) return
          if (!entry.terminal && !stop.aborted && !gone()) return
          this.removeEventListener('run:changed', check)
          stop.removeEventListener('abort', done)
          resolve()
        }
        const done = (): void => check()
        this.addEventListener('run:changed', check)
        stop.addEventListener('abort', done, { once: true })
        check()
      }).finally(() => stop.clear())
      if (!entry.terminal && gone() && !stop.aborted && !isForwarded(caller))
        return elsewhere(timeoutMs - (Date.now() - began))
    }
    return runView(entry.workflow as CompiledWorkflow, entry.state, Date.now())
  }

  /**
   * Registers (or replaces) a trigger; like a submission, under a registration signed by the
   * caller (or, for gateway and in-process callers, by this node). See admission.ts.
   */
  async registerTrigger(definition: TriggerDefinition, caller?: Caller): Promise<{ name: string }> {
    this.assertRunning()
    // A trigger fires with no client present to seal secret values: a run that needs some could never start.
    checkRunSecrets(this.compile(definition.workflow), {})
    this.assertMayChangeTrigger(definition.name, 'replacement', caller)
    return this.admission.registerTrigger(definition, caller)
  }

  /** Removes a registered trigger from every coordinator: its registrant or an admin. */
  async removeTrigger(name: string, caller?: Caller): Promise<{ name: string }> {
    this.assertRunning()
    this.assertMayChangeTrigger(name, 'removal', caller)
    await this.triggers.remove(name)
    return { name }
  }

  private assertMayChangeTrigger(name: string, action: string, caller: Caller | undefined): void {
    const registrant = this.triggers.registrant(name)
    if (registrant === undefined) return
    const who = this.authority.identify(caller)
    if (who.via === 'local' || this.authority.mayTouchRun(who, registrant)) return
    throw new TriggerAccessDeniedError(name, action, who.key)
  }

  /** Submissions and registrations refused, by reason (`capability_denied`, `bad_signature`…). */
  get refusals(): Readonly<Record<string, number>> {
    return this.admission.refusals
  }

  listTriggers(): TriggerSummary[] {
    return this.triggers.list()
  }

  /** What this coordinator refused from peers: gossip per topic, step results, squatted job ids. */
  stats(): CoordinatorStats {
    return {
      topics: [this.stateGossip.stats(), this.eventsGossip.stats()],
      results: this.engine.results.stats(),
      adoptions: this.engine.tracker.adoptionStats(),
      takeovers: Object.fromEntries(this.engine.takeovers),
      sync: { ...this.peerSync.stats, rounds: { ...this.peerSync.stats.rounds } },
      replication: {
        ...this.push.stats,
        held: this.engine.runs.size,
        handedOff: this.handoff.dropped,
      },
      jobsInFlight: this.engine.tracker.size,
    }
  }

  /** The hash of the local replica of a run (RunNotFoundError without one): equal once converged. */
  replicaDigest(runId: string): { runId: string; digest: string; owner?: string } {
    const state = this.engine.runs.get(runId)?.state
    if (state === undefined) throw new RunNotFoundError(runId)
    const owner = state.lease?.owner
    return { runId, digest: state.digest().hash, ...(owner === undefined ? {} : { owner }) }
  }

  /** The run's replicated state (tests, tools). */
  runState(runId: string): RunEntry | undefined {
    return this.engine.runs.get(runId)
  }

  // --- replica sets: forwarding ---------------------------------------------------------------

  /**
   * Is `runId` answered by another coordinator? When this one neither holds it nor is in its
   * replica set (nor expired it): then a member answers (forwarding.ts).
   */
  forwardsRun(runId: string): boolean {
    // A copy held outside the set is not kept up to date by the members (it is on its way out).
    return (
      this.running &&
      this.retention.isExpired(runId) === undefined &&
      !this.sets.members(runId).includes(this.peerId)
    )
  }

  /**
   * Calls `method` at the members of the run's replica set in rendezvous order, for `caller`:
   * the first that answers decides (its errors are the answer); an unreachable one is skipped.
   */
  async forward(
    runId: string,
    method: string,
    params: Record<string, unknown>,
    caller: Caller | undefined,
    signal?: AbortSignal,
    timeoutMs?: number,
  ): Promise<unknown> {
    const envelope = { method, params, caller: forwardedCaller(this.authority.identify(caller)) }
    const held = this.engine.runs.has(runId)
    // Changes just made here (a submission) are flushed next turn: let them reach the member first.
    if (held) await new Promise((resolve) => setImmediate(resolve))
    let last: unknown
    for (const peer of this.sets.peers(runId)) {
      if (held) await this.push.settled(peer, signal)
      try {
        return await this.peerSync.client(peer).call(FORWARD_METHOD, envelope, {
          timeoutMs: timeoutMs ?? FORWARD_TIMEOUT_MS,
          ...(signal === undefined ? {} : { signal }),
        })
      } catch (err) {
        // A control that may have run at that member (its session closed under the call) is not
        // sent to the next one: a retry or signal would run twice.
        const elsewhere = RUN_TWICE_UNSAFE.has(method)
          ? shouldFailover(err, { idempotent: false })
          : isUnreachable(err)
        if (!elsewhere || signal?.aborted === true) throw err
        last = err
      }
    }
    const why = last instanceof Error ? `: ${last.message}` : ''
    throw new UnavailableError(`no member of run ${runId}'s replica set could be reached${why}`)
  }

  /** `def`, answered by a member of the run's replica set when this coordinator is not one. */
  private forwarding(def: AnyMethodDefinition): AnyMethodDefinition {
    if (!FORWARDED_METHODS.has(def.name) || def.name === 'coordinator.list_workflows') return def
    type Handler = (params: Record<string, unknown>, ctx: { signal: AbortSignal; caller: Caller }) => unknown
    const handler = def.handler.bind(def) as unknown as Handler
    const forwarding: Handler = (params, ctx) => {
      const runId = params.runId
      if (typeof runId !== 'string' || isForwarded(ctx.caller) || !this.forwardsRun(runId))
        return handler(params, ctx)
      return this.forward(runId, def.name, params, ctx.caller, ctx.signal, def.timeoutMs).catch(
        (err: unknown) => {
          // No member reachable, but a copy is here (on its way to them): better than nothing.
          if (err instanceof UnavailableError && this.engine.runs.has(runId)) return handler(params, ctx)
          throw err
        },
      )
    }
    return { ...def, handler: forwarding as unknown as AnyMethodDefinition['handler'] }
  }

  // --- helpers -------------------------------------------------------------------------------

  private assertRunning(): void {
    if (!this.running) throw new CoordinatorNotRunningError()
  }

  /** Runner kinds workflows may name: built-ins, configured, announced by live runners, local. */
  runnerKinds(): Set<string> {
    const kinds = new Set<string>([...DEFAULT_RUNNER_KINDS, ...(this.options.runnerKinds ?? [])])
    for (const kind of this.options.localRunner?.capabilities ?? []) kinds.add(kind)
    for (const peer of this.components.liveness.alive()) for (const kind of peer.capabilities) kinds.add(kind)
    return kinds
  }

  /** The run, once the caller is allowed `action` on it (audited); RunAccessDeniedError if not. */
  private async find(
    runId: string,
    signal: AbortSignal | undefined,
    action: RunAction,
    caller: Caller | undefined,
  ): Promise<RunEntry> {
    const entry = await this.lookup(runId, signal)
    this.access.authorize(entry, action, this.authority.identify(caller))
    return entry
  }

  private async lookup(runId: string, signal?: AbortSignal): Promise<RunEntry> {
    this.throwIfExpired(runId)
    let entry = this.engine.runs.get(runId)
    if (entry?.ensureWorkflow() === undefined) {
      // Submitted elsewhere a moment ago: ask the other coordinators before saying it does not exist.
      await this.peerSync.pull(signal)
      entry = this.engine.runs.get(runId)
    }
    if (entry === undefined || entry.ensureWorkflow() === undefined) {
      this.throwIfExpired(runId)
      throw new RunNotFoundError(runId)
    }
    return entry
  }

  private throwIfExpired(runId: string): void {
    const expired = this.retention.isExpired(runId)
    if (expired !== undefined) throw new RunExpiredError(runId, expired.finishedAt, expired.expiredAt)
  }

  private async findUnfinished(
    runId: string,
    signal: AbortSignal | undefined,
    action: RunAction,
    caller: Caller | undefined,
  ): Promise<RunEntry> {
    const entry = await this.find(runId, signal, action, caller)
    entry.refreshStatus(Date.now())
    if (entry.terminal) throw new RunFinishedError(runId, entry.status)
    return entry
  }

  /** The view once the change just made went through planning (cancel actions recorded…). */
  private async viewAfterFlush(entry: RunEntry): Promise<RunView> {
    await new Promise((resolve) => setImmediate(resolve))
    return runView(entry.workflow as CompiledWorkflow, entry.state, Date.now())
  }

  /** Hook keys are sealed to every coordinator this node trusts (itself included) before replication. */
  private hookSealing(): TriggerSealing {
    const trust = this.components.trust
    return {
      seal: (secret) => {
        const policy = trust.policy
        const keys = policy.keys
          .filter((entry) => policy.admits(entry.key, { role: 'coordinator' }))
          .map((e) => e.key)
        return sealSecret(HOOK_SECRET_NAME, secret, keys)
      },
      open: (sealed) => {
        try {
          return trust.secrets.open(HOOK_SECRET_NAME, sealed)
        } catch {
          return undefined
        }
      },
    }
  }

  private readonly onPeerLost = (evt: CustomEvent<LivePeer>): void => {
    if (!evt.detail.roles.includes('coordinator')) return
    this.handoff.forgetPeer(evt.detail.peerId)
    this.engine.peerLost(evt.detail.peerId)
    // The lost coordinator's runs have a new member each: bring it their state now (repair).
    this.peerSync.syncAll()
  }

  private readonly onPeerAlive = (evt: CustomEvent<LivePeer>): void => {
    this.handoff.forgetPeer(evt.detail.peerId)
    this.engine.peerAlive(evt.detail.peerId)
  }

  private isCoordinator(peer: string): boolean {
    return this.components.trust.policy.canCall(peer, 'coordinator')
  }

  private liveCoordinators(): LivePeer[] {
    return this.components.liveness
      .alive()
      .filter(
        (p) => p.roles.includes('coordinator') && p.peerId !== this.peerId && this.isCoordinator(p.peerId),
      )
  }

  private syncHost(): SyncHost {
    return {
      // Only runs the peer replicates too: anti-entropy stays within each run's replica set.
      runs: (peer) => [...this.engine.runs.keys()].filter((run) => this.sets.members(run).includes(peer)),
      state: (run) => this.engine.runs.get(run)?.state,
      apply: (delta, from) => this.mergeRemote(delta, from),
      durable: () => this.engine.durable(),
    }
  }

  /** A peer's state for a run, unless the run expired here (it must not come back). */
  private mergeRemote(delta: RunState, from?: string): void {
    if (this.retention.isExpired(delta.run) !== undefined) return
    const merged = this.engine.mergeRemote(delta)
    // What a member sent, that member holds: the hand-off need not have it confirmed.
    if (merged !== undefined) this.handoff.merged(delta.run, from, merged.before, merged.after)
  }
}

/** Filters and the position of one page of `list`. */
export interface ListPage {
  /** The last run id of the previous page. */
  after?: string
  /**
   * When `after` was created (ms epoch): a coordinator that does not hold `after` still knows
   * where the page starts (the mesh-wide list resolves it once and passes it on).
   */
  afterCreatedAt?: number
  /** Part of the workflow name or run id, any case. */
  query?: string
}

/** How long a forwarded call may take unless its method says otherwise. @default 30_000 */
const FORWARD_TIMEOUT_MS = 30_000
/**
 * Most runs in one mesh-wide page (each coordinator sends up to that many summaries: a frame of
 * a few hundred kB); `after` pages on. @default 1_000
 */
const MAX_MESH_PAGE = 1_000
/** How long list_workflows waits for each other coordinator's page. @default 5_000 */
const LIST_PEER_TIMEOUT_MS = 5_000

interface ListAnchor {
  id: string
  createdAt: number
}

/** Does `entry` come after `anchor` in the list's order (newest first, then by run id)? */
function listedAfter(entry: ListAnchor, anchor: ListAnchor): boolean {
  return entry.createdAt < anchor.createdAt || (entry.createdAt === anchor.createdAt && entry.id > anchor.id)
}

/** The list's order on summaries: newest first, then by run id. */
function compareSummaries(a: RunSummary, b: RunSummary): number {
  const byTime = Date.parse(b.createdAt) - Date.parse(a.createdAt)
  return byTime !== 0 ? byTime : a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0
}

function withoutId(event: MonitorEvent): MonitorEvent {
  if (event.id === undefined) return event
  const { id: _id, ...rest } = event
  return rest
}
