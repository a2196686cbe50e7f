/**
 * From a run's replicated state to what the API answers (../API.md): the run and its steps, its
 * summary, log lines, errors, metrics, pending steps, and monitor events from log entries. Every
 * view reads the state only, so any coordinator holding the run answers the same.
 */
import {
  eventMessage,
  isMonitorEventType,
  type MonitorEvent,
  type Severity,
} from '../../../protocols/events/index.js'
import { peerIdFromPublicKeyHex } from '../../../protocols/jobs/index.js'
import { hlcNode, hlcWall } from '../../../protocols/state/hlc.js'
import { isPlainObject } from '../../../protocols/state/json-value.js'
import type { LogEntry, LogSeverity, StepError } from '../../../protocols/state/lattice.js'
import type { RunState } from '../../../protocols/state/run-state.js'
import {
  describeRun,
  jobIdOf,
  type RunReport,
  type RunStatus,
  type StepReport,
  TERMINAL_RUN_STATUSES,
} from '../scheduling/index.js'
import type { CompiledStep, CompiledWorkflow } from '../workflow/types.js'
import type {
  LogLine,
  PendingStep,
  RunErrorRecord,
  RunMetrics,
  RunSummary,
  RunView,
  StepView,
} from './api-types.js'
import { runSubmitter } from './run-access.js'

const RERUNNABLE: ReadonlySet<string> = new Set(['failed', 'cancelled', 'skipped'])

/** Type of the log entries that say which supervisor and runner handled a step's job. */
export const JOB_TRACE_TYPE = 'job_trace'

const iso = (ms: number): string => new Date(ms).toISOString()

function errorView(error: StepError): { name: string; message: string; retryable?: boolean } {
  return { name: error.type ?? 'Error', message: error.message, retryable: error.nonRetryable !== true }
}

/** step id → { supervisor, runnerPeer } of its latest traced attempt. */
function traces(state: RunState): Map<string, { attempt: number; supervisor?: string; runnerPeer?: string }> {
  const out = new Map<string, { attempt: number; supervisor?: string; runnerPeer?: string }>()
  for (const entry of state.log()) {
    if (entry.kind !== 'log' || entry.type !== JOB_TRACE_TYPE || entry.step === undefined) continue
    if (!isPlainObject(entry.data)) continue
    const { supervisor, runner } = entry.data
    const trace: { attempt: number; supervisor?: string; runnerPeer?: string } = {
      attempt: entry.attempt ?? 0,
    }
    if (typeof supervisor === 'string') trace.supervisor = supervisor
    if (typeof runner === 'string') trace.runnerPeer = runner
    out.set(entry.step, trace)
  }
  return out
}

function stepView(
  run: string,
  step: CompiledStep,
  report: StepReport,
  workflow: CompiledWorkflow,
  trace: { attempt: number; supervisor?: string; runnerPeer?: string } | undefined,
): StepView {
  const view: StepView = {
    id: step.id,
    kind: step.kind,
    dependsOn: step.deps.map((d) => (workflow.steps[d] as CompiledStep).id),
    state: report.status,
    // Skips and cancellations are written at attempt 1; a step never dispatched made no attempt.
    attempt: report.firstDispatchedAt === undefined ? 0 : report.attempts,
  }
  if (step.runner !== undefined) view.runner = step.runner
  const started = report.startedAt ?? report.dispatchedAt
  if (started !== undefined) view.startedAt = iso(started)
  if (report.finishedAt !== undefined) view.finishedAt = iso(report.finishedAt)
  if (report.durationMs !== undefined) view.durationMs = report.durationMs
  if (step.kind === 'job' && view.attempt > 0) view.jobId = jobIdOf(run, step.id, report.attempts)
  if (trace !== undefined && trace.attempt === view.attempt) {
    if (trace.supervisor !== undefined) view.supervisor = trace.supervisor
    if (trace.runnerPeer !== undefined) view.runnerPeer = trace.runnerPeer
  }
  if (report.output !== undefined) view.output = report.output
  if (report.error !== undefined && report.status !== 'succeeded') view.error = errorView(report.error)
  if (report.reason !== undefined) view.reason = report.reason
  else if (report.status === 'retrying' && report.retryAt !== undefined)
    view.reason = `retry at ${iso(report.retryAt)}`
  if (report.items !== undefined)
    view.items = { total: report.items.total, counts: { ...report.items.counts } }
  if (step.signal !== undefined) view.signal = step.signal
  const until = waitsUntil(step, report)
  if (until !== undefined) view.until = iso(until)
  if (step.triggerRule !== 'all_success') view.triggerRule = step.triggerRule
  if (step.onFailure) view.onFailure = true
  return view
}

/** When a sleep wakes, or a signal wait times out. */
function waitsUntil(step: CompiledStep, report: StepReport): number | undefined {
  if (report.status !== 'running' || report.dispatchedAt === undefined) return undefined
  if (step.kind === 'sleep') return report.dispatchedAt + (step.sleepMs ?? 0)
  if (step.kind === 'signal' && step.timeoutMs !== undefined) return report.dispatchedAt + step.timeoutMs
  return undefined
}

export function runView(
  workflow: CompiledWorkflow,
  state: RunState,
  now: number,
  report?: RunReport,
): RunView {
  const r = report ?? describeRun(workflow, state, now)
  const meta = state.meta
  const stepTraces = traces(state)
  const view: RunView = {
    runId: state.run,
    workflow: workflow.name,
    status: r.status,
    inputs: { ...(meta?.inputs ?? {}) },
    createdAt: iso(r.createdAt ?? 0),
    steps: workflow.steps.map((step) =>
      stepView(state.run, step, r.steps[step.index] as StepReport, workflow, stepTraces.get(step.id)),
    ),
    epoch: r.epoch,
    retryable: TERMINAL_RUN_STATUSES.has(r.status) && r.steps.some((s) => RERUNNABLE.has(s.status)),
    waitingFor: workflow.steps
      .filter((step) => step.signal !== undefined && r.steps[step.index]?.status === 'running')
      .map((step) => step.signal as string),
  }
  if (state.lease !== undefined) view.owner = state.lease.owner
  const submitter = submitterPeer(state)
  if (submitter !== undefined) view.submitter = submitter
  if (r.outputs !== undefined) view.outputs = r.outputs
  if (r.finishedAt !== undefined) view.finishedAt = iso(r.finishedAt)
  if (r.error !== undefined) {
    view.error = { name: r.error.error.type ?? 'Error', message: r.error.error.message }
    if (r.error.step !== undefined) view.error.step = r.error.step
  } else if (r.status === 'cancelled') {
    const reason = state.cancelled?.reason
    view.error = {
      name: 'RunCancelled',
      message: reason === undefined ? 'cancelled' : `cancelled: ${reason}`,
    }
  }
  return view
}

/** Peer ID of the run's submitter, when its state carries a signed authority. */
export function submitterPeer(state: RunState): string | undefined {
  const key = runSubmitter(state.meta)
  return key === undefined ? undefined : runnerPeerOf(key)
}

export function runSummary(
  state: RunState,
  workflow: string,
  status: RunStatus,
  createdAt: number,
  finishedAt: number | undefined,
): RunSummary {
  const summary: RunSummary = { runId: state.run, workflow, status, createdAt: iso(createdAt) }
  const submitter = submitterPeer(state)
  if (submitter !== undefined) summary.submitter = submitter
  if (finishedAt !== undefined) summary.finishedAt = iso(finishedAt)
  return summary
}

function level(severity: LogSeverity): LogLine['level'] {
  return severity === 'warning' ? 'warn' : severity === 'error' || severity === 'critical' ? 'error' : 'info'
}

/** Every event and output line of the run (or of one step), oldest first; traces left out. */
export function logLines(state: RunState, stepId?: string): LogLine[] {
  const out: LogLine[] = []
  for (const entry of state.log()) {
    if (entry.severity === 'debug') continue
    if (stepId !== undefined && entry.step !== stepId) continue
    const line: LogLine = {
      at: iso(hlcWall(entry.hlc)),
      node: hlcNode(entry.hlc),
      level: level(entry.severity),
      message: entry.message,
    }
    if (entry.step !== undefined) line.stepId = entry.step
    out.push(line)
  }
  return out
}

/** Each recorded step failure (attempts that failed, timed out), oldest first. */
export function runErrors(state: RunState): RunErrorRecord[] {
  const out: RunErrorRecord[] = []
  for (const entry of state.log()) {
    if (entry.kind !== 'event' || entry.type !== 'step_failed') continue
    const error = isPlainObject(entry.data) && isPlainObject(entry.data.error) ? entry.data.error : undefined
    const record: RunErrorRecord = {
      name: typeof error?.type === 'string' ? error.type : 'Error',
      message: typeof error?.message === 'string' ? error.message : entry.message,
      at: iso(hlcWall(entry.hlc)),
    }
    if (entry.step !== undefined) record.stepId = entry.step
    if (entry.attempt !== undefined) record.attempt = entry.attempt
    out.push(record)
  }
  return out
}

export function runMetrics(report: RunReport): RunMetrics {
  const metrics: RunMetrics = {
    steps: report.steps.map((s) => {
      const step: RunMetrics['steps'][number] = { id: s.id, attempts: s.attempts }
      if (s.totalMs !== undefined) step.durationMs = s.totalMs
      if (s.dispatchedAt !== undefined && s.startedAt !== undefined)
        step.queuedMs = Math.max(0, s.startedAt - s.dispatchedAt)
      return step
    }),
  }
  if (report.createdAt !== undefined && report.finishedAt !== undefined)
    metrics.durationMs = Math.max(0, report.finishedAt - report.createdAt)
  return metrics
}

const UNFINISHED = new Set(['pending', 'ready', 'dispatched', 'running', 'retrying'])

export function pendingSteps(workflow: CompiledWorkflow, report: RunReport): PendingStep[] {
  const out: PendingStep[] = []
  for (const s of report.steps) {
    if (!UNFINISHED.has(s.status)) continue
    const step: PendingStep = { id: s.id, state: s.status }
    const reason = s.reason ?? pendingReason(workflow, report, s)
    if (reason !== undefined) step.reason = reason
    out.push(step)
  }
  return out
}

function pendingReason(workflow: CompiledWorkflow, report: RunReport, s: StepReport): string | undefined {
  if (s.status === 'retrying' && s.retryAt !== undefined) return `retry at ${iso(s.retryAt)}`
  if (s.status === 'ready')
    return report.paused ? 'run paused' : 'waiting for a free slot (concurrency limit)'
  if (s.status === 'pending') {
    const step = workflow.byId.get(s.id)
    const waiting = (step?.deps ?? [])
      .map((d) => report.steps[d] as StepReport)
      .filter((dep) => UNFINISHED.has(dep.status))
      .map((dep) => dep.id)
    return waiting.length > 0 ? `waiting for ${waiting.join(', ')}` : undefined
  }
  if (s.status === 'dispatched') return 'job sent, waiting for a runner'
  return undefined
}

function severity(entry: LogEntry): Severity {
  return entry.severity === 'debug' ? 'info' : entry.severity
}

/** The monitor event of a log entry, or undefined for output lines and internal records. */
export function monitorEvent(run: string, entry: LogEntry): MonitorEvent | undefined {
  if (entry.kind !== 'event' || !isMonitorEventType(entry.type)) return undefined
  const event: MonitorEvent = {
    type: entry.type,
    severity: severity(entry),
    at: iso(hlcWall(entry.hlc)),
    node: hlcNode(entry.hlc),
    runId: run,
    message: eventMessage(entry.message),
    id: entry.hlc,
  }
  if (entry.step !== undefined) event.stepId = entry.step
  const data: Record<string, unknown> = isPlainObject(entry.data) ? { ...entry.data } : {}
  if (entry.attempt !== undefined) data.attempt = entry.attempt
  if (Object.keys(data).length > 0) event.data = data
  return event
}

/** A hex public key as its peer ID (what StepView.runnerPeer and RunView.submitter show). */
export function runnerPeerOf(publicKeyHex: string): string | undefined {
  try {
    return peerIdFromPublicKeyHex(publicKeyHex).toString()
  } catch {
    return undefined
  }
}
