/**
 * OpenTelemetry tracing across real nodes (issue 14): a coordinator, a supervisor and a runner,
 * each its own libp2p node in this process, export into one in-memory exporter. A run is one trace
 * whose id each node derives from the run id; the spans link across the RPC hops through the
 * `traceparent` request member, and nothing a peer puts there can move a span to another trace or
 * stop a job.
 */
import { SpanKind } from '@opentelemetry/api'
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace'
import { afterEach, describe, expect, it } from 'vitest'
import { jobTraceId, runSpanId, runTraceId } from '../src/node/telemetry/index.js'
import type { JobEnvelope } from '../src/protocols/jobs/index.js'
import { waitFor } from '../src/testing/index.js'
import {
  coordinatorOf,
  Executions,
  Gates,
  JobMesh,
  runnerVisible,
  testKinds,
  waitForStatus,
} from './coordinator-fixtures.js'
import { job, result, startRogueMesh, submit } from './jobs-flow-fixtures.js'

const mesh = new JobMesh()
afterEach(() => mesh.cleanup())

const WORKFLOW = `
workflow:
  name: "traced"
  steps:
    - id: "a"
      runner: "echo"
      payload: "hello"
    - id: "b"
      runner: "echo"
      depends_on: ["a"]
      payload: { x: 1 }
`

function instance(span: ReadableSpan): unknown {
  return span.resource.attributes['service.instance.id']
}

function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId
}

/** The one span of `spans` matching, failing with what there was. */
function only(spans: ReadableSpan[], what: string, match: (span: ReadableSpan) => boolean): ReadableSpan {
  const found = spans.filter(match)
  if (found.length !== 1)
    throw new Error(`${found.length} spans for ${what}; spans: ${spans.map((s) => s.name).join(', ')}`)
  return found[0] as ReadableSpan
}

describe('tracing across coordinator, supervisor and runner', () => {
  it('puts a 2-step run into one trace, each step attempt parenting its accept, dispatch and execute spans', async () => {
    const exporter = new InMemorySpanExporter()
    const kinds = testKinds(new Gates(), new Executions())
    const [s, r, c] = [await mesh.member('sup'), await mesh.member('run'), await mesh.member('coord')]
    const sup = await mesh.start(s, { roles: ['supervisor'], spanExporter: exporter })
    const run = await mesh.start(r, {
      roles: ['runner'],
      bootstrap: sup,
      spanExporter: exporter,
      options: { runner: { builtins: false, kinds } },
    })
    const coord = await mesh.start(c, { roles: ['coordinator'], bootstrap: sup, spanExporter: exporter })
    await runnerVisible(sup, 'echo', run)
    // The coordinator must hear the supervisor (to send steps) and the runner (to know kind "echo").
    await waitFor(
      () => {
        const alive = coord.node.liveness.alive()
        return (
          alive.some((p) => p.peerId === sup.peerId && p.roles.includes('supervisor')) &&
          alive.some((p) => p.peerId === run.peerId && p.capabilities.includes('echo'))
        )
      },
      { timeoutMs: 15_000, what: 'the coordinator to hear the supervisor and the runner' },
    )

    const coordinator = coordinatorOf(coord)
    const runId = await coordinator.submit(WORKFLOW)
    await waitForStatus(coordinator, runId, ['completed'])
    const traceId = runTraceId(runId)
    const root = await waitFor(
      () => exporter.getFinishedSpans().find((span) => span.spanContext().spanId === runSpanId(runId)),
      { timeoutMs: 10_000, what: 'the run span' },
    )
    const spans = exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId)

    // The root: the pipeline run, on the coordinator, with the CI/CD conventions' attributes.
    expect(root.name).toBe('RUN traced')
    expect(root.kind).toBe(SpanKind.SERVER)
    expect(root.spanContext().traceId).toBe(traceId)
    expect(root.parentSpanContext).toBeUndefined()
    expect(instance(root)).toBe(coord.peerId)
    expect(root.attributes).toMatchObject({
      'cicd.pipeline.name': 'traced',
      'cicd.pipeline.run.id': runId,
      'cicd.pipeline.result': 'success',
    })

    for (const step of ['a', 'b']) {
      const jobId = `${runId}/${step}/1`
      const attempt = only(spans, `step ${step}`, (span) => span.name === `step ${step}`)
      expect(instance(attempt)).toBe(coord.peerId)
      expect(parentOf(attempt)).toBe(root.spanContext().spanId)
      expect(attempt.attributes).toMatchObject({
        'cicd.pipeline.task.name': step,
        'cicd.pipeline.task.run.id': jobId,
        'cicd.pipeline.task.run.result': 'success',
        'horus.peer.id': sup.peerId,
      })

      const onJob = (span: ReadableSpan): boolean => span.attributes['horus.job.id'] === jobId
      const accept = only(spans, `accept ${step}`, (x) => onJob(x) && x.name === 'supervisor.create_job')
      expect(accept.kind).toBe(SpanKind.SERVER)
      expect(instance(accept)).toBe(sup.peerId)
      expect(parentOf(accept)).toBe(attempt.spanContext().spanId)
      expect(accept.attributes).toMatchObject({
        'rpc.system.name': 'jsonrpc',
        'rpc.method': 'supervisor.create_job',
        'horus.job.source': 'rpc',
      })

      const execute = (kind: SpanKind, node: string) =>
        only(
          spans,
          `runner.execute ${kind} ${step}`,
          (x) => onJob(x) && x.kind === kind && instance(x) === node,
        )
      const dispatch = execute(SpanKind.CLIENT, sup.peerId)
      expect(parentOf(dispatch)).toBe(accept.spanContext().spanId)
      expect(dispatch.attributes).toMatchObject({
        'horus.peer.id': run.peerId,
        'rpc.method': 'runner.execute',
      })
      const executed = execute(SpanKind.SERVER, run.peerId)
      expect(parentOf(executed)).toBe(dispatch.spanContext().spanId)
      expect(executed.attributes).toMatchObject({
        'horus.peer.id': sup.peerId,
        'cicd.pipeline.task.run.result': 'success',
        'horus.job.replayed': false,
      })
    }
    // The run span, and per step: attempt, accept, dispatch, execute — nothing else, nothing elsewhere.
    expect(spans).toHaveLength(1 + 2 * 4)
    for (const span of exporter.getFinishedSpans())
      expect(span.attributes['cicd.pipeline.run.id']).toBe(runId)
  })

  it('gives an ad-hoc job a trace of its own, and ignores traceparents that are garbage or of another trace', async () => {
    const exporter = new InMemorySpanExporter()
    const { sup, run, cli, executed } = await startRogueMesh(mesh, { spanExporter: exporter })
    const client = mesh.client(cli, sup)
    const spansOf = (envelope: JobEnvelope): ReadableSpan[] =>
      exporter.getFinishedSpans().filter((span) => span.attributes['horus.job.id'] === envelope.id)
    const finished = (envelope: JobEnvelope, count: number): Promise<ReadableSpan[]> =>
      waitFor(() => (spansOf(envelope).length === count ? spansOf(envelope) : undefined), {
        timeoutMs: 10_000,
        what: `${count} spans of ${envelope.id}`,
      })

    // Without a traceparent (as the SDK sends it): accept is the root of the job's own trace.
    const plain = job(cli, { runner: 'work', payload: 'plain' })
    await submit(client, plain)
    expect((await result(client, plain.id)).status).toBe('succeeded')
    const three = await finished(plain, 3)
    const accept = only(three, 'accept', (span) => span.name === 'supervisor.create_job')
    const dispatch = only(three, 'dispatch', (span) => span.kind === SpanKind.CLIENT)
    const execute = only(
      three,
      'execute',
      (span) => span.name === 'runner.execute' && span.kind === SpanKind.SERVER,
    )
    for (const span of [accept, dispatch, execute])
      expect(span.spanContext().traceId).toBe(jobTraceId(plain.id))
    expect(accept.parentSpanContext).toBeUndefined()
    expect(parentOf(dispatch)).toBe(accept.spanContext().spanId)
    expect(parentOf(execute)).toBe(dispatch.spanContext().spanId)

    const foreignTrace = 'ab'.repeat(16)
    const hostile: unknown[] = [
      42,
      { traceId: foreignTrace },
      'x'.repeat(10_000),
      'garbage',
      `00-${foreignTrace}-${'cd'.repeat(8)}-01`, // well-formed, another trace: must not move the job there
      `00-${'0'.repeat(32)}-${'cd'.repeat(8)}-01`,
      `ff-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01`,
      `00-${'AB'.repeat(16)}-${'CD'.repeat(8)}-01`,
      '\u0000\n00-',
    ]
    for (const [i, traceparent] of hostile.entries()) {
      const envelope = job(cli, { runner: 'work', payload: `hostile ${i}` })
      // The member goes beside params, as a peer would send it; the client's type is bypassed on purpose.
      await client.call('supervisor.create_job', { job: envelope }, { traceparent: traceparent as string })
      expect((await result(client, envelope.id)).status).toBe('succeeded')
      const accepted = only(
        await finished(envelope, 3),
        'accept',
        (span) => span.name === 'supervisor.create_job',
      )
      expect(accepted.spanContext().traceId).toBe(jobTraceId(envelope.id))
      expect(accepted.parentSpanContext).toBeUndefined()
    }
    expect(exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === foreignTrace)).toEqual(
      [],
    )

    // The same at the runner, from its (trusted) supervisor's node.
    const direct = job(cli, { runner: 'work', payload: 'direct' })
    const answer = await mesh
      .client(sup, run)
      .call<{ result: { status: string } }>(
        'runner.execute',
        { job: direct },
        { traceparent: `00-${foreignTrace}-${'cd'.repeat(8)}-01` },
      )
    expect(answer.result.status).toBe('succeeded')
    const ran = only(await finished(direct, 1), 'execute', (span) => span.kind === SpanKind.SERVER)
    expect(ran.spanContext().traceId).toBe(jobTraceId(direct.id))
    expect(ran.parentSpanContext).toBeUndefined()

    expect(executed).toHaveLength(hostile.length + 2)
  })
})
