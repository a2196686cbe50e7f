/**
 * A throwaway `redis-server` for the BullMQ comparison: Debian's package, started on a free
 * loopback port with its data in a temp dir, stopped (and the dir removed) by `stop()`.
 *
 * Persistence is set to what BullMQ's docs recommend for queues — the append-only file with
 * `appendfsync everysec`, no RDB snapshots — so an acknowledged job survives a kill -9 of the
 * server, the same promise Horus's supervisor makes (LevelDB write before the acknowledgement).
 * Neither side fsyncs every job; both can lose the last second on power loss.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const REDIS_PERSISTENCE = 'appendonly yes, appendfsync everysec, no RDB snapshots'

const CANDIDATES = ['/usr/bin/redis-server', '/usr/local/bin/redis-server']
const INSTALL_HINT = 'install it with `apt-get install -y redis-server` (Debian) and run the bench again'

export interface RedisServer {
  port: number
  version: string
  pid: number | undefined
  stop(): Promise<void>
}

/** The redis-server binary; installs Debian's package when missing and running as root. */
function locateRedis(): string {
  const found = CANDIDATES.find((path) => existsSync(path))
  if (found !== undefined) return found
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    throw new Error(`redis-server not found (looked in ${CANDIDATES.join(', ')}): ${INSTALL_HINT}`)
  }
  process.stderr.write('redis-server not found: installing Debian package redis-server…\n')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  try {
    execFileSync('apt-get', ['install', '-y', '-qq', 'redis-server'], { env, stdio: 'ignore' })
  } catch {
    execFileSync('apt-get', ['update', '-qq'], { env, stdio: 'ignore' })
    execFileSync('apt-get', ['install', '-y', '-qq', 'redis-server'], { env, stdio: 'ignore' })
  }
  const installed = CANDIDATES.find((path) => existsSync(path))
  if (installed === undefined) throw new Error(`installing redis-server failed: ${INSTALL_HINT}`)
  return installed
}

async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  server.close()
  if (address === null || typeof address === 'string') throw new Error('no free port')
  return address.port
}

/** Resolves once the server answers PING (bounded: 50 tries, 100 ms apart). */
async function waitForPing(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`)
    const ok = await new Promise<boolean>((resolve) => {
      const socket = new Socket()
      socket.setTimeout(500)
      socket.once('data', (data) => {
        socket.destroy()
        resolve(data.toString().startsWith('+PONG'))
      })
      socket.once('error', () => resolve(false))
      socket.once('timeout', () => {
        socket.destroy()
        resolve(false)
      })
      socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'))
    })
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`redis-server on port ${port} did not answer PING within 5 s`)
}

export async function startRedis(): Promise<RedisServer> {
  const bin = locateRedis()
  const version =
    execFileSync(bin, ['--version'])
      .toString()
      .match(/v=(\S+)/)?.[1] ?? 'unknown'
  const dir = await mkdtemp(join(tmpdir(), 'horus-bench-redis-'))
  const port = await freePort()
  const child = spawn(
    bin,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      // BullMQ requires keys never to be evicted.
      '--maxmemory-policy',
      'noeviction',
    ],
    { stdio: 'ignore' },
  )
  try {
    await waitForPing(port, child)
  } catch (err) {
    child.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
    throw err
  }
  return {
    port,
    version,
    pid: child.pid,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit')
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
        await exited
        clearTimeout(timer)
      }
      await rm(dir, { recursive: true, force: true })
    },
  }
}
