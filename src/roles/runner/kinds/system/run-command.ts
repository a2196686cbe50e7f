/**
 * Runs a shell command as a real child process in its own process group (`detached: true`), so a
 * timeout or cancellation kills the command and everything it started (`process.kill(-pid)`).
 * When the command itself exits, whatever it left running in its group is killed too: no job leaves
 * processes behind.
 */

import { spawn } from 'node:child_process'
import { DEFAULT_COMMAND_TIMEOUT_MS, DEFAULT_MAX_COMMAND_OUTPUT_BYTES, INHERITED_ENV } from './constants.js'
import { CommandSpawnError, CommandTimeoutError } from './errors.js'

export interface CommandOptions {
  cwd: string
  /** Added over the inherited variables (see `INHERITED_ENV`). */
  env?: Record<string, string>
  /** @default 30_000 */
  timeoutMs?: number
  /** @default 1 MiB per stream */
  maxOutputBytes?: number
  signal?: AbortSignal
}

export interface CommandResult {
  /** The exit code, or null when the command was killed by a signal. */
  code: number | null
  signal: string | null
  stdout: string
  stderr: string
  /** True when output beyond the limit was dropped. */
  truncated: boolean
}

/** How long to wait for the pipes to close after the group is killed (an escaped daemon may hold them). */
const PIPE_CLOSE_GRACE_MS = 1_000

export function runCommand(command: string, options: CommandOptions): Promise<CommandResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS
  const maxBytes = options.maxOutputBytes ?? DEFAULT_MAX_COMMAND_OUTPUT_BYTES
  options.signal?.throwIfAborted()
  return new Promise<CommandResult>((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], {
      cwd: options.cwd,
      env: commandEnv(options.env),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const out = new BoundedText(maxBytes)
    const err = new BoundedText(maxBytes)
    child.stdout.on('data', (chunk: Buffer) => out.add(chunk))
    child.stderr.on('data', (chunk: Buffer) => err.add(chunk))
    let stopError: Error | undefined
    let exit: { code: number | null; signal: string | null } | undefined
    const killGroup = (): void => {
      if (child.pid === undefined) return
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {
        // ESRCH: the group is already gone.
      }
    }
    const stop = (error: Error): void => {
      stopError ??= error
      killGroup()
    }
    const timer = setTimeout(() => stop(new CommandTimeoutError(command, timeoutMs)), timeoutMs)
    const onAbort = (): void => stop(asError(options.signal?.reason))
    options.signal?.addEventListener('abort', onAbort, { once: true })
    let closeTimer: ReturnType<typeof setTimeout> | undefined
    const finish = (): void => {
      clearTimeout(timer)
      clearTimeout(closeTimer)
      options.signal?.removeEventListener('abort', onAbort)
      if (stopError !== undefined) {
        reject(stopError)
        return
      }
      resolve({
        code: exit?.code ?? null,
        signal: exit?.signal ?? null,
        stdout: out.text(),
        stderr: err.text(),
        truncated: out.truncated || err.truncated,
      })
    }
    child.once('error', (error) => {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      reject(
        new CommandSpawnError(`cannot run ${JSON.stringify(command)}: ${error.message}`, { cause: error }),
      )
    })
    child.once('exit', (code, signal) => {
      exit = { code, signal }
      killGroup()
      closeTimer = setTimeout(() => {
        child.stdout.destroy()
        child.stderr.destroy()
        finish()
      }, PIPE_CLOSE_GRACE_MS)
    })
    child.once('close', finish)
  })
}

function commandEnv(extra: Record<string, string> | undefined): Record<string, string> {
  const env: Record<string, string> = {}
  for (const key of INHERITED_ENV) {
    const value = process.env[key]
    if (value !== undefined) env[key] = value
  }
  return { ...env, ...extra }
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason ?? 'aborted'))
}

/** Collects a stream as UTF-8 up to a byte limit. */
class BoundedText {
  private readonly chunks: Buffer[] = []
  private size = 0
  truncated = false
  private readonly max: number

  constructor(max: number) {
    this.max = max
  }

  add(chunk: Buffer): void {
    const room = this.max - this.size
    if (room <= 0) {
      this.truncated = true
      return
    }
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk
    if (kept !== chunk) this.truncated = true
    this.chunks.push(kept)
    this.size += kept.length
  }

  text(): string {
    const text = Buffer.concat(this.chunks).toString('utf8')
    return this.truncated ? `${text}\n…[output truncated at ${this.max} bytes]` : text
  }
}
