/**
 * Job ids of workflow steps are deterministic, `<run>/<step>/<attempt>` (run ids and step ids never
 * contain `/`), so any coordinator can tell which attempt a job belongs to.
 */

import type { JsonValue } from '../../../protocols/state/json-value.js'
import { isTerminalPhase } from '../../../protocols/state/lattice.js'
import type { RunState } from '../../../protocols/state/run-state.js'

export function jobIdOf(run: string, step: string, attempt: number): string {
  return `${run}/${step}/${attempt}`
}

export function parseJobId(jobId: string): { run: string; step: string; attempt: number } | undefined {
  const parts = jobId.split('/')
  if (parts.length !== 3) return undefined
  const [run, step, attempt] = parts as [string, string, string]
  const n = Number(attempt)
  return Number.isSafeInteger(n) && n >= 1 && run !== '' && step !== ''
    ? { run, step, attempt: n }
    : undefined
}

/**
 * Of the jobs this coordinator has in flight for the run, those that must be cancelled because the
 * merged state has moved on: their attempt ended (cancelled, skipped, failed, or succeeded elsewhere)
 * or a later attempt replaced it. This happens after a partition heals — a cancel on one side
 * absorbs a dispatch of the same attempt on the other — so call it after merging remote state.
 */
export function obsoleteJobs(state: RunState, inFlight: Iterable<string>): string[] {
  const out: string[] = []
  for (const jobId of inFlight) {
    const job = parseJobId(jobId)
    if (job === undefined || job.run !== state.run) continue
    const entry = state.step(job.step)
    if (entry === undefined) continue
    if (entry.attempt > job.attempt || (entry.attempt === job.attempt && isTerminalPhase(entry.phase)))
      out.push(jobId)
  }
  return out
}

/** Job payloads are text: a step's payload that is not a string travels as its JSON. */
export function payloadText(payload: JsonValue): string {
  if (payload === null) return ''
  return typeof payload === 'string' ? payload : JSON.stringify(payload)
}
