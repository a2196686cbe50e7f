/**
 * What tracing costs: the same burst of no-op jobs through one supervisor and one runner (real
 * nodes in this process, loopback TCP), with tracing off — the default — and on. "On" exports
 * every span as it ends (SimpleSpanProcessor) into an exporter that only counts them: the SDK's
 * cost without a collector's. The baseline is the "off" row of the same run.
 */
import '../../src/node/polyfills.js'
import { type ExportResult, ExportResultCode } from '@opentelemetry/core'
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace'
import { createJob } from '../../src/protocols/jobs/index.js'
import { Libp2pRpcClient } from '../../src/protocols/rpc/index.js'
import type { JobEvent } from '../../src/roles/supervisor/index.js'
import { TestMesh, waitFor } from '../../src/testing/index.js'
import { type BenchTable, elapsedMs } from './table.js'

const JOBS = 2_000
const WARM = 200

/** Counts spans and drops them. */
class CountingExporter implements SpanExporter {
  spans = 0
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.spans += spans.length
    done({ code: ExportResultCode.SUCCESS })
  }
  async shutdown(): Promise<void> {}
}

async function burst(traced: boolean): Promise<(string | number)[]> {
  const mesh = new TestMesh()
  const exporter = new CountingExporter()
  const tracing = traced ? { spanExporter: exporter } : {}
  const signal = new AbortController()
  try {
    const sup = await mesh.start({ roles: ['supervisor'], name: 'bench-sup', ...tracing })
    const boot = [sup.addr]
    await mesh.start({
      roles: ['runner'],
      bootstrap: boot,
      name: 'bench-run',
      ...tracing,
      attach: { runner: { concurrency: 4, kinds: { noop: async () => null } } },
    })
    const cli = await mesh.start({ roles: [], bootstrap: boot, name: 'bench-cli' })
    await waitFor(() => sup.roles.supervisor?.runners().some((r) => r.capabilities.includes('noop')), {
      timeoutMs: 30_000,
      what: 'the runner to be visible',
    })
    const client = new Libp2pRpcClient({ libp2p: cli.node.libp2p, target: sup.addr })
    const done = new Set<string>()
    let wake: () => void = () => {}
    const events = client.subscribe<JobEvent>('supervisor.job_events', {}, { signal: signal.signal })
    await events.id
    void (async () => {
      try {
        for await (const event of events) {
          if (event.status === 'succeeded' || event.status === 'failed') done.add(event.jobId)
          wake()
        }
      } catch {
        // ends with the bench
      }
    })()
    const run = async (count: number): Promise<number> => {
      const jobs = Array.from({ length: count }, () => createJob({ runner: 'noop' }, cli.node.trust.signer))
      const t0 = process.hrtime.bigint()
      await Promise.all(jobs.map((job) => client.call('supervisor.create_job', { job })))
      const deadline = Date.now() + 120_000
      while (!jobs.every((job) => done.has(job.id))) {
        if (Date.now() > deadline) throw new Error('jobs did not finish within 120 s')
        await new Promise<void>((resolve) => {
          wake = resolve
          setTimeout(resolve, 200)
        })
      }
      return elapsedMs(t0)
    }
    await run(WARM)
    const ms = await run(JOBS)
    await client.close()
    return [
      traced ? 'on (every span exported)' : 'off (default)',
      JOBS,
      ms,
      (JOBS / ms) * 1000,
      exporter.spans,
    ]
  } finally {
    signal.abort()
    await mesh.cleanup()
  }
}

export async function runTracingBench(): Promise<BenchTable> {
  const rows = [await burst(false), await burst(true), await burst(false), await burst(true)]
  return {
    title: 'Tracing: no-op jobs through 1 supervisor and 1 runner (4 slots), pipelined',
    columns: ['tracing', 'jobs', 'ms', 'jobs/s', 'spans exported'],
    rows,
    note: 'Baseline: the "off" rows (tracing not configured: no tracer, no spans), measured in the same run, alternating.',
  }
}
