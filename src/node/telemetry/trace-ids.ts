/**
 * Trace ids derived from ids every node already has, so each coordinator, supervisor and runner
 * that touches a run puts its spans into the run's one trace without asking anyone: the trace id
 * is a hash of the run id (an ad-hoc job's, of the job id), and the run's root span id a hash of
 * the run id too. A peer's `traceparent` only ever chooses a parent *within* that trace.
 */
import { createHash } from 'node:crypto'
import { isValidSpanId, type SpanContext, TraceFlags } from '@opentelemetry/api'
import { parseTraceParent } from '@opentelemetry/core'
import { JOB_TRACE_DOMAIN, MAX_TRACED_ID_CHARS, RUN_SPAN_DOMAIN, RUN_TRACE_DOMAIN } from './constants.js'

/** What tracing needs of a job; fields of a job not verified yet are checked before use. */
export interface JobRef {
  id: string
  run?: string | undefined
  step?: string | undefined
  attempt?: number | undefined
  runner?: string | undefined
}

function derive(domain: string, id: string, bytes: number): string {
  const hex = createHash('sha256')
    .update(domain)
    .update('\0')
    .update(id)
    .digest('hex')
    .slice(0, bytes * 2)
  // An all-zero id is invalid in W3C trace context; a hash gives one with probability 2^-64 or less.
  return /^0+$/.test(hex) ? `${hex.slice(0, -1)}1` : hex
}

/** The trace id of every span about run `runId`. */
export function runTraceId(runId: string): string {
  return derive(RUN_TRACE_DOMAIN, runId, 16)
}

/** The span id of run `runId`'s root span. */
export function runSpanId(runId: string): string {
  return derive(RUN_SPAN_DOMAIN, runId, 8)
}

/** The trace id of an ad-hoc job (one outside any run): a trace of its own. */
export function jobTraceId(jobId: string): string {
  return derive(JOB_TRACE_DOMAIN, jobId, 16)
}

/** The trace a job's spans belong to. */
export function traceIdOf(job: JobRef): string {
  return job.run === undefined ? jobTraceId(job.id) : runTraceId(job.run)
}

/** The run's root span, as a parent: the same on every node. */
export function runRootContext(runId: string): SpanContext {
  return {
    traceId: runTraceId(runId),
    spanId: runSpanId(runId),
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
  }
}

/**
 * The parent a peer's `traceparent` names, when it is well-formed W3C trace context of the trace
 * `traceId`; undefined otherwise (garbage, another trace). Its flags are not taken: whether a span
 * is recorded is this node's decision, not the peer's.
 */
export function remoteParent(traceparent: string | undefined, traceId: string): SpanContext | undefined {
  if (traceparent === undefined) return undefined
  const parsed = parseTraceParent(traceparent)
  if (parsed === null || parsed.traceId !== traceId || !isValidSpanId(parsed.spanId)) return undefined
  return { traceId, spanId: parsed.spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true }
}

/** A job as tracing sees it, read from input not verified yet: undefined when its ids are unusable. */
export function jobRefOf(input: unknown): JobRef | undefined {
  if (typeof input !== 'object' || input === null) return undefined
  const { id, run, step, attempt, runner } = input as Record<string, unknown>
  if (!usableId(id)) return undefined
  if (run !== undefined && !usableId(run)) return undefined
  return {
    id,
    run,
    step: typeof step === 'string' ? step : undefined,
    attempt: typeof attempt === 'number' ? attempt : undefined,
    runner: typeof runner === 'string' ? runner : undefined,
  }
}

function usableId(value: unknown): value is string {
  return typeof value === 'string' && value !== '' && value.length <= MAX_TRACED_ID_CHARS
}

/** `traceparent` of a span context (W3C version 00, sampled). */
export function traceparentOf(context: SpanContext): string {
  return `00-${context.traceId}-${context.spanId}-01`
}
