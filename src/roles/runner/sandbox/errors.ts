import { HorusError } from '../../../core/errors.js'

/** The script threw (or failed to parse); `line` is its 1-based line when QuickJS reported one. */
export class ScriptError extends HorusError {
  static override readonly code = 'SCRIPT_ERROR'
  /** The script-side error name, e.g. `ReferenceError`. */
  readonly scriptName: string
  readonly scriptMessage: string
  readonly line: number | undefined

  constructor(scriptName: string, scriptMessage: string, line?: number) {
    super(`${scriptName}: ${scriptMessage}${line === undefined ? '' : ` (line ${line})`}`)
    this.scriptName = scriptName
    this.scriptMessage = scriptMessage
    this.line = line
  }
}

/** The script used up its CPU-time or wall-clock budget. */
export class ScriptTimeoutError extends HorusError {
  static override readonly code = 'SCRIPT_TIMEOUT'
  readonly limitMs: number

  constructor(kind: 'CPU time' | 'wall-clock time', limitMs: number) {
    super(`script exceeded its ${kind} limit of ${limitMs} ms`)
    this.limitMs = limitMs
  }
}

/** The script allocated more than its memory limit. */
export class ScriptMemoryError extends HorusError {
  static override readonly code = 'SCRIPT_MEMORY_LIMIT'

  constructor(limitBytes: number) {
    super(`script exceeded its memory limit of ${limitBytes} bytes`)
  }
}

/** The script recursed deeper than its stack allows. */
export class ScriptStackOverflowError extends HorusError {
  static override readonly code = 'SCRIPT_STACK_OVERFLOW'

  constructor(limitBytes: number) {
    super(`script exceeded its stack limit of ${limitBytes} bytes (recursion too deep)`)
  }
}

/** The script's result does not fit the output limit (or is not JSON-serialisable). */
export class OutputTooLargeError extends HorusError {
  static override readonly code = 'OUTPUT_TOO_LARGE'

  constructor(sizeBytes: number, limitBytes: number) {
    super(`script output is ${sizeBytes} bytes, more than the limit of ${limitBytes} bytes`)
  }
}

/** A host call's arguments or reply are larger than `maxHostCallBytes`; the call did not happen or its reply was dropped. */
export class HostCallTooLargeError extends HorusError {
  static override readonly code = 'HOST_CALL_TOO_LARGE'
  readonly sizeBytes: number
  readonly limitBytes: number

  constructor(path: string, part: 'arguments' | 'reply', sizeBytes: number, limitBytes: number) {
    super(
      `${path}: the ${part} of the host call ${part === 'reply' ? 'is' : 'are'} ${sizeBytes} bytes of JSON, more than the limit of ${limitBytes} bytes (sandbox limit maxHostCallBytes)`,
    )
    this.sizeBytes = sizeBytes
    this.limitBytes = limitBytes
  }
}

/** The run was stopped from outside (job cancelled or timed out by its executor). */
export class ScriptCancelledError extends HorusError {
  static override readonly code = 'SCRIPT_CANCELLED'

  constructor(cause?: unknown) {
    super('script was cancelled', { cause })
  }
}

/** The result cannot cross the JSON boundary (a Promise, a function, a cycle…). */
export class ScriptResultError extends HorusError {
  static override readonly code = 'SCRIPT_RESULT_INVALID'
}

/** The sandbox itself failed (never a script's fault); the WebAssembly instance was discarded. */
export class SandboxCrashError extends HorusError {
  static override readonly code = 'SANDBOX_CRASHED'

  constructor(cause: unknown) {
    super(`sandbox crashed: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
      retryable: true,
    })
  }
}

/** A host function name or global given to the sandbox is unusable. */
export class SandboxConfigError extends HorusError {
  static override readonly code = 'SANDBOX_CONFIG_INVALID'
}
