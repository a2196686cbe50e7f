/**
 * What the coordinator and supervisor answer, as the SDK hands it to callers. The coordinator's
 * shapes are the contract in `src/roles/coordinator/API.md`; change both together.
 * Times are ISO-8601 strings, durations milliseconds.
 */
import type { JobFailure, JobResult } from '../protocols/jobs/result.js'
import { TERMINAL_RUN_STATUSES } from '../roles/coordinator/scheduling/types.js'
import type { RunStatus } from '../roles/coordinator/service/api-types.js'
import type { SupervisorJobStatus as JobStatus } from '../roles/supervisor/job-record.js'

export type { SecretRecipient } from '../protocols/jobs/secret-recipients.js'
// The wire shapes are defined once, by the services that answer them.
export type {
  LogLine,
  MonitorEvent,
  MonitorEventType,
  PendingStep,
  RunErrorRecord,
  RunMetrics,
  RunStatus,
  RunSummary,
  RunView,
  Severity,
  StepState,
  StepView,
  TriggerSummary,
} from '../roles/coordinator/service/api-types.js'
export type { SecretUse } from '../roles/coordinator/service/run-secrets.js'
export type { StepItemsPage } from '../roles/coordinator/service/step-items.js'
export type { JobResultView, JobStatusView } from '../roles/supervisor/job-record.js'
export { TERMINAL_STATUSES as TERMINAL_JOB_STATUSES } from '../roles/supervisor/job-record.js'
export type { JobFailure, JobResult, JobStatus }
export { TERMINAL_RUN_STATUSES }

export function isTerminalRun(status: RunStatus): boolean {
  return TERMINAL_RUN_STATUSES.has(status)
}

/** A workflow definition as the seed writes it; the coordinator validates the details. */
export interface WorkflowDefinition {
  workflow: {
    name: string
    steps: Array<{
      id: string
      runner?: string
      payload?: string
      depends_on?: string[]
      [key: string]: unknown
    }>
    [key: string]: unknown
  }
  [key: string]: unknown
}

/** One alive node, from `mesh.liveness`. */
export interface LivePeer {
  peerId: string
  /** The name the answering node's trust policy gives the peer's key, when it names one. */
  name?: string
  /** Listen addresses from the answering node's peer store. */
  addrs: string[]
  roles: string[]
  capabilities: string[]
  load: { running: number; capacity: number }
  lastSeen: string
}
