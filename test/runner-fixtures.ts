/** Shared fixtures of the runner tests: a local HTTP server and job builders. */

import { readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ExecutableJob } from '../src/roles/runner/execution/index.js'

export interface TestHttpServer {
  url: string
  close(): Promise<void>
}

/** Routes: GET /data (JSON), /json-bom, /json-as-text, /bad-json, GET /text, POST /echo (JSON of what came), GET /fail (500), GET /big (2 MiB). */
export async function startHttpServer(): Promise<TestHttpServer> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      if (req.url === '/data') {
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({ items: [1, 2, 3], source: 'fixture' }))
      } else if (req.url === '/json-bom') {
        res.setHeader('content-type', 'application/json; charset=utf-8')
        res.end(`\ufeff${JSON.stringify({ bom: true })}`)
      } else if (req.url === '/json-as-text') {
        res.setHeader('content-type', 'text/plain; charset=utf-8')
        res.end('{"served": "as text"}')
      } else if (req.url === '/bad-json') {
        res.setHeader('content-type', 'application/json')
        res.end('{"truncated": ')
      } else if (req.url === '/text') {
        res.setHeader('content-type', 'text/plain')
        res.end('plain text')
      } else if (req.url === '/echo' && req.method === 'POST') {
        res.setHeader('content-type', 'application/json')
        res.end(
          JSON.stringify({
            body,
            contentType: req.headers['content-type'],
            auth: req.headers.authorization ?? null,
          }),
        )
      } else if (req.url === '/fail') {
        res.statusCode = 500
        res.end('boom')
      } else if (req.url === '/big') {
        res.end('x'.repeat(2 * 1024 * 1024))
      } else {
        res.statusCode = 404
        res.end('not found')
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

let counter = 0

export function job(runner: string, payload: string, extra: Partial<ExecutableJob> = {}): ExecutableJob {
  return {
    id: `job-${process.pid}-${++counter}`,
    runner,
    payload,
    input: {},
    env: {},
    timeoutMs: 10_000,
    ...extra,
  }
}

/** True while `pid` is a live (non-zombie) process. */
export async function processAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  return !/^State:\s+Z/m.test(status)
}

/** Polls `check` until it is true or the deadline passes. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
