/** `service.name` of every span a node exports, unless `telemetry.tracing.serviceName` says otherwise. */
export const DEFAULT_SERVICE_NAME = 'horus-mesh'

/** The instrumentation scope of Horus's own spans. */
export const TRACER_NAME = 'horus-mesh'

/** Exporters `telemetry.tracing.exporter` may name. */
export const TRACING_EXPORTERS = ['otlp', 'console'] as const

/**
 * Domain tags of the ids derived from a run or job id: a run's trace id and its root span's id,
 * an ad-hoc job's trace id. Changing one splits the traces of nodes of different versions.
 */
export const RUN_TRACE_DOMAIN = 'horus/trace/run'
export const RUN_SPAN_DOMAIN = 'horus/span/run'
export const JOB_TRACE_DOMAIN = 'horus/trace/job'

/** Longest run or job id a span is derived from; longer ones (refused by validation anyway) are not traced. */
export const MAX_TRACED_ID_CHARS = 512
