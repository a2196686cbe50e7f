/**
 * The runner role: serves each kind it can execute as a capability (heartbeats + DHT provider
 * record), accepts verified jobs from supervisors over `runner.execute`, runs them on the
 * JobExecutor, and answers with a result signed by this node. See ../index.ts for the surface.
 */
import { join } from 'node:path'
import type { ComponentLogger, Logger, Startable } from '@libp2p/interface'
import { SpanKind } from '@opentelemetry/api'
import type { Datastore } from 'interface-datastore'
import { TypedEventEmitter } from 'main-event'
import { jsonSize, jsonSizeWith, TurnBatch } from '../../../core/turn-batch.js'
import {
  ATTR_HORUS_JOB_REPLAYED,
  ATTR_HORUS_PEER_ID,
  endSpan,
  errorOutcome,
  jobOutcome,
  jobRefOf,
  type NodeTracing,
  rpcAttributes,
} from '../../../node/telemetry/index.js'
import type { NodeTrust } from '../../../node/trust.js'
import type { DhtAdvertiser } from '../../../protocols/capabilities/advertiser.js'
import { capabilityCid } from '../../../protocols/capabilities/index.js'
import {
  createResult,
  DEFAULT_MAX_RESULT_OUTPUT_BYTES,
  envelopeTag,
  type JobEnvelope,
  type JobFailure,
  JobRejectedError,
  type JobResult,
  jobDigest,
  resultJsonSize,
  SecretNotRecipientError,
  toHex,
} from '../../../protocols/jobs/index.js'
import type { Heartbeat } from '../../../protocols/liveness/index.js'
import { type MethodRegistry, toWireError } from '../../../protocols/rpc/index.js'
import { toExecutionError } from '../execution/error-info.js'
import { InvalidJobError, UnknownKindError } from '../execution/errors.js'
import type { RegisteredFunction } from '../execution/function-registry.js'
import {
  createJobExecutor,
  type ExecutionResult,
  type JobExecutor,
  type JobExecutorInit,
  type KindHandler,
} from '../execution/index.js'
import { builtinKinds, type OsirisLimits } from '../kinds/index.js'
import { blobInputsOf, type RunnerBlobs, resolveBlobInputs, storeOutput } from './blob-values.js'
import { BUILTIN_KINDS, MAX_EXECUTE_BATCH, RESULT_SWEEP_INTERVAL_MS, WORK_DIR_NAME } from './constants.js'
import { RUNNER_ERROR_SPECS } from './error-specs.js'
import { RunnerStoppingError } from './errors.js'
import { runnerMethods, runnerSubscriptions } from './methods.js'
import { loadRunnerPlugins } from './plugins.js'
import { ResultStore } from './result-store.js'
import type {
  ExecuteManyItem,
  ExecuteOutcome,
  ExecuteResponse,
  RunnerDescription,
  RunnerJobEvent,
} from './wire.js'

const ERRORS_BY_NAME = new Map(RUNNER_ERROR_SPECS.map((spec) => [spec.name, spec]))

/** The parts of a node the runner uses. */
export interface RunnerComponents {
  peerId: string
  /** The node's data dir: per-job work dirs go under `<dataDir>/work` unless `workDir` is set. */
  dataDir?: string
  datastore: Datastore
  logger: ComponentLogger
  rpc: MethodRegistry
  trust: Pick<NodeTrust, 'verifier' | 'signer' | 'secrets'>
  advertiser: Pick<DhtAdvertiser, 'add'>
  addCapability(name: string): void
  setLoadProvider(provider: () => Heartbeat['load']): void
  /** Where large outputs are stored and blob inputs fetched (the node's blob service). */
  blobs?: RunnerBlobs
  /** The node's tracing; undefined when off. */
  tracing?: NodeTracing | undefined
}

export interface RunnerOptions
  extends Pick<
    JobExecutorInit,
    'concurrency' | 'maxQueueLength' | 'maxTimeoutMs' | 'env' | 'logs' | 'sandbox' | 'abortGraceMs'
  > {
  /** Built-in kinds to serve: all, none, or a list. @default true (hero, sal, osiris) */
  builtins?: boolean | readonly string[]
  /** Size limits and storage quota of the osiris kind. @default see kinds/osiris/constants.ts */
  osiris?: OsirisLimits
  /** Custom kinds, `async (job, ctx) => output`; each becomes a capability. */
  kinds?: Record<string, KindHandler>
  /** Functions scripts may call by name (e.g. the seed workflow's `process_data`). */
  functions?: Record<string, RegisteredFunction>
  /** Plugin modules (paths) exporting more `functions` and `kinds`, loaded on start. */
  plugins?: readonly string[]
  /**
   * Parent of per-job work directories, for this node alone (leftovers of a killed runner are
   * removed at start). @default `<dataDir>/work`, or a temporary directory without a data dir
   */
  workDir?: string
}

export interface RunnerServiceEvents {
  /** A job this runner accepted started, or printed a line. */
  'job:event': CustomEvent<RunnerJobEvent>
  /** A job handed over by `executeMany` finished (or failed to): for its dispatcher's stream. */
  'job:outcome': CustomEvent<{ dispatcher: string; outcome: ExecuteOutcome }>
}

/**
 * How a job reaches `admit`. `trusted`: from the supervisor of this node, whose verifier spent the
 * nonce (no verification here). `answerOnly`: only an execution already here may answer it.
 */
interface AdmitOptions {
  dispatcher: string
  trusted?: boolean
  owned?: boolean
  answerOnly?: boolean
}

/** A job verified and started (or attached to), and its execution to come. */
interface Admitted {
  job: JobEnvelope
  response: Promise<ExecuteResponse>
}

interface InFlight {
  job: JobEnvelope
  response: Promise<ExecuteResponse>
}

/** One entry of a dispatcher's per-turn batch: a job that started, or an execution. */
type BatchItem = { started: string } | ExecuteOutcome

/**
 * A dispatcher's `runner.logs` stream without a job id. The service calls these directly rather
 * than through `job:event`/`job:outcome` CustomEvents: an event per job start and per execution,
 * each looked at by every stream's listener, cost more than the batching they fed.
 */
interface DispatcherSink {
  line(event: RunnerJobEvent): void
  started(jobId: string): void
  outcome(outcome: ExecuteOutcome): void
}

export class RunnerService extends TypedEventEmitter<RunnerServiceEvents> implements Startable {
  readonly executor: JobExecutor
  private readonly components: RunnerComponents
  private readonly log: Logger
  private readonly results: ResultStore
  /** Deletes expired results while the runner serves (`ResultStore.sweep`). */
  private sweeper: ReturnType<typeof setInterval> | undefined
  private readonly inFlight = new Map<string, InFlight>()
  /**
   * Who dispatched each running job: `runner.logs` without a job id streams a caller's own jobs.
   * A Set once another caller sent the same job while it ran (`again`): each keeps its stream.
   */
  private readonly dispatchers = new Map<string, string | Set<string>>()
  /** The open `runner.logs` streams (without job id), by dispatcher. */
  private readonly sinks = new Map<string, Set<DispatcherSink>>()
  /** Listeners of `watch` (each filters for itself). */
  private readonly watchers = new Set<(event: RunnerJobEvent) => void>()
  private readonly publicKeyHex: string
  private running = false
  private stopping = false
  private readonly plugins: readonly string[]

  constructor(components: RunnerComponents, options: RunnerOptions = {}) {
    super()
    this.components = components
    this.log = components.logger.forComponent('horus:runner')
    this.results = new ResultStore(components.datastore, this.log)
    this.plugins = options.plugins ?? []
    this.publicKeyHex = toHex(components.trust.signer.publicKey)
    this.executor = createJobExecutor({
      ...pickExecutorOptions(options),
      ...workDirOption(options.workDir, components.dataDir),
      kinds: { ...selectBuiltins(options.builtins ?? true, options.osiris), ...options.kinds },
      datastore: components.datastore,
      logger: components.logger,
    })
    for (const [name, fn] of Object.entries(options.functions ?? {}))
      this.executor.functions.register(name, fn)
    components.rpc.add(...runnerMethods(this))
    components.rpc.addSubscription(...runnerSubscriptions(this))
  }

  get peerId(): string {
    return this.components.peerId
  }

  get isRunning(): boolean {
    return this.running
  }

  get capabilities(): string[] {
    return this.executor.kinds()
  }

  async start(): Promise<void> {
    if (this.running) return
    const plugin = await loadRunnerPlugins(this.plugins)
    for (const [name, fn] of Object.entries(plugin.functions)) this.executor.functions.register(name, fn)
    for (const [kind, handler] of Object.entries(plugin.kinds)) this.executor.register(kind, handler)
    await this.executor.start()
    await this.results.prune().catch((err: unknown) => this.log.error('pruning results failed: %e', err))
    this.sweeper = setInterval(() => {
      this.results.sweep().catch((err: unknown) => this.log.error('sweeping expired results failed: %e', err))
    }, RESULT_SWEEP_INTERVAL_MS)
    this.sweeper.unref()
    this.components.setLoadProvider(() => {
      const load = this.executor.load
      return { running: load.running, capacity: load.concurrency }
    })
    for (const kind of this.capabilities) await this.advertise(kind)
    this.stopping = false
    this.running = true
    this.log('serving %s', this.capabilities.join(', '))
  }

  /**
   * Stops taking jobs. Jobs still running are cancelled and their callers get
   * RunnerStoppingError (retryable) rather than a result: the supervisor sends them elsewhere.
   */
  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    this.stopping = true
    clearInterval(this.sweeper)
    this.sweeper = undefined
    await this.executor.stop()
    await Promise.allSettled([...this.inFlight.values()].map((f) => f.response))
  }

  /** Adds a kind at run time; it is announced as a capability at once. */
  async register(kind: string, handler: KindHandler): Promise<void> {
    this.executor.register(kind, handler)
    if (this.running) await this.advertise(kind)
  }

  registerFunction(name: string, fn: RegisteredFunction): () => void {
    return this.executor.functions.register(name, fn)
  }

  describe(): RunnerDescription {
    const load = this.executor.load
    return {
      peerId: this.peerId,
      publicKey: this.publicKeyHex,
      capabilities: this.capabilities,
      functions: this.executor.functions.names(),
      concurrency: load.concurrency,
      load: { running: load.running, queued: load.queued, capacity: load.concurrency },
    }
  }

  /**
   * Verifies and executes a job, or — for a job id already executed or executing here — answers
   * with that execution (`replayed: true`) instead of running it again. `trusted` skips
   * verification: only for a supervisor in this same node, whose verifier already consumed the nonce.
   * `owned`: `input` is fresh from JSON.parse of the caller's frame (see `VerifyOptions.owned`).
   */
  async execute(
    input: unknown,
    options: AdmitOptions & { traceparent?: string | undefined },
  ): Promise<ExecuteResponse> {
    const tracing = this.components.tracing
    const job = tracing === undefined ? undefined : jobRefOf(input)
    if (tracing === undefined || job === undefined) return this.executeJob(input, options)
    // Under the dispatcher's span when its traceparent is of the job's trace; the run's root otherwise.
    const span = tracing.startJobSpan(
      'runner.execute',
      SpanKind.SERVER,
      job,
      { traceparent: options.traceparent },
      { ...rpcAttributes('runner.execute'), [ATTR_HORUS_PEER_ID]: options.dispatcher },
    )
    try {
      const response = await this.executeJob(input, options)
      const { status, error } = response.result
      endSpan(span, jobOutcome(status, error, { [ATTR_HORUS_JOB_REPLAYED]: response.replayed }))
      return response
    } catch (err) {
      endSpan(span, errorOutcome(err))
      throw err
    }
  }

  private async executeJob(input: unknown, options: AdmitOptions): Promise<ExecuteResponse> {
    return (await this.admit(input, options)).response
  }

  /**
   * `runner.execute_many`: each job is verified and started on its own, and answered at once —
   * accepted, or refused with the error `execute` would have thrown for it alone. The executions
   * of accepted jobs come later on the dispatcher's `runner.logs` stream, several to a frame.
   */
  async executeMany(
    inputs: readonly unknown[],
    dispatcher: string,
    options: { owned?: boolean } = {},
  ): Promise<ExecuteManyItem[]> {
    return Promise.all(
      inputs.map(async (input): Promise<ExecuteManyItem> => {
        try {
          const { job, response } = await this.admit(input, { dispatcher, ...options })
          response.then(
            (answer) => this.outcome(dispatcher, { jobId: job.id, response: answer }),
            (err: unknown) =>
              this.outcome(dispatcher, { jobId: job.id, error: toWireError(err, ERRORS_BY_NAME) }),
          )
          return { ok: true }
        } catch (err) {
          return { ok: false, error: toWireError(err, ERRORS_BY_NAME) }
        }
      }),
    )
  }

  /** Verified and started (or attached to): the job, and its execution to come. */
  private async admit(input: unknown, options: AdmitOptions): Promise<Admitted> {
    if (!this.running) throw new RunnerStoppingError()
    const kind = (input as { runner?: unknown } | null)?.runner
    // Checked before verification, so a job this runner cannot run does not spend its nonce here.
    if (typeof kind === 'string' && !this.executor.hasKind(kind)) {
      throw new UnknownKindError(kind, this.capabilities)
    }
    // Likewise: a job sealed for other runners is refused before it spends its nonce here.
    this.assertRecipient(input)
    if (options.trusted === true) {
      const job = input as JobEnvelope
      const attached = await this.again(job, options.dispatcher)
      if (attached !== undefined) return attached
      if (options.answerOnly === true) {
        throw new JobRejectedError(
          'replayed',
          `job ${job.id} is no longer running here and its result is not kept: it cannot be answered without running it again`,
        )
      }
      if (job.expiresAt <= Date.now()) throw new JobRejectedError('expired', `job ${job.id} has expired`)
      return { job, response: this.run(job, options.dispatcher, this.openSecrets(job)) }
    }
    const verdict = await this.components.trust.verifier.verify(input, { owned: options.owned === true })
    if (verdict.ok) {
      const job = verdict.job
      // A result kept here for a job whose nonce this node no longer knows as spent (the supervisor
      // record that held it could not be read back): answered, not run again.
      const kept = this.results.knows(job.id) ? await this.again(job, options.dispatcher) : undefined
      return kept ?? { job, response: this.run(job, options.dispatcher, this.openSecrets(job)) }
    }
    if (verdict.reason === 'replayed' && verdict.job !== undefined) {
      const attached = await this.again(verdict.job, options.dispatcher)
      if (attached !== undefined) return attached
    }
    throw new JobRejectedError(verdict.reason, verdict.message)
  }

  private outcome(dispatcher: string, outcome: ExecuteOutcome): void {
    const sinks = this.sinks.get(dispatcher)
    if (sinks !== undefined) for (const sink of sinks) this.deliver(sink.outcome, outcome)
    if (this.listenerCount('job:outcome') > 0)
      this.safeDispatchEvent('job:outcome', { detail: { dispatcher, outcome } })
  }

  /**
   * Cancels a queued or running job. `by`: the supervisor asking, which may cancel only a job it
   * dispatched here (another trusted supervisor is no owner of it); without it (an operator, in
   * process), any job. `release`: the caller gives its copy up (a coordinator moved the job to
   * another supervisor), so while another supervisor that sent the same job follows it, `by` only
   * stops following and the job runs on — that supervisor's record must not end cancelled because
   * the first one let go. Without `release`, the job is stopped for every supervisor following it.
   */
  cancel(jobId: string, by?: string, options: { release?: boolean } = {}): Promise<boolean> {
    if (by !== undefined && !this.handedBy(jobId, by)) {
      if (this.inFlight.has(jobId)) this.log('%s may not cancel %s: it did not dispatch it here', by, jobId)
      return Promise.resolve(false)
    }
    if (options.release === true && by !== undefined && this.withdraw(jobId, by)) {
      this.log('%s no longer follows %s; it runs on for the other supervisor that sent it', by, jobId)
      return Promise.resolve(true)
    }
    return Promise.resolve(this.executor.cancel(jobId, 'cancelled by the supervisor'))
  }

  /** Events of the jobs `dispatcher` handed over (or of one job); returns the detach function. */
  watch(
    filter: { jobId?: string; dispatcher?: string },
    listener: (event: RunnerJobEvent) => void,
  ): () => void {
    const onEvent = (event: RunnerJobEvent): void => {
      if (
        filter.jobId !== undefined
          ? event.jobId !== filter.jobId
          : !this.handedBy(event.jobId, filter.dispatcher)
      ) {
        return
      }
      listener(event)
    }
    this.watchers.add(onEvent)
    return () => {
      this.watchers.delete(onEvent)
    }
  }

  /**
   * What `dispatcher`'s `runner.logs` stream (the one without `jobId`) carries: log lines of its
   * jobs one by one (`onLine`), and — those of one turn together, in one event — the ids of its
   * jobs that started and the executions of its `executeMany` jobs (`onBatch`). Folding `started`
   * into the batch saves a frame per job each way. Returns the detach function.
   */
  watchDispatcher(
    dispatcher: string,
    onLine: (event: RunnerJobEvent) => void,
    onBatch: (batch: { started: string[]; results: ExecuteOutcome[] }) => void,
  ): () => void {
    const batch = new TurnBatch<BatchItem>({
      maxItems: MAX_EXECUTE_BATCH,
      // A result's size is known since it was signed: only the rest of an execution is serialised.
      sizeOf: (item) =>
        'started' in item
          ? jsonSize(item.started) + 1 // the id's JSON and a comma in the batch's `started` list
          : 'response' in item
            ? jsonSizeWith(item, 'response', (response) => jsonSizeWith(response, 'result', resultJsonSize))
            : jsonSize(item),
      send: (items) => {
        const started: string[] = []
        const results: ExecuteOutcome[] = []
        for (const item of items) {
          if ('started' in item) started.push(item.started)
          else results.push(item)
        }
        onBatch({ started, results })
      },
    })
    const sink: DispatcherSink = {
      line: onLine,
      started: (jobId) => batch.push({ started: jobId }),
      outcome: (outcome) => batch.push(outcome),
    }
    let sinks = this.sinks.get(dispatcher)
    if (sinks === undefined) {
      sinks = new Set()
      this.sinks.set(dispatcher, sinks)
    }
    sinks.add(sink)
    return () => {
      const current = this.sinks.get(dispatcher)
      current?.delete(sink)
      if (current?.size === 0) this.sinks.delete(dispatcher)
      batch.clear()
    }
  }

  /** For a supervisor in this node (see LocalRunner in the supervisor role). */
  onJobEvent(listener: (event: RunnerJobEvent) => void): () => void {
    return this.watch({ dispatcher: this.peerId }, listener)
  }

  /** For a supervisor in this node: whether `again` would answer this very job (see LocalRunner). */
  async holds(job: JobEnvelope): Promise<boolean> {
    if (this.runningAs(job) !== undefined) return true
    return (await this.results.get(job)) !== undefined
  }

  /** The execution in progress here of this very job (same id, submitter and nonce), if any. */
  private runningAs(job: JobEnvelope) {
    const running = this.inFlight.get(job.id)
    return running !== undefined && running.job.nonce === job.nonce && running.job.submitter === job.submitter
      ? running
      : undefined
  }

  /** The execution of this very job already running or finished here, if any (`replayed`). */
  private async again(job: JobEnvelope, dispatcher: string): Promise<Admitted | undefined> {
    const running = this.runningAs(job)
    if (running !== undefined) {
      this.log('%s sent again by %s: attaching to its execution in progress', envelopeTag(job), dispatcher)
      this.addDispatcher(job.id, dispatcher)
      return { job, response: running.response.then((answer) => ({ ...answer, replayed: true })) }
    }
    const stored = await this.results.get(job)
    if (stored === undefined) return undefined
    this.log('%s sent again by %s: answering its stored result', envelopeTag(job), dispatcher)
    return { job, response: Promise.resolve({ ...stored, replayed: true }) }
  }

  /** Refuses a job whose secrets were not all sealed to this runner's key. */
  private assertRecipient(input: unknown): void {
    const secrets = (input as { secrets?: unknown } | null)?.secrets
    if (typeof secrets !== 'object' || secrets === null) return
    for (const [name, sealed] of Object.entries(secrets)) {
      const to = (sealed as { to?: unknown } | null)?.to
      if (!Array.isArray(to)) continue // malformed: the verifier says so
      if (!to.some((r) => (r as { key?: unknown } | null)?.key === this.publicKeyHex)) {
        throw new SecretNotRecipientError(name, this.publicKeyHex)
      }
    }
  }

  /** The job's secrets in plaintext, only in memory and only for the executor (SecretOpenError otherwise). */
  private openSecrets(job: JobEnvelope): Record<string, string> | undefined {
    if (job.secrets === undefined) return undefined
    return this.components.trust.secrets.openAll(job.secrets)
  }

  private run(
    job: JobEnvelope,
    dispatcher: string,
    secrets: Record<string, string> | undefined,
  ): Promise<ExecuteResponse> {
    this.assertIdFree(job)
    if (this.log.enabled) this.log('executing %s for %s', envelopeTag(job), dispatcher)
    this.dispatchers.set(job.id, dispatcher)
    const response = this.withInputs(job, secrets).then(async (execution) => {
      if (this.stopping && execution.status === 'cancelled') throw new RunnerStoppingError()
      const answer: ExecuteResponse = {
        result: await this.sign(job, execution),
        logs: execution.logs,
        logsTruncated: execution.logsTruncated,
        replayed: false,
      }
      await this.results.put(job, answer)
      return answer
    })
    const entry: InFlight = { job, response }
    this.inFlight.set(job.id, entry)
    const forget = (): void => {
      if (this.inFlight.get(job.id) === entry) this.inFlight.delete(job.id)
      this.dispatchers.delete(job.id)
    }
    response.then(forget, forget)
    return response
  }

  /**
   * Throws when another job holds this one's id here. `again` answers this very job (same
   * submitter and nonce); another envelope under the same id (a second coordinator's copy of a
   * step) reaching the executor would be joined by id and answered with the other one's output,
   * signed for its own digest.
   */
  private assertIdFree(job: JobEnvelope): void {
    if (this.inFlight.has(job.id)) {
      throw new InvalidJobError(
        `job id ${job.id} is running here for another job (another submitter or nonce)`,
      )
    }
    if (this.executor.result(job.id) !== undefined && this.results.knows(job.id)) {
      throw new InvalidJobError(`job id ${job.id} was run here for another job that has not expired`)
    }
  }

  /** Fetches the job's blob inputs, then runs it; an input that cannot be had fails the job. */
  private withInputs(
    job: JobEnvelope,
    secrets: Record<string, string> | undefined,
  ): Promise<ExecutionResult> {
    const refs = blobInputsOf(job)
    // Nearly every job has no blob input: it goes straight to the executor.
    if (refs.size === 0) return this.executeReady(job, job, secrets)
    return resolveBlobInputs(job, refs, this.components.blobs, job.timeoutMs).then(
      (ready) => this.executeReady(job, ready, secrets),
      (err: unknown): ExecutionResult => {
        const now = Date.now()
        return {
          jobId: job.id,
          status: 'failed',
          startedAt: now,
          finishedAt: now,
          logs: [],
          logsTruncated: false,
          error: toExecutionError(err),
        }
      },
    )
  }

  /** Runs `ready` (the job with its blob inputs in place), its starts and lines going to its dispatcher. */
  private executeReady(
    job: JobEnvelope,
    ready: JobEnvelope,
    secrets: Record<string, string> | undefined,
  ): Promise<ExecutionResult> {
    return this.executor.execute(ready, {
      onStarted: () => this.forward(job.id, 'started'),
      onLog: (line) => this.forward(job.id, 'log', line),
      ...(secrets === undefined ? {} : { secrets }),
    })
  }

  private async sign(job: JobEnvelope, execution: ExecutionResult): Promise<JobResult> {
    const fields = {
      jobId: job.id,
      job: jobDigest(job),
      attempt: job.attempt,
      startedAt: execution.startedAt,
      finishedAt: execution.finishedAt,
    }
    const error: JobFailure | undefined =
      execution.error === undefined
        ? undefined
        : {
            name: execution.error.name,
            message: execution.error.message,
            retryable: execution.error.retryable,
          }
    try {
      const canonical = execution.outputJson
      // An output too large for the result is stored here first: the result then names its digest.
      if (canonical !== undefined && Buffer.byteLength(canonical) > DEFAULT_MAX_RESULT_OUTPUT_BYTES) {
        if (this.components.blobs === undefined)
          throw new Error('the output is too large and this runner has no blob store')
        await storeOutput(this.components.blobs, job, canonical)
      }
      return createResult(
        {
          ...fields,
          status: execution.status,
          ...(execution.output === undefined ? {} : { output: execution.output }),
          ...(error === undefined ? {} : { error }),
        },
        this.components.trust.signer,
        canonical === undefined ? {} : { canonicalOutput: canonical },
      )
    } catch (err) {
      // An output the result envelope cannot carry is the job's failure, not the runner's.
      const message = err instanceof Error ? err.message : String(err)
      return createResult(
        { ...fields, status: 'failed', error: { name: 'JobOutputError', message, retryable: false } },
        this.components.trust.signer,
      )
    }
  }

  /**
   * A caller that sends a running job again gets its lines from then on too; the caller before it
   * keeps its own (its stream must not go quiet because someone else asked). Both hold the envelope
   * and would read every line in the execution's `logs` anyway.
   */
  private addDispatcher(jobId: string, dispatcher: string): void {
    const current = this.dispatchers.get(jobId)
    if (current === undefined || current === dispatcher) this.dispatchers.set(jobId, dispatcher)
    else if (typeof current === 'string') this.dispatchers.set(jobId, new Set([current, dispatcher]))
    else current.add(dispatcher)
  }

  /** Removes `dispatcher` from a job others sent too; false when it is the job's only one. */
  private withdraw(jobId: string, dispatcher: string): boolean {
    const current = this.dispatchers.get(jobId)
    if (typeof current === 'string' || current === undefined) return false
    current.delete(dispatcher)
    const [left] = current
    if (current.size === 1 && left !== undefined) this.dispatchers.set(jobId, left)
    return true
  }

  private handedBy(jobId: string, dispatcher: string | undefined): boolean {
    const current = this.dispatchers.get(jobId)
    return typeof current === 'string'
      ? current === dispatcher
      : dispatcher !== undefined && current?.has(dispatcher) === true
  }

  /** A start or log line of a job handed over here: to its dispatchers' streams and to watchers. */
  private forward(jobId: string, type: RunnerJobEvent['type'], line?: string): void {
    const handedBy = this.dispatchers.get(jobId)
    if (handedBy === undefined) return
    const sinks = this.sinksOf(handedBy)
    if (type === 'started' && sinks !== undefined) {
      for (const sink of sinks) this.deliver(sink.started, jobId)
    }
    const external = this.listenerCount('job:event') > 0
    // A start goes into the dispatcher's batch by id: the event itself only for those who asked.
    if (type === 'started' && this.watchers.size === 0 && !external) return
    const event: RunnerJobEvent = { jobId, type, at: Date.now(), ...(line === undefined ? {} : { line }) }
    if (type !== 'started' && sinks !== undefined) for (const sink of sinks) this.deliver(sink.line, event)
    for (const watcher of this.watchers) this.deliver(watcher, event)
    if (external) this.safeDispatchEvent('job:event', { detail: event })
  }

  /** The `runner.logs` streams (without job id) of a job's dispatchers; nothing made for the usual one. */
  private sinksOf(handedBy: string | Set<string>): Iterable<DispatcherSink> | undefined {
    if (typeof handedBy === 'string') return this.sinks.get(handedBy)
    const all: DispatcherSink[] = []
    for (const dispatcher of handedBy) all.push(...(this.sinks.get(dispatcher) ?? []))
    return all
  }

  /** Calls one listener; one that throws is logged and does not stop the job or the others. */
  private deliver<T>(listener: (value: T) => void, value: T): void {
    try {
      listener(value)
    } catch (err) {
      this.log.error('a job event listener failed: %e', err)
    }
  }

  private async advertise(kind: string): Promise<void> {
    this.components.addCapability(kind)
    this.components.advertiser.add(await capabilityCid(kind))
  }
}

function selectBuiltins(
  builtins: boolean | readonly string[],
  osiris: OsirisLimits | undefined,
): Record<string, KindHandler> {
  if (builtins === false) return {}
  const all = builtinKinds(osiris === undefined ? {} : { osiris })
  if (builtins === true) return all
  const out: Record<string, KindHandler> = {}
  for (const name of builtins) {
    const handler = all[name]
    if (handler === undefined) {
      throw new UnknownKindError(name, [...BUILTIN_KINDS])
    }
    out[name] = handler
  }
  return out
}

function pickExecutorOptions(options: RunnerOptions): Partial<JobExecutorInit> {
  const out: Partial<JobExecutorInit> = {}
  if (options.concurrency !== undefined) out.concurrency = options.concurrency
  if (options.maxQueueLength !== undefined) out.maxQueueLength = options.maxQueueLength
  if (options.maxTimeoutMs !== undefined) out.maxTimeoutMs = options.maxTimeoutMs
  if (options.env !== undefined) out.env = options.env
  if (options.logs !== undefined) out.logs = options.logs
  if (options.sandbox !== undefined) out.sandbox = options.sandbox
  if (options.abortGraceMs !== undefined) out.abortGraceMs = options.abortGraceMs
  return out
}

function workDirOption(workDir: string | undefined, dataDir: string | undefined): { workDirBase?: string } {
  if (workDir !== undefined) return { workDirBase: workDir }
  return dataDir === undefined ? {} : { workDirBase: join(dataDir, WORK_DIR_NAME) }
}
