/**
 * The external side effect of the nemesis workload: an HTTP service that records every execution
 * a step's `effect` (effect-plugin.ts) reports, so a test can count how often each step's effect
 * really ran, whatever the mesh says. `POST /executions {jobId, node}` records one;
 * `GET /executions` lists them all in arrival order. It runs as its own process in its own
 * network namespace (counter-main.ts), so faults of the mesh never touch it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'

export interface Execution {
  jobId: string
  /** The runner node's name (HORUS_NEMESIS_NODE), or its pid. */
  node: string
  /** Wall ms the counter received it. */
  at: number
}

/** Requests larger than this are refused (a job id and a node name are small). */
const MAX_BODY_BYTES = 16 * 1024

export class CounterService {
  readonly executions: Execution[] = []
  private server: Server | undefined

  /** Listens on `host:port`; resolves with the base URL. */
  async listen(host: string, port: number): Promise<string> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => reply(res, 500, { error: err.message }))
    })
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, resolve)
    })
    const address = server.address()
    const bound = typeof address === 'object' && address !== null ? address.port : port
    return `http://${host}:${bound}`
  }

  async close(): Promise<void> {
    const server = this.server
    if (server === undefined) return
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.url === '/executions' && req.method === 'GET') return reply(res, 200, this.executions)
    if (req.url !== '/executions' || req.method !== 'POST') return reply(res, 404, { error: 'not found' })
    let body = ''
    for await (const chunk of req) {
      body += String(chunk)
      if (body.length > MAX_BODY_BYTES) return reply(res, 413, { error: 'too large' })
    }
    const parsed = JSON.parse(body) as { jobId?: unknown; node?: unknown }
    if (typeof parsed.jobId !== 'string' || typeof parsed.node !== 'string')
      return reply(res, 400, { error: 'expected {"jobId": string, "node": string}' })
    this.executions.push({ jobId: parsed.jobId, node: parsed.node, at: Date.now() })
    reply(res, 200, { recorded: this.executions.length })
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}
