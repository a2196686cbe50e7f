/**
 * The script sandbox: QuickJS compiled to WebAssembly (`quickjs-emscripten`, sync build), run in
 * worker threads. Scripts see only JSON copies of their globals, `console`, and the host functions
 * they are given; never `eval`, `new Function` or `node:vm` on the host.
 *
 * Host functions look synchronous to scripts (`let r = os.exec("echo hi"); r.stdout`) though they
 * are async on the host: the worker blocks on `Atomics.wait` while the main thread runs the host
 * function, then reads the reply synchronously (see protocol.ts). The asyncify build was measured
 * and rejected: once V8 optimises it, each script call level takes ~50 KiB of native stack, so a
 * 20-deep recursion overflows Node's stack; and on the main thread a busy script stalls the node.
 *
 * Cost model (see `scripts/bench/sandbox.ts`): the wasm binary is compiled once per process; a
 * worker (~30–50 ms to start) is reused across runs; each run gets a fresh QuickJS runtime +
 * context, disposed afterwards, so no state leaks between jobs.
 */

import { type ComponentLogger, createLogger } from '../../../core/logger.js'
import { DEFAULT_MAX_IDLE_WORKERS } from './constants.js'
import { QuickJsSandbox } from './quickjs-sandbox.js'
import { WorkerPool } from './worker-pool.js'

export * from './errors.js'
export { cutLine, LogLimiter, type LogLimits } from './log-limiter.js'

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }

/**
 * A function a script can call by name. Arguments arrive as JSON copies (`undefined` becomes
 * `null`); the result is copied back as JSON. A thrown error becomes an exception in the script with
 * the same `name`, `message` and `code`. `signal` aborts when the run is stopped.
 */
export type HostFunction = (
  args: JsonValue[],
  options: { signal: AbortSignal },
) => JsonValue | undefined | Promise<JsonValue | undefined>

export interface SandboxLimits {
  /** @default 64 MiB */
  memoryBytes?: number
  /** Time executing inside the VM, host calls excluded. @default 10_000 */
  cpuTimeMs?: number
  /** Whole run, host calls included. @default 60_000 */
  wallTimeMs?: number
  /** @default 256 KiB (≈ 1,000 nested calls) */
  maxStackBytes?: number
  /** JSON of the result. @default 1 MiB */
  maxOutputBytes?: number
  /** JSON of one host call's arguments, and of its reply. @default 16 MiB */
  maxHostCallBytes?: number
  /** @default 4 KiB */
  maxLogLineBytes?: number
  /** @default 256 KiB */
  maxLogBytes?: number
}

export interface RunScriptOptions {
  /** Evaluated as a global script; its value is that of its last expression statement. */
  code: string
  /** Copied in as JSON, e.g. `{ input, env }`. */
  globals?: Record<string, unknown>
  /** By dotted path: `{ 'os.exec': fn }` makes `os.exec(…)` callable. */
  hostFunctions?: Record<string, HostFunction>
  /**
   * Trusted script run in the same context before `code` (in its own file, so line numbers of `code`
   * are unchanged), to shape host functions into friendlier APIs.
   */
  prelude?: string
  limits?: SandboxLimits
  signal?: AbortSignal
  /** Each `console.*` line, after the line and total caps. */
  onLog?: (line: string) => void
}

export interface ScriptRun {
  /** The last expression's value as JSON; `undefined` when it has none (e.g. ends with a declaration). */
  value: JsonValue | undefined
  logs: string[]
  timings: {
    /** Instance acquisition, runtime + context creation, globals and host functions. */
    setupMs: number
    runMs: number
    cpuMs: number
  }
}

export interface Sandbox {
  /** Compiles the wasm binary and starts one worker ahead of the first run. */
  start(): Promise<void>
  /** Terminates idle workers; runs in flight finish. */
  stop(): Promise<void>
  /**
   * Runs one script. Rejects with `ScriptError` (uncaught exception, with its line),
   * `ScriptTimeoutError`, `ScriptMemoryError`, `ScriptStackOverflowError`, `OutputTooLargeError`,
   * `ScriptResultError`, `ScriptCancelledError` (signal), a host function's own error when the script
   * let it escape, or `SandboxCrashError`.
   */
  runScript(options: RunScriptOptions): Promise<ScriptRun>
}

export interface SandboxInit {
  /** Defaults for every run; a run's own `limits` override them. */
  limits?: SandboxLimits
  /** @default 4 */
  maxIdleWorkers?: number
  logger?: ComponentLogger
}

export function createSandbox(init: SandboxInit = {}): Sandbox {
  const log = (init.logger ?? createLogger()).forComponent('horus:runner:sandbox')
  const pool = new WorkerPool({
    maxIdle: init.maxIdleWorkers ?? DEFAULT_MAX_IDLE_WORKERS,
    onStderr: (line) => log.error('quickjs: %s', line),
  })
  return new QuickJsSandbox(pool, init.limits ?? {}, log)
}
