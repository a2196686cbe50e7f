/**
 * OpenTelemetry tracing of a node (`node.tracing`, off unless `telemetry.tracing` is configured):
 * one trace per run, whose id every node derives from the run id; a span per step attempt on the
 * coordinator, accept and dispatch spans on the supervisor, an execute span on the runner, linked
 * across the RPC hops by the W3C `traceparent` request member. README "Tracing" tells the rest.
 */
export * from './attributes.js'
export { readTelemetry, type TelemetryConfig, type TracingConfig } from './config.js'
export * from './constants.js'
export {
  endSpan,
  errorOutcome,
  type JobParent,
  jobOutcome,
  NodeTracing,
  type NodeTracingInit,
  type SpanOutcome,
} from './node-tracing.js'
export { observeRunSpans } from './run-spans.js'
export {
  type JobRef,
  jobRefOf,
  jobTraceId,
  remoteParent,
  runRootContext,
  runSpanId,
  runTraceId,
  traceIdOf,
  traceparentOf,
} from './trace-ids.js'
