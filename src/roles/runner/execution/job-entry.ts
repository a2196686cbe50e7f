/**
 * One job in flight on the executor, and the context its handler gets. Both are made for every job,
 * so what most jobs never use is made only when first asked for: the AbortController (and its
 * signal, with listeners, ~10 µs a job), the log buffer, the merged environment, the work dir.
 */

import type { Datastore } from 'interface-datastore'
import { LogLimiter, type LogLimits, type Sandbox } from '../sandbox/index.js'
import type { FunctionRegistry } from './function-registry.js'
import type { ExecutableJob, ExecutionResult, JobContext } from './index.js'
import { NO_REDACTION, Redactor } from './redactor.js'
import type { JobWorkDir } from './work-dir.js'

export type StopStatus = 'timed_out' | 'cancelled'

/** A handler's outcome (a stop before it settled counts as failing with the stop's error). */
export type Settled = { ok: true; value: unknown } | { ok: false; error: unknown }

/** What every job's entry shares: the executor's log limits and where its lines go. */
export interface EntryShared {
  logLimits: LogLimits
  /** Each kept log line of any job, after its own listeners (the executor's `job:log` event). */
  onLine(jobId: string, line: string): void
}

export class JobEntry {
  readonly job: ExecutableJob
  /** Opened secret values: in the job's env, and removed from everything the job reports. */
  readonly secrets: Readonly<Record<string, string>>
  readonly redactor: Redactor
  /** Why the job was stopped from outside, once it was. */
  stopped: { status: StopStatus; error: Error } | undefined
  /** Set by the executor right after it makes the entry. */
  result!: Promise<ExecutionResult>
  private readonly shared: EntryShared
  private controller: AbortController | undefined
  private logLimiter: LogLimiter | undefined
  private listeners: Set<(line: string) => void> | undefined
  /** Wakes the executor's own wait on this job (for its slot, or its handler) when it is stopped. */
  private wake: (() => void) | undefined

  constructor(
    job: ExecutableJob,
    secrets: Readonly<Record<string, string>> | undefined,
    shared: EntryShared,
  ) {
    this.job = job
    this.shared = shared
    this.secrets = secrets ?? {}
    this.redactor = secrets === undefined ? NO_REDACTION : new Redactor(Object.values(secrets))
    this.stopped = undefined
    this.controller = undefined
    this.logLimiter = undefined
    this.listeners = undefined
    this.wake = undefined
  }

  /** Aborts when the job is stopped; made on first use (already aborted for a job stopped before). */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController()
      if (this.stopped !== undefined) this.controller.abort(this.stopped.error)
    }
    return this.controller.signal
  }

  /** Stops the job once: its handler's signal aborts and the executor stops waiting for it. */
  stop(status: StopStatus, error: Error): void {
    if (this.stopped !== undefined) return
    this.stopped = { status, error }
    this.controller?.abort(error)
    this.wake?.()
  }

  /** The handler's outcome, or the stop's error as soon as the job is stopped (at once if it already was). */
  settleOrStop(promise: Promise<unknown>): Promise<Settled> {
    return new Promise<Settled>((resolve) => {
      const settle = (settled: Settled): void => {
        this.wake = undefined
        resolve(settled)
      }
      promise.then(
        (value) => settle({ ok: true, value }),
        (error: unknown) => settle({ ok: false, error }),
      )
      if (this.stopped !== undefined) settle({ ok: false, error: this.stopped.error })
      else this.wake = () => settle({ ok: false, error: this.stopped?.error })
    })
  }

  addListener(listener: (line: string) => void): void {
    this.listeners ??= new Set()
    this.listeners.add(listener)
  }

  removeListener(listener: (line: string) => void): void {
    this.listeners?.delete(listener)
  }

  /** Adds a (redacted, bounded) log line. */
  log(line: string): void {
    this.logLimiter ??= new LogLimiter(this.shared.logLimits, (kept) => {
      if (this.listeners !== undefined) for (const listener of this.listeners) listener(kept)
      this.shared.onLine(this.job.id, kept)
    })
    this.logLimiter.push(this.redactor.text(line))
  }

  /** The lines kept so far (a copy). */
  logs(): string[] {
    return this.logLimiter === undefined ? [] : this.logLimiter.snapshot()
  }

  get logsTruncated(): boolean {
    return this.logLimiter?.truncated ?? false
  }
}

/** What a job's context reads from its executor. */
export interface ContextShared {
  functions: FunctionRegistry
  sandbox: Sandbox
  datastore: Datastore | undefined
  env: Record<string, string> | undefined
  heartbeat(jobId: string, details: unknown): void
}

/**
 * A handler's context. A class rather than an object literal with a getter: the literal cost
 * ~1.5 µs a job to make, the class ~50 ns. `log` and `heartbeat` are own arrow functions so a
 * handler may pass them around detached (`const { log } = ctx`).
 */
export class ExecutionContext implements JobContext {
  readonly functions: FunctionRegistry
  readonly sandbox: Sandbox
  readonly datastore: Datastore | undefined
  readonly log: (line: string) => void
  readonly heartbeat: (details?: unknown) => void
  private readonly entry: JobEntry
  private readonly dir: JobWorkDir
  private readonly shared: ContextShared
  private merged: Record<string, string> | undefined

  constructor(entry: JobEntry, dir: JobWorkDir, shared: ContextShared) {
    this.entry = entry
    this.dir = dir
    this.shared = shared
    this.functions = shared.functions
    this.sandbox = shared.sandbox
    this.datastore = shared.datastore
    this.merged = undefined
    this.log = (line) => entry.log(line)
    this.heartbeat = (details) => shared.heartbeat(entry.job.id, details)
  }

  get workDir(): string {
    return this.dir.path
  }

  get signal(): AbortSignal {
    return this.entry.signal
  }

  /** The executor's environment overlaid with the job's `env` and its secrets; made once, on first read. */
  get env(): Record<string, string> {
    this.merged ??= { ...this.shared.env, ...this.entry.job.env, ...this.entry.secrets }
    return this.merged
  }

  set env(value: Record<string, string>) {
    this.merged = value
  }
}
