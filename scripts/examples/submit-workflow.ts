/**
 * SDK example: join a Horus mesh with this program's own peer ID, submit a data-pipeline workflow
 * (fetch → two parallel steps → store, like the coordinator seed's), print its progress and result.
 *
 *   node dist/scripts/examples/submit-workflow.js --bootstrap /ip4/127.0.0.1/tcp/4001/p2p/12D3Koo… \
 *     [--identity ~/.horus] [--fetch-url http://…]
 *   node dist/scripts/examples/submit-workflow.js --gateway http://127.0.0.1:8080
 *
 * Environment instead of flags: HORUS_BOOTSTRAP (comma-separated), HORUS_GATEWAY_URL,
 * HORUS_GATEWAY_TOKEN, HORUS_DATA_DIR. Without --fetch-url the program serves the data itself on
 * 127.0.0.1 (the runners must be on this machine to reach it). The mesh must trust this program's
 * key as a client (run with --identity of a trusted key). Exits 0 when the run completes.
 */
import '../../src/node/polyfills.js'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import {
  HorusClient,
  type HorusClientOptions,
  type RunView,
  type WorkflowDefinition,
} from '../../src/index.js'

const DATA = { items: [3, 1, 4, 1, 5, 9, 2, 6] }

function pipeline(fetchUrl: string): WorkflowDefinition {
  return {
    workflow: {
      name: 'example-data-pipeline',
      steps: [
        { id: 'fetch', runner: 'hero', payload: `!!http.get url:'${fetchUrl}'` },
        {
          id: 'count',
          runner: 'sal',
          depends_on: ['fetch'],
          payload: 'let items = input.fetch.items;\n({ count: items.length })',
        },
        {
          id: 'total',
          runner: 'sal',
          depends_on: ['fetch'],
          payload: 'let items = input.fetch.items;\n({ sum: items.reduce((a, b) => a + b, 0) })',
        },
        {
          id: 'store',
          runner: 'osiris',
          depends_on: ['count', 'total'],
          payload:
            'let model = osiris.model("example_results");\n' +
            'model.create({ count: input.count.count, sum: input.total.sum });',
        },
      ],
    },
  }
}

async function serveData(): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify(DATA))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/data`, server }
}

function connectOptions(values: Record<string, string | string[] | undefined>): HorusClientOptions {
  const identity = (values.identity as string | undefined) ?? process.env.HORUS_DATA_DIR
  const gateway = (values.gateway as string | undefined) ?? process.env.HORUS_GATEWAY_URL
  const common = identity === undefined ? {} : { identity }
  if (gateway !== undefined) {
    const token = process.env.HORUS_GATEWAY_TOKEN
    return { gateway, ...common, ...(token === undefined ? {} : { token }) }
  }
  const bootstrap =
    (values.bootstrap as string[] | undefined) ?? process.env.HORUS_BOOTSTRAP?.split(',') ?? []
  if (bootstrap.length === 0)
    throw new Error('give --bootstrap MULTIADDR or --gateway URL (or HORUS_BOOTSTRAP)')
  return { bootstrap, ...common }
}

function printProgress(): (run: RunView) => void {
  const seen = new Map<string, string>()
  return (run) => {
    for (const step of run.steps) {
      if (seen.get(step.id) === step.state) continue
      seen.set(step.id, step.state)
      const took = step.durationMs === undefined ? '' : ` (${step.durationMs} ms)`
      console.log(`  ${step.id.padEnd(6)} ${step.state}${took}`)
    }
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      bootstrap: { type: 'string', multiple: true },
      gateway: { type: 'string' },
      identity: { type: 'string' },
      'fetch-url': { type: 'string' },
      'timeout-ms': { type: 'string' },
    },
  })
  const fixture = values['fetch-url'] === undefined ? await serveData() : undefined
  const client = await HorusClient.connect(connectOptions(values))
  try {
    console.log(`connected as ${client.peerId} (${client.description})`)
    const runId = await client.submitWorkflow(pipeline(values['fetch-url'] ?? (fixture?.url as string)))
    console.log(`submitted run ${runId}`)
    const timeoutMs = Number(values['timeout-ms'] ?? 60_000)
    const run = await client.waitForCompletion(runId, {
      signal: AbortSignal.timeout(timeoutMs),
      onProgress: printProgress(),
    })
    const store = run.steps.find((s) => s.id === 'store')
    console.log(`run ${run.status}; stored record: ${JSON.stringify(store?.output)}`)
    return run.status === 'completed' ? 0 : 1
  } finally {
    await client.close()
    fixture?.server.close()
  }
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    console.error(`example failed: ${(err as Error).stack ?? String(err)}`)
    process.exitCode = 1
  },
)
