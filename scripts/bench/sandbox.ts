/**
 * QuickJS sandbox costs: worker start, per-job set-up (fresh runtime + context, globals, host
 * functions — measured inside the worker), a trivial script end to end from the main thread, and a
 * host-call round trip (worker → main thread → worker). Runs in a few seconds.
 */

import { createSandbox } from '../../src/roles/runner/sandbox/index.js'

export interface BenchTable {
  title: string
  columns: string[]
  rows: (string | number)[][]
}

const TRIVIAL_RUNS = 300
const HOST_CALLS = 2_000

export async function runSandboxBench(): Promise<BenchTable> {
  const rows: (string | number)[][] = []
  const cold = createSandbox()
  let started = performance.now()
  await cold.start()
  const workerStart = performance.now() - started
  started = performance.now()
  const first = await cold.runScript({ code: '1 + 1' })
  rows.push(row('worker start (compile wasm once, spawn thread, instantiate QuickJS)', [workerStart]))
  rows.push(row('first run on a fresh worker, end to end', [performance.now() - started]))
  rows.push(row('  of which runtime + context set-up (first)', [first.timings.setupMs]))
  await cold.stop()

  const sandbox = createSandbox()
  await sandbox.start()
  try {
    for (let i = 0; i < 20; i++) await sandbox.runScript({ code: '1 + 1' }) // warm-up
    const setup: number[] = []
    const endToEnd: number[] = []
    const options = {
      code: 'let data = input.fetch; ({ n: data.items.length })',
      globals: { input: { fetch: { items: [1, 2, 3] } }, env: { A: 'b' } },
      hostFunctions: { process_data: () => null, 'os.exec': () => null, 'fs.read': () => null },
    }
    for (let i = 0; i < TRIVIAL_RUNS; i++) {
      const t = performance.now()
      const run = await sandbox.runScript(options)
      endToEnd.push(performance.now() - t)
      setup.push(run.timings.setupMs)
    }
    rows.push(row('per-job set-up: fresh runtime + context + globals + 3 host fns (in worker)', setup))
    rows.push(row('trivial script end to end (main thread → worker → result)', endToEnd))

    const t = performance.now()
    const run = await sandbox.runScript({
      code: `let s = 0; for (let i = 0; i < ${HOST_CALLS}; i++) s += ping(i); s`,
      hostFunctions: { ping: async ([n]) => Number(n) },
    })
    const total = performance.now() - t - run.timings.setupMs
    rows.push([
      'host-call round trip (async host fn, worker blocks on Atomics.wait)',
      HOST_CALLS,
      fmt(total / HOST_CALLS),
      '',
      '',
    ])
  } finally {
    await sandbox.stop()
  }
  return {
    title: 'QuickJS sandbox (quickjs-emscripten sync build in worker threads)',
    columns: ['measure', 'n', 'mean ms', 'p50 ms', 'p99 ms'],
    rows,
  }
}

function row(label: string, samples: number[]): (string | number)[] {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number): number =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length
  return samples.length === 1
    ? [label, 1, fmt(mean), '', '']
    : [label, samples.length, fmt(mean), fmt(at(0.5)), fmt(at(0.99))]
}

function fmt(ms: number): string {
  return ms.toFixed(3)
}
