/**
 * Sandbox worker threads. Each runs one script at a time; idle ones are kept for reuse (a new one
 * costs ~30–50 ms to start). The QuickJS wasm binary is compiled once on the main thread and handed
 * to every worker. A worker whose instance may be damaged, or that does not stop when told, is
 * terminated instead of reused.
 */

import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads'
import { WORKER_HEAP_MB, WORKER_STACK_MB } from './constants.js'
import { SIGNAL_REPLY, SIGNAL_SLOTS, SIGNAL_STOP, type WorkerData, type WorkerMessage } from './protocol.js'
import { sandboxWorkerUrl } from './worker-url.js'

// The project's `lib` has no DOM, so the WebAssembly global is typed here from the namespace Node declares.
const wasm = (
  globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WebAssembly.Module> } }
).WebAssembly

let compiled: Promise<WebAssembly.Module> | undefined

function compiledModule(): Promise<WebAssembly.Module> {
  compiled ??= (async () => {
    // Resolved through quickjs-emscripten so the variant it depends on is found even when not hoisted.
    const require = createRequire(createRequire(import.meta.url).resolve('quickjs-emscripten'))
    return wasm.compile(await readFile(require.resolve('@jitl/quickjs-wasmfile-release-sync/wasm')))
  })()
  return compiled
}

export interface WorkerEvents {
  onMessage(message: WorkerMessage): void
  /** The thread died (crash, out of heap, terminated). */
  onExit(reason: Error): void
}

export class SandboxWorker {
  private readonly worker: Worker
  private readonly replies: MessagePort
  private readonly flags: Int32Array
  private events: WorkerEvents | undefined
  private exited: Error | undefined
  readonly ready: Promise<void>

  constructor(url: URL, wasmModule: WebAssembly.Module, onStderr: (line: string) => void) {
    const { port1, port2 } = new MessageChannel()
    const signals = new SharedArrayBuffer(SIGNAL_SLOTS * Int32Array.BYTES_PER_ELEMENT)
    this.replies = port1
    this.flags = new Int32Array(signals)
    const data: WorkerData = { wasmModule, replyPort: port2, signals }
    this.worker = new Worker(url, {
      workerData: data,
      transferList: [port2],
      resourceLimits: { stackSizeMb: WORKER_STACK_MB, maxOldGenerationSizeMb: WORKER_HEAP_MB },
    })
    this.worker.unref()
    this.ready = new Promise<void>((resolve, reject) => {
      this.worker.on('message', (message: WorkerMessage) => {
        if (message.type === 'ready') resolve()
        else if (message.type === 'stderr') onStderr(message.line)
        else this.events?.onMessage(message)
      })
      const fail = (reason: Error): void => {
        this.exited ??= reason
        reject(reason)
        this.events?.onExit(reason)
      }
      this.worker.on('error', fail)
      this.worker.on('exit', (code) => fail(new Error(`sandbox worker exited with code ${code}`)))
    })
  }

  get alive(): boolean {
    return this.exited === undefined
  }

  /** Starts a run; the worker keeps the process alive until `finish`. */
  begin(request: unknown, events: WorkerEvents): void {
    if (this.exited !== undefined) throw this.exited
    this.events = events
    Atomics.store(this.flags, SIGNAL_STOP, 0)
    this.worker.ref()
    this.worker.postMessage(request)
  }

  reply(message: unknown): void {
    this.replies.postMessage(message)
    Atomics.add(this.flags, SIGNAL_REPLY, 1)
    Atomics.notify(this.flags, SIGNAL_REPLY)
  }

  /** Asks the script to stop at its next interrupt check or host call. */
  stop(): void {
    Atomics.store(this.flags, SIGNAL_STOP, 1)
    Atomics.add(this.flags, SIGNAL_REPLY, 1)
    Atomics.notify(this.flags, SIGNAL_REPLY)
  }

  finish(): void {
    this.events = undefined
    this.worker.unref()
  }

  async terminate(): Promise<void> {
    this.events = undefined
    this.replies.close()
    await this.worker.terminate()
  }
}

export interface WorkerPoolInit {
  maxIdle: number
  onStderr: (line: string) => void
}

export class WorkerPool {
  private readonly idle: SandboxWorker[] = []
  private readonly init: WorkerPoolInit
  /** After `clear`, workers coming back from runs still in flight are terminated, not kept. */
  private closed = false

  constructor(init: WorkerPoolInit) {
    this.init = init
  }

  async warm(): Promise<void> {
    this.closed = false
    if (this.idle.length === 0) this.idle.push(await this.spawn())
  }

  async acquire(): Promise<SandboxWorker> {
    for (let worker = this.idle.pop(); worker !== undefined; worker = this.idle.pop()) {
      if (worker.alive) return worker
    }
    return this.spawn()
  }

  release(worker: SandboxWorker, reusable: boolean): void {
    worker.finish()
    if (reusable && !this.closed && worker.alive && this.idle.length < this.init.maxIdle)
      this.idle.push(worker)
    else void worker.terminate()
  }

  async clear(): Promise<void> {
    this.closed = true
    const workers = this.idle.splice(0)
    await Promise.all(workers.map((worker) => worker.terminate()))
  }

  private async spawn(): Promise<SandboxWorker> {
    const [url, wasmModule] = await Promise.all([sandboxWorkerUrl(), compiledModule()])
    const worker = new SandboxWorker(url, wasmModule, this.init.onStderr)
    await worker.ready
    return worker
  }
}
