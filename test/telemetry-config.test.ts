import { SpanKind } from '@opentelemetry/api'
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace'
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../src/core/errors.js'
import { resolveConfig } from '../src/node/config/load.js'
import { jobTraceId, NodeTracing, remoteParent, runSpanId, runTraceId } from '../src/node/telemetry/index.js'

function issuesOf(raw: Record<string, unknown>): string[] {
  try {
    resolveConfig(raw)
  } catch (err) {
    if (err instanceof ConfigError) return [...err.issues]
    throw err
  }
  return []
}

describe('telemetry config', () => {
  it('is off by default, on with true or a mapping, and reports every problem at once', () => {
    expect(resolveConfig({}).telemetry).toBeUndefined()
    expect(resolveConfig({ telemetry: { tracing: false } }).telemetry).toBeUndefined()
    expect(resolveConfig({ telemetry: { tracing: true } }).telemetry).toEqual({
      tracing: { exporter: 'otlp' },
    })
    expect(
      resolveConfig({
        telemetry: { tracing: { endpoint: 'http://127.0.0.1:4318/v1/traces', headers: { a: 'b' } } },
      }).telemetry,
    ).toEqual({
      tracing: { exporter: 'otlp', endpoint: 'http://127.0.0.1:4318/v1/traces', headers: { a: 'b' } },
    })
    expect(
      issuesOf({
        telemetry: {
          tracing: { exporter: 'jaeger', endpoint: 'ftp://x', headers: { a: 1 }, sample: 1 },
          metrics: true,
        },
      }),
    ).toEqual([
      'telemetry.metrics: unknown setting (known: tracing)',
      'telemetry.tracing.sample: unknown setting (known: exporter, endpoint, headers, serviceName)',
      'telemetry.tracing.exporter: expected one of otlp, console, got "jaeger"',
      'telemetry.tracing.endpoint: expected an http(s) URL, got "ftp://x"',
      'telemetry.tracing.headers.a: expected a string, got 1',
    ])
    expect(issuesOf({ telemetry: { tracing: { exporter: 'console', endpoint: 'http://x:1' } } })).toEqual([
      'telemetry.tracing: endpoint and headers apply to the otlp exporter, not console',
    ])
  })
})

describe('trace ids', () => {
  it('derives a run trace from the run id alone, and takes only a parent of that trace from a peer', () => {
    expect(runTraceId('r1')).toMatch(/^[0-9a-f]{32}$/)
    expect(runTraceId('r1')).toBe(runTraceId('r1'))
    expect(runTraceId('r1')).not.toBe(runTraceId('r2'))
    expect(runTraceId('x')).not.toBe(jobTraceId('x'))
    expect(runSpanId('r1')).toMatch(/^[0-9a-f]{16}$/)
    const trace = runTraceId('r1')
    expect(remoteParent(`00-${trace}-${'cd'.repeat(8)}-00`, trace)).toMatchObject({
      traceId: trace,
      spanId: 'cd'.repeat(8),
      traceFlags: 1, // sampled: the peer's flags are not taken
    })
    for (const bad of [
      undefined,
      `00-${runTraceId('r2')}-${'cd'.repeat(8)}-01`,
      `00-${trace}-${'0'.repeat(16)}-01`,
      `ff-${trace}-${'cd'.repeat(8)}-01`,
      'garbage',
    ])
      expect(remoteParent(bad, trace)).toBeUndefined()
  })

  it('starts the run span and an ad-hoc job root with their derived ids, and nothing else takes them', async () => {
    const exporter = new InMemorySpanExporter()
    const tracing = new NodeTracing({ peerId: 'p', version: '0', exporter })
    tracing.emitRunSpan('r1', 'RUN w', { startMs: 1_000, endMs: 2_000 }, {})
    const adHoc = tracing.startJobSpan('accept', SpanKind.SERVER, { id: 'j1' }, {}, {})
    const child = tracing.startJobSpan(
      'dispatch',
      SpanKind.CLIENT,
      { id: 'j1' },
      { local: adHoc.spanContext() },
      {},
    )
    const next = tracing.startJobSpan('accept', SpanKind.SERVER, { id: 'j2' }, {}, {})
    for (const span of [child, adHoc, next]) span.end()
    await tracing.forceFlush() // (shutdown would empty the in-memory exporter)
    const [run, ...rest] = exporter.getFinishedSpans()
    expect(run?.spanContext()).toMatchObject({ traceId: runTraceId('r1'), spanId: runSpanId('r1') })
    expect(rest.map((span) => span.spanContext().traceId)).toEqual([
      jobTraceId('j1'),
      jobTraceId('j1'),
      jobTraceId('j2'),
    ])
    expect(new Set(rest.map((span) => span.spanContext().spanId)).has(runSpanId('r1'))).toBe(false)
  })
})
