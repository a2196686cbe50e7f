/**
 * Messages between the main thread and a sandbox worker. Scripts run in the worker; host functions
 * run on the main thread. A host call blocks only the worker: it posts `call`, then sleeps on
 * `Atomics.wait` until the main thread has posted the reply on the reply port and bumped
 * `SIGNAL_REPLY`; the reply is then read synchronously with `receiveMessageOnPort`.
 */

import type { MessagePort } from 'node:worker_threads'
import type { SandboxLimits } from './index.js'

/** Int32 slots of the run's SharedArrayBuffer. */
export const SIGNAL_REPLY = 0
/** Set to 1 by the main thread to stop the run (cancelled or out of wall-clock time). */
export const SIGNAL_STOP = 1
export const SIGNAL_SLOTS = 2

export interface WorkerData {
  wasmModule: WebAssembly.Module
  replyPort: MessagePort
  signals: SharedArrayBuffer
}

export interface RunRequest {
  type: 'run'
  runId: number
  code: string
  prelude: string | undefined
  /** JSON object of globals. */
  globals: string
  hostFunctions: string[]
  limits: Required<SandboxLimits>
}

export type HostReply =
  | { callId: number; ok: true; value: string | undefined }
  | { callId: number; ok: false; error: { name: string; message: string; code: string | undefined } }

/** Why a run ended without a value, as seen inside the worker. */
export type RunFailure =
  | { kind: 'script'; name: string; message: string; line: number | undefined }
  | { kind: 'uncaught'; description: string }
  | { kind: 'cpu' }
  | { kind: 'stopped' }
  | { kind: 'memory' }
  | { kind: 'stack' }
  | { kind: 'output'; size: number }
  | { kind: 'result'; message: string }
  | { kind: 'config'; message: string }
  | { kind: 'crash'; message: string }

export type WorkerMessage =
  | { type: 'ready' }
  /** A line emscripten printed (it reports aborts this way). */
  | { type: 'stderr'; line: string }
  | { type: 'log'; runId: number; line: string }
  /** `argsBytes`: the arguments were over `maxHostCallBytes` and not sent (`args` is empty). */
  | { type: 'call'; runId: number; callId: number; path: string; args: string; argsBytes?: number }
  | { type: 'done'; runId: number; value: string | undefined; setupMs: number; cpuMs: number }
  /** `recycle`: the worker's QuickJS instance is in an unknown state and the worker must not be reused. */
  | { type: 'failed'; runId: number; failure: RunFailure; cpuMs: number; recycle: boolean }
