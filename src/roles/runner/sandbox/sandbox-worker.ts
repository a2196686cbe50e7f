/**
 * Entry point of a sandbox worker thread. It owns one QuickJS (sync build) instance whose
 * WebAssembly memory is capped at the run's memory limit, and runs one script at a time.
 * Running scripts off the main thread keeps a busy or hostile script from stalling the node's
 * event loop (libp2p streams, heartbeats), and lets the main thread terminate a stuck worker.
 */

import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads'
import {
  newQuickJSWASMModuleFromVariant,
  newVariant,
  type QuickJSWASMModule,
  RELEASE_SYNC,
} from 'quickjs-emscripten'
import { WASM_BASE_MEMORY_BYTES } from './constants.js'
import {
  type HostReply,
  type RunRequest,
  SIGNAL_REPLY,
  SIGNAL_STOP,
  type WorkerData,
  type WorkerMessage,
} from './protocol.js'
import { runInWorker, type WorkerRunIo } from './worker-run.js'

const WASM_PAGE_BYTES = 64 * 1024
/** How often a worker blocked on a host call re-checks the stop flag. */
const HOST_WAIT_SLICE_MS = 500

// The project's `lib` has no DOM, so the WebAssembly global is typed here from the namespace Node declares.
const wasm = (
  globalThis as unknown as {
    WebAssembly: { Memory: new (descriptor: { initial: number; maximum: number }) => WasmMemory }
  }
).WebAssembly

type WasmMemory = NonNullable<Parameters<typeof newVariant>[1]['wasmMemory']>

const port = parentPort
if (port === null) throw new Error('sandbox-worker must run in a worker thread')
const { wasmModule, replyPort, signals } = workerData as WorkerData
const flags = new Int32Array(signals)
const post = (message: WorkerMessage): void => port.postMessage(message)

let instance: { memoryBytes: number; module: QuickJSWASMModule } | undefined

async function instanceFor(memoryBytes: number): Promise<QuickJSWASMModule> {
  if (instance?.memoryBytes === memoryBytes) return instance.module
  const initial = WASM_BASE_MEMORY_BYTES / WASM_PAGE_BYTES
  const maximum = Math.ceil((WASM_BASE_MEMORY_BYTES + memoryBytes) / WASM_PAGE_BYTES)
  // printErr is an emscripten module option the typed loader options do not list.
  const emscriptenModule = { printErr: (line: string) => post({ type: 'stderr', line }) }
  const variant = newVariant(RELEASE_SYNC, {
    wasmModule,
    wasmMemory: new wasm.Memory({ initial, maximum }),
    emscriptenModule: emscriptenModule as NonNullable<Parameters<typeof newVariant>[1]['emscriptenModule']>,
  })
  const module = await newQuickJSWASMModuleFromVariant(variant)
  instance = { memoryBytes, module }
  return module
}

// Numbered across runs, so a late reply to a call of an earlier, stopped run is never mistaken for one of this run.
let nextCallId = 0

function ioFor(runId: number): WorkerRunIo {
  return {
    callHost(path, args): HostReply {
      const callId = ++nextCallId
      let seen = Atomics.load(flags, SIGNAL_REPLY)
      post(
        typeof args === 'string'
          ? { type: 'call', runId, callId, path, args }
          : { type: 'call', runId, callId, path, args: '', argsBytes: args.oversizeBytes },
      )
      for (;;) {
        Atomics.wait(flags, SIGNAL_REPLY, seen, HOST_WAIT_SLICE_MS)
        seen = Atomics.load(flags, SIGNAL_REPLY)
        for (let m = receiveMessageOnPort(replyPort); m !== undefined; m = receiveMessageOnPort(replyPort)) {
          const reply = m.message as HostReply
          if (reply.callId === callId) return reply
        }
        if (Atomics.load(flags, SIGNAL_STOP) === 1) {
          return {
            callId,
            ok: false,
            error: { name: 'ScriptCancelledError', message: 'script was stopped', code: undefined },
          }
        }
      }
    },
    log: (line) => post({ type: 'log', runId, line }),
    stopRequested: () => Atomics.load(flags, SIGNAL_STOP) === 1,
  }
}

port.on('message', (request: RunRequest) => {
  void instanceFor(request.limits.memoryBytes).then(
    (module) => post(runInWorker(module, request, ioFor(request.runId))),
    (err: unknown) =>
      post({
        type: 'failed',
        runId: request.runId,
        failure: { kind: 'crash', message: `cannot instantiate QuickJS: ${String(err)}` },
        cpuMs: 0,
        recycle: true,
      }),
  )
})

post({ type: 'ready' })
