/**
 * The `telemetry` section of the node config. Tracing is off unless `telemetry.tracing` is set:
 *
 * ```yaml
 * telemetry:
 *   tracing:
 *     exporter: otlp            # or console (spans printed to stdout); default otlp
 *     endpoint: http://127.0.0.1:4318/v1/traces   # OTLP/HTTP; default: OpenTelemetry's
 *                               # OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT,
 *                               # else http://localhost:4318/v1/traces
 *     headers: { authorization: Bearer … }          # sent with each OTLP export
 *     serviceName: horus-mesh   # service.name of every span
 * ```
 *
 * `tracing: true` is the OTLP exporter with its defaults; `tracing: false`, or no section, is off.
 */
import type { ConfigIssues } from '../config/validate.js'
import { describe, readBoolean, readString } from '../config/validate.js'
import { TRACING_EXPORTERS } from './constants.js'

export type TracingExporterName = (typeof TRACING_EXPORTERS)[number]

export interface TracingConfig {
  exporter: TracingExporterName
  /** OTLP/HTTP traces URL; absent: OpenTelemetry's environment variables, then its default. */
  endpoint?: string
  headers?: Record<string, string>
  /** @default DEFAULT_SERVICE_NAME */
  serviceName?: string
}

export interface TelemetryConfig {
  /** Present when tracing is on. */
  tracing?: TracingConfig
}

const TELEMETRY_KEYS = ['tracing']
const TRACING_KEYS = ['exporter', 'endpoint', 'headers', 'serviceName']

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function unknownKeys(
  value: Record<string, unknown>,
  known: string[],
  path: string,
  issues: ConfigIssues,
): void {
  for (const key of Object.keys(value))
    if (!known.includes(key)) issues.add(`${path}.${key}`, `unknown setting (known: ${known.join(', ')})`)
}

/** Validates `telemetry`; problems go to `issues`. */
export function readTelemetry(value: unknown, issues: ConfigIssues): TelemetryConfig | undefined {
  if (value === undefined || value === null) return undefined
  if (!isRecord(value)) {
    issues.add('telemetry', `expected a mapping with tracing, got ${describe(value)}`)
    return undefined
  }
  unknownKeys(value, TELEMETRY_KEYS, 'telemetry', issues)
  const tracing = readTracing(value.tracing, issues)
  return tracing === undefined ? {} : { tracing }
}

function readTracing(value: unknown, issues: ConfigIssues): TracingConfig | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value === 'boolean' || typeof value === 'string') {
    return readBoolean(value, 'telemetry.tracing', issues) === true ? { exporter: 'otlp' } : undefined
  }
  if (!isRecord(value)) {
    issues.add('telemetry.tracing', `expected true, false or a mapping, got ${describe(value)}`)
    return undefined
  }
  unknownKeys(value, TRACING_KEYS, 'telemetry.tracing', issues)
  const exporter = readExporter(value.exporter, issues)
  const endpoint = readEndpoint(value.endpoint, issues)
  const headers = readHeaders(value.headers, issues)
  const serviceName = readString(value.serviceName, 'telemetry.tracing.serviceName', issues)
  if (exporter === 'console' && (endpoint !== undefined || headers !== undefined))
    issues.add('telemetry.tracing', 'endpoint and headers apply to the otlp exporter, not console')
  return {
    exporter: exporter ?? 'otlp',
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(headers === undefined ? {} : { headers }),
    ...(serviceName === undefined ? {} : { serviceName }),
  }
}

function readExporter(value: unknown, issues: ConfigIssues): TracingExporterName | undefined {
  if (value === undefined) return undefined
  if ((TRACING_EXPORTERS as readonly unknown[]).includes(value)) return value as TracingExporterName
  issues.add(
    'telemetry.tracing.exporter',
    `expected one of ${TRACING_EXPORTERS.join(', ')}, got ${describe(value)}`,
  )
  return undefined
}

function readEndpoint(value: unknown, issues: ConfigIssues): string | undefined {
  const text = readString(value, 'telemetry.tracing.endpoint', issues)
  if (text === undefined) return undefined
  let url: URL
  try {
    url = new URL(text)
  } catch {
    issues.add('telemetry.tracing.endpoint', `expected an http(s) URL, got ${JSON.stringify(text)}`)
    return undefined
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    issues.add('telemetry.tracing.endpoint', `expected an http(s) URL, got ${JSON.stringify(text)}`)
    return undefined
  }
  return text
}

function readHeaders(value: unknown, issues: ConfigIssues): Record<string, string> | undefined {
  if (value === undefined) return undefined
  if (!isRecord(value)) {
    issues.add(
      'telemetry.tracing.headers',
      `expected a mapping of header names to values, got ${describe(value)}`,
    )
    return undefined
  }
  const out: Record<string, string> = {}
  for (const [name, header] of Object.entries(value)) {
    if (typeof header === 'string') out[name] = header
    else issues.add(`telemetry.tracing.headers.${name}`, `expected a string, got ${describe(header)}`)
  }
  return out
}
