/**
 * One script run inside a sandbox worker: a fresh QuickJS runtime + context, the run's globals,
 * `console` and host-function stubs, then the script. Everything is disposed afterwards, so nothing
 * a script does survives it. Runs on the worker thread; host calls block it (see protocol.ts).
 */

import type { QuickJSContext, QuickJSHandle, QuickJSRuntime, QuickJSWASMModule } from 'quickjs-emscripten'
import { PRELUDE_FILE_NAME, SCRIPT_FILE_NAME } from './constants.js'
import { CpuClock } from './cpu-clock.js'
import { JsonBridge, OversizeJson, VmException } from './json-bridge.js'
import { cutLine } from './log-limiter.js'
import type { HostReply, RunFailure, RunRequest, WorkerMessage } from './protocol.js'

export interface WorkerRunIo {
  /**
   * Blocks the worker until the main thread has answered. `args` is the JSON of the arguments, or
   * their size when it is over the limit (the main thread then answers with the typed error).
   */
  callHost(path: string, args: string | { oversizeBytes: number }): HostReply
  log(line: string): void
  stopRequested(): boolean
}

class RunAborted extends Error {
  readonly failure: RunFailure
  readonly recycle: boolean

  constructor(failure: RunFailure, recycle: boolean) {
    super(failure.kind)
    this.failure = failure
    this.recycle = recycle
  }
}

export function runInWorker(module: QuickJSWASMModule, request: RunRequest, io: WorkerRunIo): WorkerMessage {
  const startedAt = performance.now()
  const clock = new CpuClock()
  const { limits, runId } = request
  let cpuExceeded = false
  const runtime = module.newRuntime()
  runtime.setMemoryLimit(limits.memoryBytes)
  runtime.setMaxStackSize(limits.maxStackBytes)
  runtime.setInterruptHandler(() => {
    if (io.stopRequested()) return true
    cpuExceeded ||= clock.elapsedMs() > limits.cpuTimeMs
    return cpuExceeded
  })
  const ctx = runtime.newContext()
  const json = new JsonBridge(ctx)
  const state = { hostCallsAllowed: true, healthy: true }
  const classify = (thrown: unknown): RunFailure =>
    cpuExceeded ? { kind: 'cpu' } : io.stopRequested() ? { kind: 'stopped' } : classifyThrown(thrown)
  try {
    install(ctx, json, request, io, clock, state)
    runPrelude(ctx, request.prelude)
    const setupMs = performance.now() - startedAt
    clock.resume()
    const value = evaluate(ctx, json, request, state, classify)
    clock.pause()
    return { type: 'done', runId, value, setupMs, cpuMs: clock.elapsedMs() }
  } catch (err) {
    clock.pause()
    const aborted =
      err instanceof RunAborted ? err : new RunAborted({ kind: 'crash', message: String(err) }, true)
    if (aborted.recycle) state.healthy = false
    return {
      type: 'failed',
      runId,
      failure: aborted.failure,
      cpuMs: clock.elapsedMs(),
      recycle: !state.healthy,
    }
  } finally {
    if (state.healthy) state.healthy = dispose(json, ctx, runtime)
  }
}

function install(
  ctx: QuickJSContext,
  json: JsonBridge,
  request: RunRequest,
  io: WorkerRunIo,
  clock: CpuClock,
  state: { hostCallsAllowed: boolean },
): void {
  const globals = json.fromJson(request.globals)
  for (const name of Object.keys(JSON.parse(request.globals) as object)) {
    ctx.getProp(globals, name).consume((value) => ctx.setProp(ctx.global, name, value))
  }
  globals.dispose()
  installConsole(ctx, json, request, io, state)
  const namespaces = new Map<string, QuickJSHandle>()
  for (const path of request.hostFunctions) {
    const parts = path.split('.')
    const name = parts.pop() as string
    const owner = parts.length === 0 ? ctx.global : namespace(ctx, namespaces, parts)
    const fn = ctx.newFunction(name, (...args) => {
      if (!state.hostCallsAllowed) throw new Error(`${path} cannot be called while the result is being read`)
      const array = ctx.newArray()
      for (const [i, arg] of args.entries()) ctx.setProp(array, i, arg)
      const callArgs = array.consume((a) => argumentsJson(json, a, request.limits.maxHostCallBytes))
      clock.pause()
      const reply = io.callHost(path, callArgs)
      clock.resume()
      if (reply.ok) return json.fromJson(reply.value)
      const error = ctx.newError({ name: reply.error.name, message: reply.error.message })
      if (reply.error.code !== undefined)
        ctx.newString(reply.error.code).consume((c) => ctx.setProp(error, 'code', c))
      return { error }
    })
    ctx.setProp(owner, name, fn)
    fn.dispose()
  }
  for (const handle of namespaces.values()) handle.dispose()
}

/** The arguments' JSON, or their size when over the limit (checked before the text leaves the VM). */
function argumentsJson(
  json: JsonBridge,
  array: QuickJSHandle,
  maxBytes: number,
): string | { oversizeBytes: number } {
  try {
    return json.toJson(array, maxBytes) ?? '[]'
  } catch (err) {
    if (err instanceof OversizeJson) return { oversizeBytes: err.size }
    throw err
  }
}

function namespace(
  ctx: QuickJSContext,
  namespaces: Map<string, QuickJSHandle>,
  parts: string[],
): QuickJSHandle {
  let owner = ctx.global
  for (let i = 0; i < parts.length; i++) {
    const key = parts.slice(0, i + 1).join('.')
    let handle = namespaces.get(key)
    if (handle === undefined) {
      handle = ctx.newObject()
      ctx.setProp(owner, parts[i] as string, handle)
      namespaces.set(key, handle)
    }
    owner = handle
  }
  return owner
}

function installConsole(
  ctx: QuickJSContext,
  json: JsonBridge,
  request: RunRequest,
  io: WorkerRunIo,
  state: { hostCallsAllowed: boolean },
): void {
  const maxLine = request.limits.maxLogLineBytes
  const format = (arg: QuickJSHandle): string => {
    const type = ctx.typeof(arg)
    if (type === 'string') return ctx.getString(arg)
    if (type === 'undefined' || type === 'function') return type === 'function' ? '[function]' : 'undefined'
    state.hostCallsAllowed = false
    try {
      return json.toJson(arg, maxLine) ?? type
    } catch {
      return `[unserialisable ${type}]`
    } finally {
      state.hostCallsAllowed = true
    }
  }
  const console = ctx.newObject()
  for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    const prefix = level === 'log' || level === 'info' ? '' : `[${level}] `
    ctx
      .newFunction(level, (...args) => {
        io.log(cutLine(prefix + args.map(format).join(' '), maxLine))
      })
      .consume((fn) => ctx.setProp(console, level, fn))
  }
  ctx.setProp(ctx.global, 'console', console)
  console.dispose()
}

function runPrelude(ctx: QuickJSContext, prelude: string | undefined): void {
  if (prelude === undefined) return
  const result = ctx.evalCode(prelude, PRELUDE_FILE_NAME, { type: 'global' })
  if (result.error === undefined) {
    result.value.dispose()
    return
  }
  const thrown = result.error.consume((e) => ctx.dump(e))
  throw new RunAborted(
    { kind: 'config', message: `sandbox prelude failed: ${JSON.stringify(thrown)}` },
    false,
  )
}

function evaluate(
  ctx: QuickJSContext,
  json: JsonBridge,
  request: RunRequest,
  state: { hostCallsAllowed: boolean },
  classify: (thrown: unknown) => RunFailure,
): string | undefined {
  let value: QuickJSHandle
  try {
    const result = ctx.evalCode(request.code, SCRIPT_FILE_NAME, { type: 'global' })
    if (result.error !== undefined) {
      throw new RunAborted(classify(result.error.consume((e) => dumpSafely(ctx, e))), false)
    }
    value = result.value
  } catch (err) {
    throw asAborted(err)
  }
  state.hostCallsAllowed = false
  try {
    if (json.isPromise(value)) {
      throw new RunAborted(
        {
          kind: 'result',
          message:
            'the script ended with a Promise; scripts run synchronously — call host functions directly',
        },
        false,
      )
    }
    return json.toJson(value, request.limits.maxOutputBytes)
  } catch (err) {
    if (err instanceof VmException) throw new RunAborted(classify(err.thrown), false)
    if (err instanceof OversizeJson) throw new RunAborted({ kind: 'output', size: err.size }, false)
    throw asAborted(err)
  } finally {
    value.dispose()
  }
}

/**
 * Host-level failures of the instance: V8 reports a native stack overflow as RangeError when a
 * recursive built-in (JSON.stringify of a deeply nested value) outgrows the worker's stack before
 * QuickJS's own check fires. The instance is then in an unknown state.
 */
function asAborted(err: unknown): RunAborted {
  if (err instanceof RunAborted) return err
  if (err instanceof RangeError && /call stack/i.test(err.message))
    return new RunAborted({ kind: 'stack' }, true)
  return new RunAborted({ kind: 'crash', message: err instanceof Error ? err.message : String(err) }, true)
}

function classifyThrown(thrown: unknown): RunFailure {
  if (thrown === null || typeof thrown !== 'object')
    return { kind: 'uncaught', description: describe(thrown) }
  const { name, message, stack, lineNumber } = thrown as Record<string, unknown>
  if (name === 'InternalError' && message === 'out of memory') return { kind: 'memory' }
  if (message === 'stack overflow') return { kind: 'stack' }
  if (typeof name !== 'string' || typeof message !== 'string') {
    return { kind: 'uncaught', description: describe(thrown) }
  }
  return { kind: 'script', name, message, line: lineOf(stack, lineNumber) }
}

function lineOf(stack: unknown, lineNumber: unknown): number | undefined {
  if (typeof stack === 'string') {
    const match = /job\.js:(\d+)/.exec(stack)
    if (match?.[1] !== undefined) return Number(match[1])
  }
  return typeof lineNumber === 'number' ? lineNumber : undefined
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

function dumpSafely(ctx: QuickJSContext, handle: QuickJSHandle): unknown {
  try {
    return ctx.dump(handle)
  } catch {
    return '[exception could not be read]'
  }
}

/** Frees the run; false when QuickJS found leaked values (the instance is then not reused). */
function dispose(json: JsonBridge, ctx: QuickJSContext, runtime: QuickJSRuntime): boolean {
  try {
    json.dispose()
    ctx.dispose()
    runtime.dispose()
    return true
  } catch {
    return false
  }
}
