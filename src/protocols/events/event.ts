/**
 * Monitor events: what the coordinator API streams to subscribers (`coordinator.events`) and
 * publishes on `horus/v2/events`. The types and severities are the seed monitor's, extended with
 * the step transitions of a DAG run. Coordinators derive them from the run's replicated log, so an
 * event stream and `get_workflow_logs` never disagree.
 */

import { MAX_EVENT_BYTES, MAX_EVENT_MESSAGE_LENGTH, MAX_EVENTS_PER_MESSAGE } from './constants.js'

export const MONITOR_EVENT_TYPES = [
  'workflow_started',
  'step_dispatched',
  'step_started',
  'step_succeeded',
  'step_failed',
  'step_retrying',
  'step_skipped',
  'workflow_completed',
  'workflow_failed',
  'workflow_cancelled',
  'workflow_paused',
  'workflow_resumed',
  'workflow_retried',
  'signal_received',
  'node_status',
] as const

export type MonitorEventType = (typeof MONITOR_EVENT_TYPES)[number]

export const SEVERITIES = ['info', 'warning', 'error', 'critical'] as const
export type Severity = (typeof SEVERITIES)[number]

export interface MonitorEvent {
  type: MonitorEventType
  severity: Severity
  /** ISO-8601. */
  at: string
  /** Peer ID of the coordinator that observed it. */
  node: string
  runId?: string
  stepId?: string
  message: string
  data?: Record<string, unknown>
  /**
   * The event's place in its run's log (the stamp of its entry), present on events of runs a
   * coordinator holds: pass the last one seen as `after` to `coordinator.events` to replay what
   * followed. Not sent on the gossip topic.
   */
  id?: string
}

const TYPES: ReadonlySet<string> = new Set(MONITOR_EVENT_TYPES)
const SEVERITY_SET: ReadonlySet<string> = new Set(SEVERITIES)
const encoder = new TextEncoder()
const decoder = new TextDecoder()

export function isMonitorEventType(type: string): type is MonitorEventType {
  return TYPES.has(type)
}

export function encodeMonitorEvent(event: MonitorEvent): Uint8Array {
  return encoder.encode(JSON.stringify(event))
}

function isShortString(value: unknown, max = 512): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= max
}

/** Checks a decoded value; `undefined` when anything is off (never throws). */
export function monitorEventFrom(value: unknown): MonitorEvent | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const v = value as Record<string, unknown>
  if (typeof v.type !== 'string' || !TYPES.has(v.type)) return undefined
  if (typeof v.severity !== 'string' || !SEVERITY_SET.has(v.severity)) return undefined
  if (!isShortString(v.at, 64) || Number.isNaN(Date.parse(v.at))) return undefined
  if (!isShortString(v.node, 128)) return undefined
  if (typeof v.message !== 'string' || v.message.length > MAX_EVENT_MESSAGE_LENGTH) return undefined
  if (v.runId !== undefined && !isShortString(v.runId, 128)) return undefined
  if (v.stepId !== undefined && !isShortString(v.stepId, 1024)) return undefined
  if (v.data !== undefined && (typeof v.data !== 'object' || v.data === null || Array.isArray(v.data)))
    return undefined
  if (v.id !== undefined && !isShortString(v.id, 256)) return undefined
  const known = new Set(['type', 'severity', 'at', 'node', 'runId', 'stepId', 'message', 'data', 'id'])
  if (Object.keys(v).some((key) => !known.has(key))) return undefined
  return v as unknown as MonitorEvent
}

/**
 * A gossip message of events (a JSON array) from events already encoded one by one: the caller
 * keeps the batch within `MAX_EVENT_BYTES` and `MAX_EVENTS_PER_MESSAGE`.
 */
export function encodeMonitorEventBatch(encoded: readonly string[]): Uint8Array {
  return encoder.encode(`[${encoded.join(',')}]`)
}

/**
 * Parses a gossip message of events: `undefined` unless it is an array of 1 to
 * `MAX_EVENTS_PER_MESSAGE` valid events within `MAX_EVENT_BYTES` in all — one bad event spoils the
 * message (its signed publisher sent it whole).
 */
export function decodeMonitorEventBatch(data: Uint8Array): MonitorEvent[] | undefined {
  if (data.byteLength > MAX_EVENT_BYTES) return undefined
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(data))
  } catch {
    return undefined
  }
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_EVENTS_PER_MESSAGE) return undefined
  const events: MonitorEvent[] = []
  for (const item of value) {
    const event = monitorEventFrom(item)
    if (event === undefined) return undefined
    events.push(event)
  }
  return events
}

/** The message cut to the length events carry. */
export function eventMessage(text: string): string {
  return text.length <= MAX_EVENT_MESSAGE_LENGTH ? text : `${text.slice(0, MAX_EVENT_MESSAGE_LENGTH - 1)}…`
}
