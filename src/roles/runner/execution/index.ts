/**
 * Job execution on a runner: a concurrency-limited queue, per-job timeout and cancellation,
 * environment variables, bounded logs, a fresh work directory per job, and at-most-once execution
 * per job id. Kinds (`hero`, `sal`, `osiris`, custom) are plain async handlers that receive the job
 * and a Temporal-activity-like context.
 */

import type { Datastore } from 'interface-datastore'
import type { ComponentLogger } from '../../../core/logger.js'
import type { Sandbox, SandboxLimits } from '../sandbox/index.js'
import type { FunctionRegistry } from './function-registry.js'
import { JobExecutor } from './job-executor.js'

export * from './errors.js'
export { FunctionRegistry, type RegisteredFunction } from './function-registry.js'
export { JobExecutor } from './job-executor.js'
export { REDACTED, Redactor } from './redactor.js'

/**
 * The part of a job envelope the runner executes. The signed envelope of `src/protocols/jobs/` is
 * structurally compatible (it carries more fields, which are ignored here).
 */
export interface ExecutableJob {
  id: string
  /** The kind (capability) that runs it: `hero`, `sal`, `osiris` or a custom kind. */
  runner: string
  payload: string
  /** Upstream step outputs keyed by step id. */
  input: Record<string, unknown>
  env: Record<string, string>
  /** A workflow step's `{ inputs, run }` (its workflow's inputs; run id, name, failure). */
  context?: Record<string, unknown>
  timeoutMs: number
}

/** What scripts see besides `input` and `env`: `inputs` (the run's) and `run`. */
export function scriptContext(job: ExecutableJob): { inputs: unknown; run: unknown } {
  const context = job.context ?? {}
  return { inputs: context.inputs ?? {}, run: context.run ?? null }
}

export type ExecutionStatus = 'succeeded' | 'failed' | 'timed_out' | 'cancelled'

export interface ExecutionError {
  /** The error class name, e.g. `ScriptError`; clients rebuild the class from it. */
  name: string
  /** Stable code, e.g. `SCRIPT_ERROR`. */
  code: string
  message: string
  retryable: boolean
}

export interface ExecutionResult {
  jobId: string
  status: ExecutionStatus
  /** The handler's output (JSON) when `status` is `succeeded`. */
  output?: unknown
  /** The output's canonical JSON (RFC 8785), computed once here (what results sign, blobs store). */
  outputJson?: string
  error?: ExecutionError
  /** Epoch milliseconds. */
  startedAt: number
  finishedAt: number
  logs: string[]
  /** True when log lines were dropped after the total cap (the last line says so). */
  logsTruncated: boolean
}

/**
 * What a kind handler gets besides the job, like a Temporal activity context. `signal`, `env` and
 * `workDir` are accessors, each made on first read (most jobs never read them): pass `ctx` itself
 * on, not a spread copy, which would not carry them. `log` and `heartbeat` may be used detached.
 */
export interface JobContext {
  /** Aborts when the job times out, is cancelled, or the executor stops. */
  signal: AbortSignal
  /** Adds a log line (bounded: long lines are cut, and lines past the total cap are dropped). */
  log(line: string): void
  /** Says the job is alive and making progress; emitted as `job:heartbeat`. */
  heartbeat(details?: unknown): void
  /**
   * An empty directory only this job uses, removed after it. It is made the first time this is
   * read (synchronously; a failure throws here), so a job that never reads it costs no mkdir.
   */
  readonly workDir: string
  functions: FunctionRegistry
  /** The executor's environment overlaid with the job's `env`. */
  env: Record<string, string>
  sandbox: Sandbox
  /** The node's datastore, when the executor was given one. */
  datastore: Datastore | undefined
}

export type KindHandler = (job: ExecutableJob, ctx: JobContext) => Promise<unknown>

export interface ExecuteOptions {
  /** Aborting it cancels the job (for the first caller; a duplicate call only stops waiting). */
  signal?: AbortSignal
  /** Each log line as it is produced. */
  onLog?: (line: string) => void
  /**
   * Called once when the job leaves the queue and its handler is about to run (as `job:started`,
   * but only for this call's job: a caller following its own jobs needs no executor-wide listener).
   */
  onStarted?: () => void
  /**
   * Opened secret values by variable name: added to the job's `env` (over the executor's and the
   * job's own variables) and replaced by `***` in its log lines, output and error message.
   */
  secrets?: Readonly<Record<string, string>>
}

export interface ExecutorLoad {
  running: number
  queued: number
  concurrency: number
}

export interface JobExecutorEvents {
  'job:started': CustomEvent<{ jobId: string; kind: string }>
  'job:log': CustomEvent<{ jobId: string; line: string }>
  'job:heartbeat': CustomEvent<{ jobId: string; details: unknown }>
  'job:completed': CustomEvent<ExecutionResult>
}

export interface JobExecutorInit {
  /** @default 4 */
  concurrency?: number
  /** @default 1_000 */
  maxQueueLength?: number
  /** @default 3_600_000 */
  maxTimeoutMs?: number
  /**
   * Parent of per-job work directories, used by this executor alone: whatever is in it at start
   * (left by a killed runner) is removed. @default a new directory under os.tmpdir(), removed on stop
   */
  workDirBase?: string
  /** Environment given to every job; a job's own `env` overrides it. @default {} */
  env?: Record<string, string>
  logs?: { maxLineBytes?: number; maxTotalBytes?: number }
  /** JSON size cap of any handler's output. @default DEFAULT_MAX_OUTPUT_BYTES (256 MiB) */
  maxOutputBytes?: number
  /** Defaults for script runs (`sal`, `osiris`, custom kinds using `ctx.sandbox`). */
  sandbox?: SandboxLimits
  /** @default 10_000 */
  resultCacheSize?: number
  /** @default 2_000 */
  abortGraceMs?: number
  functions?: FunctionRegistry
  /** Handlers by kind, e.g. from `builtinKinds()`. More can be added with `register`. */
  kinds?: Record<string, KindHandler>
  /** Handed to handlers as `ctx.datastore` (osiris stores its models there). */
  datastore?: Datastore
  logger?: ComponentLogger
}

export function createJobExecutor(init: JobExecutorInit = {}): JobExecutor {
  return new JobExecutor(init)
}
