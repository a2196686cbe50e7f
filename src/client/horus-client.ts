/**
 * `HorusClient`: submit and watch workflows, run single signed jobs. It joins the mesh with its own
 * peer ID (dial-only, through a bootstrap node) or talks HTTP to one node's gateway.
 *
 * ```ts
 * const client = await HorusClient.connect({ bootstrap: ['/ip4/127.0.0.1/tcp/4001/p2p/12D3Koo…'] })
 * const runId = await client.submitWorkflow(yamlText, { city: 'Paris' })
 * const run = await client.waitForCompletion(runId, { onProgress: (r) => console.log(r.status) })
 * await client.close()
 * ```
 */
import { randomUUID } from 'node:crypto'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createLogger } from '../core/logger.js'
import { readSwarmKey } from '../node/swarm-key.js'
import { createSubmission, createTriggerRegistration } from '../protocols/jobs/authority.js'
import { createJob, type JobEnvelope, jobDigest, signatureChainProblem } from '../protocols/jobs/envelope.js'
import { validateJobEnvelope } from '../protocols/jobs/envelope-schema.js'
import { publicKeyHexOfPeer, toHex } from '../protocols/jobs/keys.js'
import { type JobResult, type VerifyResultOptions, verifyResult } from '../protocols/jobs/result.js'
import type { SecretRecipient } from '../protocols/jobs/secret-recipients.js'
import type { SealedSecret } from '../protocols/jobs/secrets.js'
import { type Signer, signerFromPrivateKey } from '../protocols/jobs/signer.js'
import { type TrustConfig, TrustPolicy } from '../protocols/jobs/trust-policy.js'
import { fromWireError, MethodNotFoundError } from '../protocols/rpc/errors.js'
import type { RpcParams } from '../protocols/rpc/messages.js'
import type { RunBundle } from '../roles/coordinator/provenance/index.js'
import { WorkflowParseError as ParseFailure } from '../roles/coordinator/workflow/errors.js'
import { parseWorkflowText } from '../roles/coordinator/workflow/load.js'
import type { Connection, ConnectionCallOptions, ServiceRole } from './connection.js'
import { GatewayConnection } from './connection.js'
import {
  DEFAULT_CALL_TIMEOUT_MS,
  JOB_WAIT_CHUNK_MS,
  MAX_UNCLAIMED_OUTCOMES,
  REMEMBERED_JOBS,
} from './constants.js'
import {
  ClientClosedError,
  ClientOptionsError,
  explainRefusal,
  InvalidResultSignatureError,
  JobNotFoundError,
  OutcomeUnknownError,
  ResultRefusedError,
  rebuildRemoteError,
  WorkflowParseError,
} from './errors.js'
import { followEvents } from './events.js'
import { loadClientKey } from './identity.js'
import { CreateJobBatcher, type CreateJobsItem } from './job-batcher.js'
import { MeshConnection } from './mesh-connection.js'
import { OutcomeStreams } from './outcome-stream.js'
import { createSdkHost, findPeerAddrs } from './sdk-host.js'
import { pinnedRecipients, sealJobSecrets, sealRunSecrets } from './seal-secrets.js'
import { type ClientTrust, EntryNodeTrust, PolicyTrust } from './trust.js'
import type {
  JobResultView,
  JobStatus,
  JobStatusView,
  LivePeer,
  LogLine,
  MonitorEvent,
  RunErrorRecord,
  RunMetrics,
  RunStatus,
  RunSummary,
  RunView,
  SecretUse,
  StepItemsPage,
  TriggerSummary,
  WorkflowDefinition,
} from './types.js'
import { TERMINAL_JOB_STATUSES } from './types.js'
import { type WaitOptions, waitForRun } from './wait.js'

interface CommonOptions {
  /** A data dir holding `identity.key`, or that key file; an ephemeral key when absent. */
  identity?: string
  /**
   * The client's own trust policy (a `trust:` section, or a parsed TrustPolicy): coordinators and
   * supervisors are used, and runner results believed, only when their keys hold that role (runners:
   * for the job's capability). Without it the client asks the node it connected to
   * (`node.trust_decide`) and follows that node's policy.
   */
  trust?: TrustConfig | TrustPolicy
  /** Applied to calls that give neither a signal nor a timeout. @default DEFAULT_CALL_TIMEOUT_MS */
  defaultTimeoutMs?: number
  /**
   * Jobs this client created whose digest it keeps (about 200 bytes each) to check their results
   * without fetching the envelope again; the oldest is forgotten first, and a result of a forgotten
   * job is checked against the envelope fetched from its supervisor. @default REMEMBERED_JOBS (50,000)
   */
  rememberedJobs?: number
  /** Aborts connecting. */
  signal?: AbortSignal
}

export interface MeshClientOptions extends CommonOptions {
  /** Multiaddrs of mesh nodes, each ending in `/p2p/<peer id>`; the first that answers is used. */
  bootstrap: string[]
  /** A private mesh's swarm key: the key file's path or its bytes. */
  swarmKey?: string | Uint8Array
}

export interface GatewayClientOptions extends CommonOptions {
  /** A node's gateway base URL, e.g. `http://127.0.0.1:8080`. */
  gateway: string
  /** The gateway's bearer token. */
  token?: string
}

export type HorusClientOptions = MeshClientOptions | GatewayClientOptions

export interface SignalOptions {
  signal?: AbortSignal
}

/** Secret values and whom to seal them to; the plaintext never leaves this process. */
export interface SecretOptions {
  /** Variable name → value, sealed here to the runners that may run the job (see README, Secrets). */
  secrets?: Record<string, string>
  /**
   * Runner keys (peer IDs or hex) to seal to, instead of those the node the client talks to says
   * it trusts for the capability. @default asked of the mesh
   */
  secretRecipients?: readonly string[]
}

export interface JobSpec extends SecretOptions {
  /** Capability (runner kind) that executes the job. */
  runner: string
  payload: string
  input?: Record<string, unknown>
  env?: Record<string, string>
  timeoutMs?: number
  /**
   * How long the signed job stays valid: a supervisor or runner refuses it after that, and each of
   * them remembers its nonce (to refuse a replay) until then, so this is also how long that memory
   * lasts. At most the verifiers' limit (24 h by default). @default DEFAULT_JOB_TTL_MS (10 minutes)
   */
  ttlMs?: number
}

export interface CreateJobOptions extends SignalOptions {
  /** Queue the job even when no live runner offers its capability yet. @default false */
  waitForRunner?: boolean
}

export interface WaitForJobOptions extends SignalOptions {
  /** The job's status now and after each wait slice that did not see it end (its `reason` says why it waits). */
  onProgress?: (view: JobResultView) => void
}

export interface SubmitOptions extends SignalOptions, SecretOptions {
  /**
   * The run's id, which is also the submission's idempotency key: the same signed submission sent
   * again answers the same run. @default a random UUID
   */
  runId?: string
}

export interface TriggerSpec {
  /** 1-64 letters, digits, `_` or `-`. */
  name: string
  kind: 'cron' | 'http'
  /** Cron expression (`cron` only). */
  schedule?: string
  timezone?: string
  workflow: WorkflowDefinition | string
  inputs?: Record<string, unknown>
  /** `http` only: the HMAC key hook calls sign their body with (at least 16 characters). */
  secret?: string
  /** `cron` only: a tick while the previous run is unfinished. @default 'skip' */
  overlap?: 'skip' | 'allow' | 'cancel_previous'
  /** `cron` only: start ticks missed while no coordinator ran: all (true), or at most n. @default false */
  catch_up?: boolean | number
}

/** `client.triggers`: the mesh's triggers, replicated to every coordinator. */
export interface TriggerControls {
  /** Registers (or replaces) a trigger, signed by this client's key. */
  add(spec: TriggerSpec, options?: SignalOptions): Promise<{ name: string }>
  /** The triggers the coordinator serves, with when each last fired. */
  list(options?: SignalOptions): Promise<TriggerSummary[]>
  /** Removes a trigger everywhere (its registrant or an admin). */
  remove(name: string, options?: SignalOptions): Promise<{ name: string }>
}

export interface JobResultOptions extends SignalOptions {
  /** Wait for the job to finish. @default false */
  wait?: boolean
  /** How long the supervisor waits when `wait` is set. */
  timeoutMs?: number
}

export class HorusClient {
  /** The client's peer ID (the key it signs jobs with and authenticates as). */
  readonly peerId: string
  /** Hex Ed25519 public key: what a trust policy lists to admit this client. */
  readonly publicKey: string
  private readonly connection: Connection
  private readonly signer: Signer
  private readonly host: Libp2p | undefined
  private readonly trust: ClientTrust
  /** What results of jobs this client signed recently must answer, by job id. */
  private readonly created = new Map<string, ExpectedAnswer>()
  /** Outcome streams to supervisors (over the mesh only). */
  private readonly outcomes: OutcomeStreams | undefined
  private closed = false

  private readonly rememberedJobs: number

  private constructor(init: {
    connection: Connection
    key: PrivateKey
    host?: Libp2p
    trust: ClientTrust
    rememberedJobs: number
  }) {
    this.connection = init.connection
    this.rememberedJobs = init.rememberedJobs
    this.signer = signerFromPrivateKey(init.key)
    this.peerId = peerIdFromPrivateKey(init.key).toString()
    this.publicKey = toHex(this.signer.publicKey)
    this.host = init.host
    this.trust = init.trust
    const mesh = init.connection instanceof MeshConnection ? init.connection : undefined
    this.outcomes =
      mesh === undefined
        ? undefined
        : new OutcomeStreams({
            open: (peerId) => mesh.subscribeTo(peerId, 'supervisor.job_outcomes', {}),
            unsupported: (err) => err instanceof MethodNotFoundError,
            log: createLogger().forComponent('horus:client:outcomes'),
            maxTracked: init.rememberedJobs,
            maxArrived: MAX_UNCLAIMED_OUTCOMES,
          })
  }

  /** How the client reaches the mesh, for messages. */
  get description(): string {
    return this.connection.description
  }

  static async connect(options: HorusClientOptions): Promise<HorusClient> {
    const key = await loadClientKey(options.identity)
    const defaultTimeoutMs = options.defaultTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS
    const rememberedJobs = options.rememberedJobs ?? REMEMBERED_JOBS
    if (!Number.isSafeInteger(rememberedJobs) || rememberedJobs < 1)
      throw new ClientOptionsError(`rememberedJobs: expected an integer ≥ 1, got ${String(rememberedJobs)}`)
    const policy = clientPolicy(options.trust, toHex(key.publicKey.raw))
    // Without a policy of its own, the client believes whom the node it connected to trusts.
    let entry: Connection | undefined
    const trust: ClientTrust =
      policy === undefined
        ? new EntryNodeTrust((method, params, signal) =>
            (entry as Connection).call('node', method, params, {
              idempotent: true,
              ...(signal === undefined ? {} : { signal }),
            }),
          )
        : new PolicyTrust(policy)
    if ('gateway' in options && options.gateway !== undefined) {
      if ('bootstrap' in options) throw new ClientOptionsError('give either gateway or bootstrap, not both')
      const connection = new GatewayConnection({
        url: options.gateway,
        defaultTimeoutMs,
        ...(options.token === undefined ? {} : { token: options.token }),
      })
      entry = connection
      return new HorusClient({ connection, key, trust, rememberedJobs })
    }
    const mesh = options as MeshClientOptions
    if (!Array.isArray(mesh.bootstrap) || mesh.bootstrap.length === 0) {
      throw new ClientOptionsError('expected bootstrap (a non-empty list of multiaddrs) or gateway (a URL)')
    }
    const swarmKey = typeof mesh.swarmKey === 'string' ? await readSwarmKey(mesh.swarmKey) : mesh.swarmKey
    const host = await createSdkHost({ privateKey: key, ...(swarmKey === undefined ? {} : { swarmKey }) })
    try {
      const connection = new MeshConnection({
        host,
        bootstrap: mesh.bootstrap,
        defaultTimeoutMs,
        findPeer: (peerId, signal) => findPeerAddrs(host, peerId, signal),
        admits: (peerId, role, signal) => trust.admits(peerId, role, undefined, signal),
        privateMesh: swarmKey !== undefined,
      })
      entry = connection
      await connection.open(options.signal)
      return new HorusClient({ connection, key, host, trust, rememberedJobs })
    } catch (err) {
      await host.stop()
      throw err
    }
  }

  /* ---- workflows (coordinator) ---- */

  /**
   * Starts a run of a workflow (an object as the seed shows, or its YAML/JSON text); returns its
   * id. Over the mesh the client signs the submission (the run executes with this key's trust, and
   * only this key or an admin may read or control it); a retry sends the same signed submission,
   * so it cannot start a second run. Through a gateway the node submits in its own name, under the
   * run id the client chose (the same id, workflow and inputs again answer the same run).
   */
  async submitWorkflow(
    workflow: WorkflowDefinition | string,
    inputs: Record<string, unknown> = {},
    options: SubmitOptions = {},
  ): Promise<string> {
    const document = parseDocument(workflow)
    const secrets = await this.sealRunSecrets(document as WorkflowDefinition, options)
    const params: Record<string, unknown> = { workflow: document, inputs }
    if (secrets !== undefined) params.secrets = secrets
    // The client picks the run id: an ambiguous failure can then name the run.
    const chosen = options.runId ?? randomUUID()
    // Over the mesh the client signs; through a gateway the node signs a submission with this id.
    if (this.viaGateway) params.runId = chosen
    else params.submission = createSubmission({ runId: chosen, workflow: document, inputs }, this.signer)
    // A retry sends the same id (and signed submission): the coordinator answers the same run.
    const { runId } = await this.call<{ runId: string }>(
      'coordinator',
      'coordinator.submit_workflow',
      params as RpcParams,
      {
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        idempotent: true,
        outcome: { runId: chosen },
      },
    )
    return runId
  }

  /**
   * Registers (or replaces) a cron or HTTP trigger; its runs execute with this key's trust (over
   * the mesh the client signs the registration; through a gateway, the node does).
   */
  async registerTrigger(spec: TriggerSpec, options: SignalOptions = {}): Promise<{ name: string }> {
    const document = parseDocument(spec.workflow)
    const inputs = spec.inputs ?? {}
    const params: Record<string, unknown> = { name: spec.name, kind: spec.kind, workflow: document, inputs }
    if (spec.schedule !== undefined) params.schedule = spec.schedule
    if (spec.timezone !== undefined) params.timezone = spec.timezone
    if (spec.secret !== undefined) params.secret = spec.secret
    if (spec.overlap !== undefined) params.overlap = spec.overlap
    if (spec.catch_up !== undefined) params.catch_up = spec.catch_up
    if (!this.viaGateway) {
      params.registration = createTriggerRegistration(
        {
          name: spec.name,
          kind: spec.kind,
          ...(spec.schedule === undefined ? {} : { schedule: spec.schedule }),
          ...(spec.timezone === undefined ? {} : { timezone: spec.timezone }),
          ...(spec.overlap === undefined ? {} : { overlap: spec.overlap }),
          ...(spec.catch_up === undefined ? {} : { catch_up: spec.catch_up }),
          workflow: document,
          inputs,
        },
        this.signer,
      )
    }
    return this.call('coordinator', 'coordinator.register_trigger', params as RpcParams, options)
  }

  /** The mesh's triggers: add, list, remove (replicated to every coordinator). */
  get triggers(): TriggerControls {
    return {
      add: (spec, options = {}) => this.registerTrigger(spec, options),
      list: (options = {}) => this.read('coordinator', 'coordinator.list_triggers', {}, options),
      remove: (name, options = {}) =>
        this.call('coordinator', 'coordinator.remove_trigger', { name }, options),
    }
  }

  private get viaGateway(): boolean {
    return this.connection instanceof GatewayConnection
  }

  /** The run's secrets sealed to the runners of the steps that name them, or undefined without any. */
  private async sealRunSecrets(
    workflow: WorkflowDefinition | string,
    options: SubmitOptions,
  ): Promise<Record<string, SealedSecret> | undefined> {
    const values = options.secrets ?? {}
    if (Object.keys(values).length === 0) return undefined
    const pinned = pinnedRecipients(options.secretRecipients)
    const { secrets: uses } = await this.read<{ secrets: SecretUse[] }>(
      'coordinator',
      'coordinator.secret_recipients',
      { workflow: workflow as RpcParams },
      options,
    )
    return sealRunSecrets(values, uses, pinned)
  }

  getStatus(runId: string, options: SignalOptions = {}): Promise<RunView> {
    return this.read('coordinator', 'coordinator.get_workflow_status', { runId }, options)
  }

  /**
   * The run's provenance bundle, from any coordinator holding it (the submitter's or an admin
   * key's call): check it offline with `verifyRunBundle`, here or anywhere else.
   */
  exportRun(runId: string, options: SignalOptions = {}): Promise<RunBundle> {
    return this.read('coordinator', 'coordinator.export_run', { runId }, options)
  }

  /**
   * Newest first. `query`: part of the workflow name or run id (any case); `after`: the last run id
   * of the previous page, for the next one.
   */
  listWorkflows(
    options: SignalOptions & { status?: RunStatus; limit?: number; after?: string; query?: string } = {},
  ): Promise<RunSummary[]> {
    const params: Record<string, unknown> = {}
    if (options.status !== undefined) params.status = options.status
    if (options.limit !== undefined) params.limit = options.limit
    if (options.after !== undefined) params.after = options.after
    if (options.query !== undefined) params.query = options.query
    return this.read('coordinator', 'coordinator.list_workflows', params, options)
  }

  /**
   * Monitor events of one run, or of every run; ends when `signal` aborts or the loop is left.
   * A run's events start from its first one (`workflow_started`, even when the run began before
   * the call), or after the event whose `id` is `options.after`; a subscription opened again after
   * a failover resumes after the last event delivered, so none is lost or repeated. Events of every
   * run are live only.
   */
  events(runId?: string, options: SignalOptions & { after?: string } = {}): AsyncIterable<MonitorEvent> {
    this.assertOpen()
    return followEvents(this.connection, runId, options.signal, options.after)
  }

  /** Resolves with the run once it is completed, failed or cancelled. No timeout: pass a signal. */
  waitForCompletion(runId: string, options: WaitOptions = {}): Promise<RunView> {
    this.assertOpen()
    return waitForRun(this.connection, runId, (signal) => this.getStatus(runId, { signal }), options)
  }

  cancel(runId: string, options: SignalOptions = {}): Promise<RunView> {
    return this.read('coordinator', 'coordinator.cancel_workflow', { runId }, options)
  }

  pause(runId: string, options: SignalOptions = {}): Promise<RunView> {
    return this.read('coordinator', 'coordinator.pause_workflow', { runId }, options)
  }

  resume(runId: string, options: SignalOptions = {}): Promise<RunView> {
    return this.read('coordinator', 'coordinator.resume_workflow', { runId }, options)
  }

  /**
   * Reruns a finished run: its failed, cancelled and skipped steps, or `steps` (whatever their
   * state) and everything downstream of them. Succeeded steps keep their outputs; the run goes
   * back to `running`. Resolves with the run as it stands right after.
   */
  retry(runId: string, options: SignalOptions & { steps?: string[] } = {}): Promise<RunView> {
    const params = options.steps === undefined ? { runId } : { runId, steps: options.steps }
    return this.call('coordinator', 'coordinator.retry_workflow', params, options)
  }

  /**
   * Delivers signal `name` to a run: the `wait_for_signal` step waiting for it (now, or when it
   * starts waiting) completes with `data` as its output. A name is delivered once per run.
   */
  signal(runId: string, name: string, data?: unknown, options: SignalOptions = {}): Promise<RunView> {
    const params: Record<string, unknown> = { runId, name }
    if (data !== undefined) params.data = data
    return this.call('coordinator', 'coordinator.signal_workflow', params as RpcParams, options)
  }

  /** A page of a for_each step's children (`step[i]`), each a StepView. */
  stepItems(
    runId: string,
    stepId: string,
    options: SignalOptions & { offset?: number; limit?: number } = {},
  ): Promise<StepItemsPage> {
    const params: Record<string, unknown> = { runId, stepId }
    if (options.offset !== undefined) params.offset = options.offset
    if (options.limit !== undefined) params.limit = options.limit
    return this.read('coordinator', 'coordinator.get_step_items', params as RpcParams, options)
  }

  logs(runId: string, options: SignalOptions & { stepId?: string } = {}): Promise<LogLine[]> {
    const params = options.stepId === undefined ? { runId } : { runId, stepId: options.stepId }
    return this.read('coordinator', 'coordinator.get_workflow_logs', params, options)
  }

  errors(runId: string, options: SignalOptions = {}): Promise<RunErrorRecord[]> {
    return this.read('coordinator', 'coordinator.get_workflow_errors', { runId }, options)
  }

  metrics(runId: string, options: SignalOptions = {}): Promise<RunMetrics> {
    return this.read('coordinator', 'coordinator.get_workflow_metrics', { runId }, options)
  }

  /* ---- single jobs (supervisor) ---- */

  /**
   * Builds a job envelope, signs it with the client's key and hands it to a supervisor. A job for a
   * capability no live runner offers is refused at once with NoRunnerError, unless `waitForRunner`
   * is set: then it is queued until a runner appears (or the job expires).
   */
  async createJob(spec: JobSpec, options: CreateJobOptions = {}): Promise<JobStatusView> {
    // Most jobs carry no secrets: they are signed in the caller's turn, without a wait.
    const secrets = hasSecrets(spec) ? await this.sealJobSecrets(spec, options) : undefined
    const job = createJob(
      {
        runner: spec.runner,
        payload: spec.payload,
        ...(spec.input === undefined ? {} : { input: spec.input }),
        ...(spec.env === undefined ? {} : { env: spec.env }),
        ...(secrets === undefined ? {} : { secrets }),
        ...(spec.timeoutMs === undefined ? {} : { timeoutMs: spec.timeoutMs }),
        ...(spec.ttlMs === undefined ? {} : { ttlMs: spec.ttlMs }),
      },
      this.signer,
    )
    this.remember(job)
    const { waitForRunner, ...callOptions } = options
    this.outcomes?.sending(job.id)
    // Calls made in the same turn go as one create_jobs; a call with its own signal or timeout
    // goes alone, so aborting it aborts only it.
    try {
      return await (callOptions.signal !== undefined
        ? this.createOne(job, waitForRunner === true, callOptions)
        : this.batcher.create(job, waitForRunner === true))
    } catch (err) {
      this.outcomes?.unsent(job.id)
      throw err
    }
  }

  /**
   * The supervisor answers the same envelope again with the same record, so it is re-sent to the
   * same supervisor after a lost answer; another supervisor would run it a second time.
   */
  private async createOne(
    job: JobEnvelope,
    waitForRunner: boolean,
    options: SignalOptions,
  ): Promise<JobStatusView> {
    let servedBy: string | undefined
    const view = await this.call<JobStatusView>(
      'supervisor',
      'supervisor.create_job',
      { job: job as unknown as RpcParams, ...(waitForRunner ? { waitForRunner: true } : {}) },
      {
        ...options,
        sameNodeIdempotent: true,
        outcome: { jobId: job.id },
        onServed: (node) => {
          servedBy = node
        },
      },
    )
    if (servedBy !== undefined) this.outcomes?.adopt(job.id, servedBy, view.status)
    return view
  }

  private readonly batcher = new CreateJobBatcher({
    one: (job, waitForRunner) => this.createOne(job, waitForRunner, {}),
    many: async (jobs, waitForRunner) => {
      this.assertOpen()
      let servedBy: string | undefined
      const answer = await this.connection.call<{ results: CreateJobsItem[] }>(
        'supervisor',
        'supervisor.create_jobs',
        { jobs: jobs as unknown as RpcParams, ...(waitForRunner ? { waitForRunner: true } : {}) },
        {
          sameNodeIdempotent: true,
          onServed: (node) => {
            servedBy = node
          },
        },
      )
      answer.results.forEach((item, i) => {
        const jobId = jobs[i]?.id
        if (item.ok && jobId !== undefined && servedBy !== undefined)
          this.outcomes?.adopt(jobId, servedBy, item.job.status)
      })
      return answer.results
    },
    refusal: (error) => this.explain(rebuildRemoteError(fromWireError(error))),
    failure: (err, job) => {
      const rebuilt = rebuildRemoteError(err)
      return this.explain(
        rebuilt instanceof OutcomeUnknownError
          ? new OutcomeUnknownError('supervisor.create_jobs', { jobId: job.id }, rebuilt.cause)
          : rebuilt,
      )
    },
    unsupported: (err) => err instanceof MethodNotFoundError,
  })

  /** The job's secrets sealed to the runners trusted for its capability, or undefined without any. */
  private async sealJobSecrets(
    spec: JobSpec,
    options: SignalOptions,
  ): Promise<Record<string, SealedSecret> | undefined> {
    if (!hasSecrets(spec)) return undefined
    const values = spec.secrets
    const recipients =
      pinnedRecipients(spec.secretRecipients) ??
      (
        await this.read<{ recipients: SecretRecipient[] }>(
          'supervisor',
          'supervisor.secret_recipients',
          { capability: spec.runner },
          options,
        )
      ).recipients.map((r) => r.key)
    return sealJobSecrets(values, spec.runner, recipients)
  }

  getJobStatus(jobId: string, options: SignalOptions = {}): Promise<JobStatusView> {
    return this.onJobSupervisor('supervisor.get_job_status', { jobId }, options)
  }

  /**
   * The job's outcome; with `wait`, once it is terminal. A runner's result is handed over only if
   * it answers this very job (id, attempt and envelope digest), is signed by the runner the
   * supervisor dispatched it to, that runner is trusted to run the job's capability (by this
   * client's policy, or its entry node's), and the signature verifies — ResultRefusedError (with
   * `reason`) otherwise.
   */
  async getJobResult(jobId: string, options: JobResultOptions = {}): Promise<JobResultView> {
    const known = this.created.get(jobId)
    const params: Record<string, unknown> = { jobId }
    if (options.wait === true) params.wait = true
    if (options.timeoutMs !== undefined) params.timeoutMs = options.timeoutMs
    if (known === undefined) params.includeJob = true
    const answer = await this.onJobSupervisor<JobResultView>(
      'supervisor.get_job_result',
      params,
      options,
      // The supervisor holds the call open while it waits; give the transport that long and more.
      options.wait === true ? (options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS) + 5_000 : undefined,
    )
    const { job: sent, ...view } = answer
    if (view.result !== undefined) {
      await this.checkResult(
        jobId,
        view.result,
        view.runner,
        known ?? expectedOf(envelopeOf(jobId, sent)),
        options.signal,
      )
    }
    return view
  }

  /**
   * Resolves with the job's outcome once it is terminal. A job this client created on a supervisor
   * whose outcome stream (`supervisor.job_outcomes`) was live by then is answered from that stream;
   * any other — or when the stream dropped — is asked of the supervisor, which holds the call in
   * `JOB_WAIT_CHUNK_MS` slices until then. Either way the result is verified here as
   * `getJobResult` does. No timeout: pass a signal.
   */
  async waitForJob(jobId: string, options: WaitForJobOptions = {}): Promise<JobResultView> {
    if (options.onProgress === undefined && this.outcomes !== undefined) {
      const streamed = await this.outcomes.wait(jobId, options.signal)
      const known = this.created.get(jobId)
      if (streamed !== undefined && known !== undefined) {
        if (streamed.result !== undefined)
          await this.checkResult(jobId, streamed.result, streamed.runner, known, options.signal)
        return streamed
      }
    }
    const { onProgress, ...rest } = options
    if (onProgress !== undefined) {
      const now = await this.getJobResult(jobId, rest)
      if (TERMINAL_JOB_STATUSES.has(now.status)) return now
      onProgress(now)
    }
    for (;;) {
      options.signal?.throwIfAborted()
      const view = await this.getJobResult(jobId, { ...rest, wait: true, timeoutMs: JOB_WAIT_CHUNK_MS })
      if (TERMINAL_JOB_STATUSES.has(view.status)) return view
      onProgress?.(view)
    }
  }

  /** Throws ResultRefusedError unless `result` is one this client may believe for `job`. */
  private async checkResult(
    jobId: string,
    result: JobResult,
    dispatchedTo: string | undefined,
    job: ExpectedAnswer,
    signal?: AbortSignal,
  ): Promise<void> {
    const runner = dispatchedTo === undefined ? undefined : publicKeyHexOfPeer(dispatchedTo)
    if (runner === undefined) {
      throw new ResultRefusedError(
        'not_dispatched_runner',
        `result of job ${jobId}: the supervisor did not say which runner it dispatched the job to`,
      )
    }
    const trusted = await this.trust.admits(result.runner, 'runner', job.capability, signal)
    const options: VerifyResultOptions & { owned?: boolean } = {
      job: { jobId: job.jobId, attempt: job.attempt, digest: job.digest },
      runner,
      trusted: () => trusted,
      // No defensive copy: `result` came from JSON.parse of the frame that carried it (the outcome
      // stream's event or this call's get_job_result answer), nothing here changes it, and
      // verifyResult checks it synchronously; what the caller receives is this same object either
      // way. (A verifyResult without the `owned` option ignores it and copies.)
      owned: true,
    }
    const checked = verifyResult(result, options)
    if (checked.ok) return
    const message = `result of job ${jobId}: ${checked.reason}: ${checked.message}`
    if (checked.reason === 'bad_signature') throw new InvalidResultSignatureError(checked.reason, message)
    throw new ResultRefusedError(checked.reason, message)
  }

  private remember(job: JobEnvelope): void {
    if (this.created.size >= this.rememberedJobs) {
      const oldest = this.created.keys().next().value
      if (oldest !== undefined) this.created.delete(oldest)
    }
    this.created.set(job.id, expectedOf(job))
  }

  /** Lines the job printed so far. */
  jobLogs(jobId: string, options: SignalOptions = {}): Promise<string[]> {
    return this.onJobSupervisor('supervisor.get_job_logs', { jobId }, options)
  }

  cancelJob(jobId: string, options: SignalOptions = {}): Promise<JobStatusView> {
    return this.onJobSupervisor('supervisor.cancel_job', { jobId }, options)
  }

  /** Jobs on the supervisor this client uses, newest first. */
  listJobs(options: SignalOptions & { status?: JobStatus; limit?: number } = {}): Promise<JobStatusView[]> {
    const params: Record<string, unknown> = {}
    if (options.status !== undefined) params.status = options.status
    if (options.limit !== undefined) params.limit = options.limit
    return this.read('supervisor', 'supervisor.list_jobs', params, options)
  }

  /* ---- the mesh ---- */

  /** Nodes heard alive recently, optionally only those with a role or capability. */
  liveness(options: SignalOptions & { role?: string; capability?: string } = {}): Promise<LivePeer[]> {
    const params: Record<string, unknown> = {}
    if (options.role !== undefined) params.role = options.role
    if (options.capability !== undefined) params.capability = options.capability
    return this.read('node', 'mesh.liveness', params, options)
  }

  /** Any method of a node with `role`, for what the SDK has no wrapper for. */
  rpc<T = unknown>(
    role: ServiceRole,
    method: string,
    params?: RpcParams,
    options: SignalOptions = {},
  ): Promise<T> {
    return this.call(role, method, params, options)
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.outcomes?.close()
    await this.connection.close()
    await this.host?.stop()
  }

  private read<T>(role: ServiceRole, method: string, params: RpcParams, options: SignalOptions): Promise<T> {
    return this.call(role, method, params, { ...options, idempotent: true })
  }

  private async call<T>(
    role: ServiceRole,
    method: string,
    params: RpcParams | undefined,
    options: ConnectionCallOptions,
  ): Promise<T> {
    this.assertOpen()
    try {
      return await this.connection.call<T>(role, method, params, options)
    } catch (err) {
      throw this.explain(rebuildRemoteError(err))
    }
  }

  /** A refusal says what to fix: the gateway's token, or the trust entry for this client's key. */
  private explain(err: unknown): unknown {
    return explainRefusal(err, this.host === undefined ? undefined : this.peerId)
  }

  /** A job lives on the supervisor that accepted it: ask each reachable one until it is found. */
  private async onJobSupervisor<T>(
    method: string,
    params: RpcParams,
    options: SignalOptions,
    timeoutMs?: number,
  ): Promise<T> {
    this.assertOpen()
    try {
      return await this.connection.untilFound(
        'supervisor',
        (call) => call<T>(method, params),
        (err) => rebuildRemoteError(err) instanceof JobNotFoundError,
        { ...options, ...(timeoutMs === undefined ? {} : { timeoutMs }) },
      )
    } catch (err) {
      throw this.explain(rebuildRemoteError(err))
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new ClientClosedError()
  }
}

/** What a result must answer: the job's id, attempt and envelope digest, and who may run it. */
interface ExpectedAnswer {
  jobId: string
  attempt: number
  digest: string
  capability: string
}

function hasSecrets(spec: SecretOptions): spec is SecretOptions & { secrets: Record<string, string> } {
  return spec.secrets !== undefined && Object.keys(spec.secrets).length > 0
}

function expectedOf(job: JobEnvelope): ExpectedAnswer {
  return { jobId: job.id, attempt: job.attempt, digest: jobDigest(job), capability: job.runner }
}

function clientPolicy(trust: TrustConfig | TrustPolicy | undefined, self: string): TrustPolicy | undefined {
  if (trust === undefined || trust instanceof TrustPolicy) return trust
  return TrustPolicy.parse(trust, { self })
}

/** The envelope a supervisor sent with a result: it must be this job's, and its signatures verify. */
function envelopeOf(jobId: string, sent: JobEnvelope | undefined): JobEnvelope {
  const refuse = (message: string): never => {
    throw new ResultRefusedError('wrong_job', `result of job ${jobId}: ${message}`)
  }
  if (sent === undefined) return refuse('the supervisor did not send the job the result answers')
  if (!validateJobEnvelope(sent)) return refuse('the job the supervisor sent is not a job envelope')
  if (sent.id !== jobId) return refuse(`the supervisor sent job ${sent.id} instead`)
  const problem = signatureChainProblem(sent)
  if (problem !== undefined) return refuse(`the job the supervisor sent does not verify: ${problem.message}`)
  return sent
}

/** The document a submission digests: text is parsed here exactly as the coordinator would. */
function parseDocument(workflow: WorkflowDefinition | string): unknown {
  if (typeof workflow !== 'string') return workflow
  try {
    return parseWorkflowText(workflow)
  } catch (err) {
    if (!(err instanceof ParseFailure)) throw err
    const data: Record<string, unknown> = { code: err.code }
    if (err.line !== undefined) data.line = err.line
    if (err.column !== undefined) data.column = err.column
    throw new WorkflowParseError(err.message, data, err)
  }
}
