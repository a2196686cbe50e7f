/**
 * Runs jobs through their kind's handler with the limits of the job and the runner. Each job id is
 * executed at most once: a repeated `execute` of a known id returns the same (pending or finished)
 * result.
 */

import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Logger } from '@libp2p/interface'
import { TypedEventEmitter } from 'main-event'
import { createLogger } from '../../../core/logger.js'
import { setLongTimeout } from '../../../core/long-timeout.js'
import { canonicalJson } from '../../../protocols/jobs/canonical.js'
import { createSandbox, OutputTooLargeError, type Sandbox, ScriptTimeoutError } from '../sandbox/index.js'
import {
  DEFAULT_ABORT_GRACE_MS,
  DEFAULT_CONCURRENCY,
  DEFAULT_MAX_LOG_BYTES,
  DEFAULT_MAX_LOG_LINE_BYTES,
  DEFAULT_MAX_OUTPUT_BYTES,
  DEFAULT_MAX_QUEUE_LENGTH,
  DEFAULT_MAX_TIMEOUT_MS,
  DEFAULT_RESULT_CACHE_SIZE,
  MAX_CACHED_OUTPUT_BYTES,
} from './constants.js'
import { toExecutionError } from './error-info.js'
import {
  ExecutorNotRunningError,
  JobCancelledError,
  JobOutputError,
  JobTimeoutError,
  KindRegistrationError,
  UnknownKindError,
} from './errors.js'
import { FunctionRegistry } from './function-registry.js'
import type {
  ExecutableJob,
  ExecuteOptions,
  ExecutionResult,
  ExecutionStatus,
  ExecutorLoad,
  JobExecutorEvents,
  JobExecutorInit,
  KindHandler,
} from './index.js'
import { type ContextShared, type EntryShared, ExecutionContext, JobEntry } from './job-entry.js'
import { assertExecutableJob } from './job-shape.js'
import type { Redactor } from './redactor.js'
import { SlotQueue } from './slot-queue.js'
import { JobWorkDir, removeWorkDir, sweepWorkDirs } from './work-dir.js'

const KIND_NAME = /^[a-z][a-z0-9_-]{0,63}$/

export class JobExecutor extends TypedEventEmitter<JobExecutorEvents> {
  readonly functions: FunctionRegistry
  private readonly init: JobExecutorInit
  private readonly log: Logger
  private readonly handlers = new Map<string, KindHandler>()
  private readonly entries = new Map<string, JobEntry>()
  private readonly finished = new Map<string, ExecutionResult>()
  private readonly slots: SlotQueue
  private readonly sandbox: Sandbox
  /** What every job's entry and context share, made once rather than per job. */
  private readonly entryShared: EntryShared
  private readonly contextShared: ContextShared
  private workDirBase: string | undefined
  private ownsWorkDirBase = false
  private running = false

  constructor(init: JobExecutorInit = {}) {
    super()
    this.init = init
    this.log = (init.logger ?? createLogger()).forComponent('horus:runner:executor')
    this.functions = init.functions ?? new FunctionRegistry()
    this.slots = new SlotQueue(
      init.concurrency ?? DEFAULT_CONCURRENCY,
      init.maxQueueLength ?? DEFAULT_MAX_QUEUE_LENGTH,
    )
    this.sandbox = createSandbox({
      ...(init.sandbox === undefined ? {} : { limits: init.sandbox }),
      maxIdleWorkers: init.concurrency ?? DEFAULT_CONCURRENCY,
      ...(init.logger === undefined ? {} : { logger: init.logger }),
    })
    for (const [kind, handler] of Object.entries(init.kinds ?? {})) this.register(kind, handler)
    this.entryShared = {
      logLimits: {
        maxLineBytes: init.logs?.maxLineBytes ?? DEFAULT_MAX_LOG_LINE_BYTES,
        maxTotalBytes: init.logs?.maxTotalBytes ?? DEFAULT_MAX_LOG_BYTES,
      },
      onLine: (jobId, line) => {
        if (this.listenerCount('job:log') > 0) this.safeDispatchEvent('job:log', { detail: { jobId, line } })
      },
    }
    this.contextShared = {
      functions: this.functions,
      sandbox: this.sandbox,
      datastore: init.datastore,
      env: init.env,
      heartbeat: (jobId, details) => {
        if (this.listenerCount('job:heartbeat') > 0)
          this.safeDispatchEvent('job:heartbeat', { detail: { jobId, details } })
      },
    }
  }

  async start(): Promise<void> {
    if (this.running) return
    if (this.init.workDirBase === undefined) {
      this.workDirBase = await mkdtemp(join(tmpdir(), 'horus-runner-'))
      this.ownsWorkDirBase = true
    } else {
      this.workDirBase = this.init.workDirBase
      // No job runs yet: anything here is a leftover of a runner that was killed mid-job.
      const swept = await sweepWorkDirs(this.workDirBase)
      if (swept > 0) this.log('removed %d work dir(s) left by an earlier run', swept)
    }
    await this.sandbox.start()
    this.running = true
  }

  /** Cancels queued and running jobs, waits for them to settle, and releases the sandbox. */
  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    const pending = [...this.entries.values()]
    for (const entry of pending) entry.stop('cancelled', new JobCancelledError('runner stopping'))
    await Promise.allSettled(pending.map((entry) => entry.result))
    await this.sandbox.stop()
    if (this.ownsWorkDirBase && this.workDirBase !== undefined) await removeWorkDir(this.workDirBase)
  }

  /** Adds a kind; returns a function that removes it. */
  register(kind: string, handler: KindHandler): () => void {
    if (!KIND_NAME.test(kind)) {
      throw new KindRegistrationError(
        `kind: expected lower-case letters, digits, '-' or '_', got ${JSON.stringify(kind)}`,
      )
    }
    if (this.handlers.has(kind))
      throw new KindRegistrationError(`kind ${JSON.stringify(kind)} is already registered`)
    this.handlers.set(kind, handler)
    return () => {
      if (this.handlers.get(kind) === handler) this.handlers.delete(kind)
    }
  }

  kinds(): string[] {
    return [...this.handlers.keys()]
  }

  /** Whether `kind` is served here (without making the list `kinds()` makes). */
  hasKind(kind: string): boolean {
    return this.handlers.has(kind)
  }

  get load(): ExecutorLoad {
    return {
      running: this.slots.running,
      queued: this.slots.queued,
      concurrency: this.init.concurrency ?? DEFAULT_CONCURRENCY,
    }
  }

  /** The result of a finished job still remembered, if any. */
  result(jobId: string): ExecutionResult | undefined {
    return this.finished.get(jobId)
  }

  /**
   * Runs `job` (or joins its run if the id is known) and resolves with its result; a failing job
   * resolves too. Rejects only when the job is not accepted: `ExecutorNotRunningError`,
   * `InvalidJobError`, `UnknownKindError`, `RunnerBusyError`.
   */
  execute(job: ExecutableJob, options: ExecuteOptions = {}): Promise<ExecutionResult> {
    if (!this.running) return Promise.reject(new ExecutorNotRunningError())
    try {
      assertExecutableJob(job, this.init.maxTimeoutMs ?? DEFAULT_MAX_TIMEOUT_MS)
    } catch (err) {
      return Promise.reject(err)
    }
    const known = this.finished.get(job.id)
    if (known !== undefined) return Promise.resolve(known)
    const existing = this.entries.get(job.id)
    if (existing !== undefined) return this.join(existing, options)
    if (!this.handlers.has(job.runner)) return Promise.reject(new UnknownKindError(job.runner, this.kinds()))
    try {
      this.slots.assertRoom()
    } catch (err) {
      return Promise.reject(err)
    }
    const entry = this.createEntry(job, options)
    this.entries.set(job.id, entry)
    return entry.result
  }

  /** Cancels a queued or running job; false when the id is not in flight. */
  cancel(jobId: string, reason?: string): boolean {
    const entry = this.entries.get(jobId)
    if (entry === undefined) return false
    entry.stop('cancelled', new JobCancelledError(reason))
    return true
  }

  private createEntry(job: ExecutableJob, options: ExecuteOptions): JobEntry {
    const entry = new JobEntry(job, options.secrets, this.entryShared)
    if (options.onLog !== undefined) entry.addListener(options.onLog)
    if (options.signal !== undefined) {
      const signal = options.signal
      const onAbort = (): void => {
        entry.stop('cancelled', new JobCancelledError('caller went away'))
      }
      if (signal.aborted) onAbort()
      else signal.addEventListener('abort', onAbort, { once: true })
      entry.result = this.schedule(entry, options.onStarted).finally(() =>
        signal.removeEventListener('abort', onAbort),
      )
    } else {
      entry.result = this.schedule(entry, options.onStarted)
    }
    return entry
  }

  /** A duplicate `execute`: shares the result; its signal only stops its own wait. */
  private join(entry: JobEntry, options: ExecuteOptions): Promise<ExecutionResult> {
    const onLog = options.onLog
    if (onLog !== undefined) entry.addListener(onLog)
    const signal = options.signal
    if (signal === undefined) return entry.result
    return new Promise<ExecutionResult>((resolve, reject) => {
      const onAbort = (): void => {
        if (onLog !== undefined) entry.removeListener(onLog)
        reject(signal.reason)
      }
      if (signal.aborted) return onAbort()
      signal.addEventListener('abort', onAbort, { once: true })
      entry.result.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
    })
  }

  private async schedule(entry: JobEntry, onStarted: (() => void) | undefined): Promise<ExecutionResult> {
    // A free slot is taken at once; only a job that has to queue makes its signal to wait with.
    if (entry.stopped !== undefined || !this.slots.tryAcquire()) {
      const queuedAt = Date.now()
      try {
        await this.slots.acquire(entry.signal)
      } catch {
        return this.complete(entry, { status: 'cancelled', error: entry.stopped?.error }, queuedAt)
      }
    }
    let released = false
    const release = (): void => {
      if (released) return
      released = true
      this.slots.release()
    }
    try {
      return await this.run(entry, release, onStarted)
    } finally {
      // A handler that ignores its signal keeps its slot only for the abort grace period.
      if (entry.stopped === undefined) release()
    }
  }

  private async run(
    entry: JobEntry,
    release: () => void,
    onStarted: (() => void) | undefined,
  ): Promise<ExecutionResult> {
    const { job } = entry
    const startedAt = Date.now()
    const handler = this.handlers.get(job.runner) as KindHandler
    // An embedder's `maxTimeoutMs` may reach beyond setTimeout's range: the timer must not fire at once.
    const timer = setLongTimeout(
      () => entry.stop('timed_out', new JobTimeoutError(job.timeoutMs)),
      job.timeoutMs,
    )
    onStarted?.()
    if (this.listenerCount('job:started') > 0)
      this.safeDispatchEvent('job:started', { detail: { jobId: job.id, kind: job.runner } })
    const workDir = new JobWorkDir(this.workDirBase as string, job.id)
    let settled: Promise<unknown>
    try {
      settled = Promise.resolve(handler(job, new ExecutionContext(entry, workDir, this.contextShared)))
    } catch (err) {
      settled = Promise.reject(err) // a handler that throws before returning its promise
    }
    // The work directory goes once the handler has really finished, even after a timeout.
    const cleanUp = (): Promise<void> | undefined => {
      timer.clear()
      release()
      if (!workDir.exists) return undefined
      return workDir.remove().catch((err: unknown) => {
        this.log.error('job %s: removing its work directory failed - %e', job.id, err)
      })
    }
    const outcome = await entry.settleOrStop(settled)
    if (entry.stopped !== undefined) {
      const cleanup = settled.then(cleanUp, cleanUp)
      const grace = this.init.abortGraceMs ?? DEFAULT_ABORT_GRACE_MS
      await Promise.race([cleanup, delay(grace)])
      release()
      return this.complete(entry, { status: entry.stopped.status, error: entry.stopped.error }, startedAt)
    }
    const removing = cleanUp()
    if (removing !== undefined) await removing
    if (!outcome.ok) {
      const status: ExecutionStatus = outcome.error instanceof ScriptTimeoutError ? 'timed_out' : 'failed'
      return this.complete(entry, { status, error: outcome.error }, startedAt)
    }
    try {
      return this.complete(
        entry,
        { status: 'succeeded', ...this.normaliseOutput(outcome.value, entry.redactor) },
        startedAt,
      )
    } catch (err) {
      return this.complete(entry, { status: 'failed', error: err }, startedAt)
    }
  }

  /**
   * The output as plain JSON with the job's secrets redacted, and its canonical text (what results
   * sign and blobs store).
   */
  private normaliseOutput(value: unknown, redactor: Redactor): { output?: unknown; outputJson?: string } {
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return {}
    // `null` (what many kinds answer) is its own plain and canonical form: no JSON round trips.
    if (value === null) return this.checkedOutput(null, 'null')
    let text: string
    try {
      // Through JSON first: toJSON, undefined members and the like behave as JSON.stringify says.
      const plain: unknown = JSON.parse(JSON.stringify(value) ?? 'null')
      text = canonicalJson(redactor.value(plain))
    } catch (err) {
      throw new JobOutputError(`job output is not JSON-serialisable: ${(err as Error).message}`)
    }
    return this.checkedOutput(undefined, text)
  }

  /** The output and its canonical text, within the size cap; `output` is parsed from `text` unless given. */
  private checkedOutput(output: unknown, text: string): { output: unknown; outputJson: string } {
    const max = this.init.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES
    const bytes = Buffer.byteLength(text)
    if (bytes > max) throw new OutputTooLargeError(bytes, max)
    return { output: output === undefined ? JSON.parse(text) : output, outputJson: text }
  }

  private complete(
    entry: JobEntry,
    outcome: { status: ExecutionStatus; output?: unknown; outputJson?: string; error?: unknown },
    startedAt: number,
  ): ExecutionResult {
    const result: ExecutionResult = {
      jobId: entry.job.id,
      status: outcome.status,
      startedAt,
      finishedAt: Date.now(),
      logs: entry.logs(),
      logsTruncated: entry.logsTruncated,
    }
    if (outcome.output !== undefined) result.output = outcome.output
    if (outcome.outputJson !== undefined) result.outputJson = outcome.outputJson
    if (outcome.status !== 'succeeded') {
      result.error = entry.redactor.error(toExecutionError(outcome.error ?? new JobCancelledError()))
    }
    this.entries.delete(entry.job.id)
    this.remember(result)
    if (this.log.enabled) this.log('job %s %s', entry.job.id, result.status)
    if (this.listenerCount('job:completed') > 0) this.safeDispatchEvent('job:completed', { detail: result })
    return result
  }

  private remember(result: ExecutionResult): void {
    // A large output is not held in memory for replays: the runner's result store answers those.
    if (result.outputJson !== undefined && result.outputJson.length > MAX_CACHED_OUTPUT_BYTES) return
    this.finished.set(result.jobId, result)
    const max = this.init.resultCacheSize ?? DEFAULT_RESULT_CACHE_SIZE
    if (this.finished.size <= max) return
    for (const key of this.finished.keys()) {
      if (this.finished.size <= max) break
      this.finished.delete(key)
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}
