import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

/** The built CLI (`npm test` builds first). */
export const CLI = join(import.meta.dirname, '../../dist/src/cli/bin.js')

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a command to completion (with a deadline, then SIGKILL) and captures its output. */
export async function runProcess(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {},
): Promise<CliResult> {
  const child = spawn(command, args, {
    env: { ...process.env, ...options.env },
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: options.timeoutMs ?? 30_000,
    killSignal: 'SIGKILL',
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const [code] = (await once(child, 'close')) as [number | null]
  return { code, stdout, stderr }
}

/** Runs `horus ...args` to completion (with a deadline) and captures its output. */
export function runCli(
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {},
): Promise<CliResult> {
  return runProcess(process.execPath, [CLI, ...args], options)
}

export interface CliNode {
  child: ChildProcess
  peerId: string
  multiaddrs: string[]
  stderr: () => string
}

/**
 * Starts `horus node start ...args` as its own OS process and resolves once it has printed its
 * peer ID and addresses (the first line is the peer ID, then one multiaddr per line).
 */
export async function startCliNode(
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CliNode> {
  const child = spawn(process.execPath, [CLI, 'node', 'start', '--json', ...args], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const lines = createInterface({ input: child.stdout as NonNullable<typeof child.stdout> })
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 20_000)
  try {
    const exited = once(child, 'exit', { signal: timeout }).then(([code]) => {
      throw new Error(`horus node exited with ${String(code)} before starting:\n${stderr}`)
    })
    const started = once(lines, 'line', { signal: timeout }).then(([line]) => JSON.parse(line as string))
    const info = (await Promise.race([started, exited])) as { peerId: string; multiaddrs: string[] }
    return { child, peerId: info.peerId, multiaddrs: info.multiaddrs, stderr: () => stderr }
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
}

/** Stops a CLI node with SIGTERM (graceful) and waits for it to exit; returns its exit code. */
export async function stopCliNode(node: CliNode, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return node.child.exitCode
  const exited = once(node.child, 'exit')
  node.child.kill(signal)
  const timer = setTimeout(() => node.child.kill('SIGKILL'), 10_000)
  const [code] = (await exited) as [number | null]
  clearTimeout(timer)
  return code
}
