/**
 * The main-thread side of a script run: hands the script to a pooled worker, serves its host calls,
 * collects its log lines, enforces the wall-clock limit and cancellation (a worker that does not
 * stop within a grace period is terminated), and turns the worker's verdict into a typed error.
 */

import type { Logger } from '@libp2p/interface'
import { abortable } from '../../../core/abortable.js'
import { setLongTimeout } from '../../../core/long-timeout.js'
import {
  DEFAULT_CPU_TIME_MS,
  DEFAULT_MAX_HOST_CALL_BYTES,
  DEFAULT_MAX_LOG_BYTES,
  DEFAULT_MAX_LOG_LINE_BYTES,
  DEFAULT_MAX_OUTPUT_BYTES,
  DEFAULT_MAX_STACK_BYTES,
  DEFAULT_MEMORY_BYTES,
  DEFAULT_WALL_TIME_MS,
  STOP_GRACE_MS,
} from './constants.js'
import {
  HostCallTooLargeError,
  OutputTooLargeError,
  SandboxConfigError,
  SandboxCrashError,
  ScriptCancelledError,
  ScriptError,
  ScriptMemoryError,
  ScriptResultError,
  ScriptStackOverflowError,
  ScriptTimeoutError,
} from './errors.js'
import type { HostFunction, JsonValue, RunScriptOptions, Sandbox, SandboxLimits, ScriptRun } from './index.js'
import { LogLimiter } from './log-limiter.js'
import type { HostReply, RunFailure, RunRequest, WorkerMessage } from './protocol.js'
import type { SandboxWorker, WorkerPool } from './worker-pool.js'

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/

export function resolveLimits(limits: SandboxLimits = {}): Required<SandboxLimits> {
  const resolved: Required<SandboxLimits> = {
    memoryBytes: limits.memoryBytes ?? DEFAULT_MEMORY_BYTES,
    cpuTimeMs: limits.cpuTimeMs ?? DEFAULT_CPU_TIME_MS,
    wallTimeMs: limits.wallTimeMs ?? DEFAULT_WALL_TIME_MS,
    maxStackBytes: limits.maxStackBytes ?? DEFAULT_MAX_STACK_BYTES,
    maxOutputBytes: limits.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
    maxHostCallBytes: limits.maxHostCallBytes ?? DEFAULT_MAX_HOST_CALL_BYTES,
    maxLogLineBytes: limits.maxLogLineBytes ?? DEFAULT_MAX_LOG_LINE_BYTES,
    maxLogBytes: limits.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES,
  }
  for (const [key, value] of Object.entries(resolved)) {
    if (!Number.isInteger(value) || value < 1) {
      throw new SandboxConfigError(`limits.${key}: expected an integer ≥ 1, got ${String(value)}`)
    }
  }
  return resolved
}

function assertNames(options: RunScriptOptions): void {
  for (const name of Object.keys(options.globals ?? {})) {
    if (!IDENTIFIER.test(name)) {
      throw new SandboxConfigError(`globals: expected JavaScript identifiers, got ${JSON.stringify(name)}`)
    }
  }
  for (const path of Object.keys(options.hostFunctions ?? {})) {
    if (!path.split('.').every((part) => IDENTIFIER.test(part))) {
      throw new SandboxConfigError(`hostFunctions: expected dotted identifiers, got ${JSON.stringify(path)}`)
    }
  }
}

let nextRunId = 0

export class QuickJsSandbox implements Sandbox {
  private readonly pool: WorkerPool
  private readonly defaults: SandboxLimits
  private readonly log: Logger

  constructor(pool: WorkerPool, defaults: SandboxLimits, log: Logger) {
    this.pool = pool
    this.defaults = defaults
    this.log = log
  }

  async start(): Promise<void> {
    await this.pool.warm()
  }

  async stop(): Promise<void> {
    await this.pool.clear()
  }

  async runScript(options: RunScriptOptions): Promise<ScriptRun> {
    const limits = resolveLimits({ ...this.defaults, ...options.limits })
    assertNames(options)
    options.signal?.throwIfAborted()
    const startedAt = performance.now()
    const worker = await this.pool.acquire()
    const run = new Run(worker, options, limits, this.log)
    let reusable = false
    try {
      const { value, setupMs, cpuMs } = await run.start(nextRunId++)
      reusable = true
      return {
        value,
        logs: run.logs.snapshot(),
        timings: { setupMs, runMs: performance.now() - startedAt - setupMs, cpuMs },
      }
    } catch (err) {
      reusable = run.reusable
      throw err
    } finally {
      this.pool.release(worker, reusable)
    }
  }
}

interface RunOutcome {
  value: JsonValue | undefined
  setupMs: number
  cpuMs: number
}

/** One run on one worker; settles exactly once. */
class Run {
  readonly logs: LogLimiter
  reusable = true
  private readonly worker: SandboxWorker
  private readonly options: RunScriptOptions
  private readonly limits: Required<SandboxLimits>
  private readonly log: Logger
  private readonly controller = new AbortController()
  private readonly hostErrors: Error[] = []
  private stopReason: 'wall' | 'cancelled' | undefined
  private runId = -1

  constructor(
    worker: SandboxWorker,
    options: RunScriptOptions,
    limits: Required<SandboxLimits>,
    log: Logger,
  ) {
    this.worker = worker
    this.options = options
    this.limits = limits
    this.log = log
    this.logs = new LogLimiter(
      { maxLineBytes: limits.maxLogLineBytes, maxTotalBytes: limits.maxLogBytes },
      options.onLog,
    )
  }

  start(runId: number): Promise<RunOutcome> {
    this.runId = runId
    let resolve!: (value: RunOutcome) => void
    let reject!: (error: Error) => void
    const promise = new Promise<RunOutcome>((res, rej) => {
      resolve = res
      reject = rej
    })
    let settled = false
    let graceTimer: ReturnType<typeof setTimeout> | undefined
    const settle = (outcome: { ok: true; value: RunOutcome } | { ok: false; error: Error }): void => {
      if (settled) return
      settled = true
      wallTimer.clear()
      clearTimeout(graceTimer)
      this.options.signal?.removeEventListener('abort', onCancel)
      this.controller.abort()
      if (outcome.ok) resolve(outcome.value)
      else reject(outcome.error)
    }
    const stop = (reason: 'wall' | 'cancelled'): void => {
      if (settled || this.stopReason !== undefined) return
      this.stopReason = reason
      this.worker.stop()
      this.controller.abort(this.stopError())
      graceTimer = setTimeout(() => {
        this.log.error('sandbox worker did not stop within %d ms; terminating it', STOP_GRACE_MS)
        this.reusable = false
        settle({ ok: false, error: this.stopError() ?? new ScriptCancelledError() })
      }, STOP_GRACE_MS)
    }
    const onCancel = (): void => stop('cancelled')
    // A job's timeoutMs, which a runner may allow beyond setTimeout's range.
    const wallTimer = setLongTimeout(() => stop('wall'), this.limits.wallTimeMs)
    this.options.signal?.addEventListener('abort', onCancel, { once: true })
    const request: RunRequest = {
      type: 'run',
      runId,
      code: this.options.code,
      prelude: this.options.prelude,
      globals: JSON.stringify(this.options.globals ?? {}),
      hostFunctions: Object.keys(this.options.hostFunctions ?? {}),
      limits: this.limits,
    }
    this.worker.begin(request, {
      onMessage: (message) => this.onMessage(message, settle),
      onExit: (reason) => {
        this.reusable = false
        settle({ ok: false, error: this.stopError() ?? exitError(reason) })
      },
    })
    return promise
  }

  private onMessage(
    message: WorkerMessage,
    settle: (outcome: { ok: true; value: RunOutcome } | { ok: false; error: Error }) => void,
  ): void {
    if (!('runId' in message) || message.runId !== this.runId) return
    switch (message.type) {
      case 'log':
        this.logs.push(message.line)
        return
      case 'call':
        void this.serve(message.callId, message.path, message.args, message.argsBytes)
        return
      case 'done':
        settle({
          ok: true,
          value: {
            value: message.value === undefined ? undefined : (JSON.parse(message.value) as JsonValue),
            setupMs: message.setupMs,
            cpuMs: message.cpuMs,
          },
        })
        return
      case 'failed':
        if (message.recycle) this.reusable = false
        settle({ ok: false, error: this.failureError(message.failure) })
    }
  }

  /**
   * Runs one host function; never rejects (the worker is blocked until it gets a reply).
   * `argsBytes` is set instead of `args` when the worker found the arguments over the limit.
   */
  private async serve(callId: number, path: string, args: string, argsBytes?: number): Promise<void> {
    const signal = this.controller.signal
    const limit = this.limits.maxHostCallBytes
    let reply: HostReply
    try {
      signal.throwIfAborted()
      if (argsBytes !== undefined) throw new HostCallTooLargeError(path, 'arguments', argsBytes, limit)
      const fn = this.options.hostFunctions?.[path] as HostFunction
      const value = await abortable(Promise.resolve(fn(JSON.parse(args) as JsonValue[], { signal })), signal)
      const text = value === undefined ? undefined : JSON.stringify(value)
      // UTF-8 never takes fewer bytes than UTF-16 code units: the cheap check first.
      if (text !== undefined && (text.length > limit || Buffer.byteLength(text) > limit))
        throw new HostCallTooLargeError(path, 'reply', Buffer.byteLength(text), limit)
      reply = { callId, ok: true, value: text }
    } catch (err) {
      const error = signal.aborted
        ? new ScriptCancelledError(signal.reason)
        : err instanceof Error
          ? err
          : new Error(`${path} failed: ${String(err)}`)
      this.hostErrors.push(error)
      const code = (error as { code?: unknown }).code
      reply = {
        callId,
        ok: false,
        error: {
          name: error.name,
          message: error.message,
          code: typeof code === 'string' ? code : undefined,
        },
      }
    }
    this.worker.reply(reply)
  }

  private stopError(): Error | undefined {
    if (this.stopReason === 'wall') return new ScriptTimeoutError('wall-clock time', this.limits.wallTimeMs)
    if (this.stopReason === 'cancelled') return new ScriptCancelledError(this.options.signal?.reason)
    return undefined
  }

  private failureError(failure: RunFailure): Error {
    const stopped = this.stopError()
    if (stopped !== undefined) return stopped
    switch (failure.kind) {
      case 'script':
        return (
          this.hostErrorFor(failure.name, failure.message) ??
          new ScriptError(failure.name, failure.message, failure.line)
        )
      case 'uncaught':
        return new ScriptError('Uncaught', failure.description)
      case 'cpu':
        return new ScriptTimeoutError('CPU time', this.limits.cpuTimeMs)
      case 'stopped':
        return new ScriptCancelledError()
      case 'memory':
        return new ScriptMemoryError(this.limits.memoryBytes)
      case 'stack':
        return new ScriptStackOverflowError(this.limits.maxStackBytes)
      case 'output':
        return new OutputTooLargeError(failure.size, this.limits.maxOutputBytes)
      case 'result':
        return new ScriptResultError(failure.message)
      case 'config':
        return new SandboxConfigError(failure.message)
      case 'crash':
        return new SandboxCrashError(failure.message)
    }
  }

  /** The host error a script let escape keeps its own class (matched by the name and message it was given). */
  private hostErrorFor(name: string, message: string): Error | undefined {
    for (let i = this.hostErrors.length - 1; i >= 0; i--) {
      const error = this.hostErrors[i] as Error
      if (error.name === name && error.message === message) return error
    }
    return undefined
  }
}

function exitError(reason: Error): Error {
  // Node reports a worker that ran out of V8 heap with this code.
  if ((reason as { code?: unknown }).code === 'ERR_WORKER_OUT_OF_MEMORY') return new ScriptMemoryError(0)
  return new SandboxCrashError(reason)
}
