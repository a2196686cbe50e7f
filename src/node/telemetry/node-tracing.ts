/**
 * One node's tracer: its own provider (several nodes share a process in tests and in
 * `horus/testing`, so nothing is registered globally), spans exported to OTLP/HTTP, the console
 * or an exporter given in code. Roles hold it as `tracing?: NodeTracing` — undefined when tracing
 * is off, so an untraced node pays one `undefined` check per job and allocates nothing.
 *
 * Span ids come from the SDK; only trace ids (and a run's root span id) are derived (trace-ids.ts).
 */
import {
  type Attributes,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  type SpanOptions,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace'
import {
  ATTR_CICD_PIPELINE_RUN_ID,
  ATTR_CICD_PIPELINE_TASK_NAME,
  ATTR_CICD_PIPELINE_TASK_RUN_ID,
  ATTR_CICD_PIPELINE_TASK_RUN_RESULT,
  ATTR_ERROR_TYPE,
  ATTR_HORUS_JOB_ATTEMPT,
  ATTR_HORUS_JOB_CAPABILITY,
  ATTR_HORUS_JOB_ID,
  ATTR_SERVICE_INSTANCE_ID,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
  RESULT_OF_STATUS,
} from './attributes.js'
import type { TracingConfig } from './config.js'
import { DEFAULT_SERVICE_NAME, TRACER_NAME } from './constants.js'
import { DerivedIds } from './derived-ids.js'
import { type JobRef, remoteParent, runRootContext, traceIdOf, traceparentOf } from './trace-ids.js'

export interface NodeTracingInit {
  peerId: string
  version: string
  /** From the config; ignored when `exporter` is given. */
  config?: TracingConfig
  /**
   * Export to this exporter instead, each span as it ends (tests: `InMemorySpanExporter`).
   */
  exporter?: SpanExporter
}

/** Where a job span's parent comes from, most specific first. */
export interface JobParent {
  /** A span of this node (the supervisor's accept span for its dispatch spans). */
  local?: SpanContext | undefined
  /** The caller's `traceparent`: used only when it names a span of the job's own trace. */
  traceparent?: string | undefined
}

/** How a job span ended: a terminal status, and the error when it failed. */
export interface SpanOutcome {
  error?: { name: string; message?: string | undefined } | undefined
  attributes?: Attributes
}

export class NodeTracing {
  readonly provider: TracerProvider
  private readonly tracer: Tracer
  private readonly ids = new DerivedIds()

  constructor(init: NodeTracingInit) {
    this.provider = new TracerProvider({
      resource: resourceFromAttributes({
        [ATTR_SERVICE_NAME]: init.config?.serviceName ?? DEFAULT_SERVICE_NAME,
        [ATTR_SERVICE_VERSION]: init.version,
        [ATTR_SERVICE_INSTANCE_ID]: init.peerId,
      }),
      idGenerator: this.ids,
      spanProcessors: [spanProcessor(init)],
    })
    this.tracer = this.provider.getTracer(TRACER_NAME, init.version)
  }

  /**
   * Starts a span about a job: in the job's trace (its run's, or its own), under `parent.local`,
   * else the span `parent.traceparent` names (only within that trace), else the run's root span;
   * an ad-hoc job's first span is its trace's root.
   */
  startJobSpan(name: string, kind: SpanKind, job: JobRef, parent: JobParent, attributes: Attributes): Span {
    const traceId = traceIdOf(job)
    const context =
      parent.local ??
      remoteParent(parent.traceparent, traceId) ??
      (job.run === undefined ? undefined : runRootContext(job.run))
    const options = { kind, attributes: { ...jobAttributes(job), ...attributes } }
    if (context !== undefined)
      return this.tracer.startSpan(name, options, trace.setSpanContext(ROOT_CONTEXT, context))
    return this.startRoot(name, options, traceId)
  }

  /**
   * A run's root span, in its trace with its derived id: started and ended at once with the run's
   * own times, since only its end (seen by the coordinator that wrote it) makes it exportable.
   */
  emitRunSpan(
    runId: string,
    name: string,
    times: { startMs: number; endMs: number },
    outcome: SpanOutcome,
  ): void {
    const root = runRootContext(runId)
    const span = this.startRoot(
      name,
      { kind: SpanKind.SERVER, startTime: times.startMs, attributes: outcome.attributes ?? {} },
      root.traceId,
      root.spanId,
    )
    endSpan(span, { error: outcome.error }, times.endMs)
  }

  /** The `traceparent` that makes a peer's span a child of `span`. */
  traceparent(span: Span): string {
    return traceparentOf(span.spanContext())
  }

  /** Exports what is buffered, then stops exporting (node stop). */
  async shutdown(): Promise<void> {
    await this.provider.shutdown()
  }

  async forceFlush(): Promise<void> {
    await this.provider.forceFlush()
  }

  private startRoot(name: string, options: SpanOptions, traceId: string, spanId?: string): Span {
    this.ids.set(traceId, spanId)
    try {
      return this.tracer.startSpan(name, { ...options, root: true })
    } finally {
      this.ids.clear()
    }
  }
}

/** Ends a span with its outcome: an error sets the status and `error.type`. */
export function endSpan(span: Span, outcome: SpanOutcome = {}, endMs?: number): void {
  if (outcome.attributes !== undefined) span.setAttributes(outcome.attributes)
  if (outcome.error !== undefined) {
    span.setAttribute(ATTR_ERROR_TYPE, outcome.error.name)
    span.setStatus({
      code: SpanStatusCode.ERROR,
      ...(outcome.error.message === undefined ? {} : { message: outcome.error.message }),
    })
  }
  span.end(endMs)
}

/**
 * A job's end as a span outcome: `cicd.pipeline.task.run.result` from its terminal status, and an
 * error unless it succeeded.
 */
export function jobOutcome(
  status: string,
  error?: { name: string; message?: string | undefined } | undefined,
  attributes: Attributes = {},
): SpanOutcome {
  const result = RESULT_OF_STATUS[status] ?? status
  return {
    attributes: { ...attributes, [ATTR_CICD_PIPELINE_TASK_RUN_RESULT]: result },
    ...(result === 'success' ? {} : { error: error ?? { name: result } }),
  }
}

/** A thrown error as a span outcome (an error rebuilt from the wire keeps its remote class name). */
export function errorOutcome(err: unknown): SpanOutcome {
  if (!(err instanceof Error)) return { error: { name: 'Error', message: String(err) } }
  const remoteName = (err as { remoteName?: unknown }).remoteName
  return { error: { name: typeof remoteName === 'string' ? remoteName : err.name, message: err.message } }
}

function jobAttributes(job: JobRef): Attributes {
  const attributes: Attributes = { [ATTR_HORUS_JOB_ID]: job.id }
  if (job.runner !== undefined) attributes[ATTR_HORUS_JOB_CAPABILITY] = job.runner
  if (job.attempt !== undefined) attributes[ATTR_HORUS_JOB_ATTEMPT] = job.attempt
  if (job.run !== undefined) {
    attributes[ATTR_CICD_PIPELINE_RUN_ID] = job.run
    attributes[ATTR_CICD_PIPELINE_TASK_RUN_ID] = job.id
    if (job.step !== undefined) attributes[ATTR_CICD_PIPELINE_TASK_NAME] = job.step
  }
  return attributes
}

function spanProcessor(init: NodeTracingInit): SpanProcessor {
  if (init.exporter !== undefined) return new SimpleSpanProcessor({ exporter: init.exporter })
  const config = init.config ?? { exporter: 'otlp' }
  if (config.exporter === 'console') return new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() })
  return new BatchSpanProcessor({
    exporter: new OTLPTraceExporter({
      ...(config.endpoint === undefined ? {} : { url: config.endpoint }),
      ...(config.headers === undefined ? {} : { headers: config.headers }),
    }),
  })
}
