/** The shapes of the coordinator API (../API.md), exactly as they travel. */

import type { RunStatus, StepStatus } from '../scheduling/index.js'

export type { MonitorEvent, MonitorEventType, Severity } from '../../../protocols/events/index.js'
export type { RunStatus }
export type StepState = StepStatus

export interface StepView {
  id: string
  /** `job`, `workflow` (composed), `sleep`, `signal` (wait_for_signal). Absent on a for_each child. */
  kind?: 'job' | 'workflow' | 'sleep' | 'signal'
  /** Capability; absent for a composition step. */
  runner?: string
  dependsOn: string[]
  state: StepState
  /** 0 before the first dispatch. */
  attempt: number
  startedAt?: string
  finishedAt?: string
  durationMs?: number
  jobId?: string
  /** Peer ID of the supervisor the job went to. */
  supervisor?: string
  /** Peer ID of the runner that produced the result. */
  runnerPeer?: string
  output?: unknown
  error?: { name: string; message: string; retryable?: boolean }
  reason?: string
  /** A for_each step that started: its children by state (`coordinator.get_step_items` lists them). */
  items?: { total: number; counts: Partial<Record<StepState, number>> }
  /** A wait_for_signal step: the signal it waits for. */
  signal?: string
  /** A sleeping step: when it wakes; a signal wait with a timeout: when it times out. */
  until?: string
  /** When not the default (all_success). */
  triggerRule?: string
  /** Declared under the workflow's on_failure. */
  onFailure?: boolean
}

export interface RunView {
  runId: string
  workflow: string
  status: RunStatus
  owner?: string
  /** Peer ID of the key the run executes for (the signer of its submission or trigger registration). */
  submitter?: string
  inputs: Record<string, unknown>
  outputs?: Record<string, unknown>
  createdAt: string
  finishedAt?: string
  steps: StepView[]
  error?: { step?: string; name: string; message: string }
  /** Times the run was rerun (`retry_workflow`). */
  epoch: number
  /** The run finished with failed, cancelled or skipped steps: `retry_workflow` would rerun them. */
  retryable: boolean
  /** Signals steps wait for now (what `signal_workflow` would deliver). */
  waitingFor: string[]
}

export interface RunSummary {
  runId: string
  workflow: string
  status: RunStatus
  submitter?: string
  createdAt: string
  finishedAt?: string
}

export interface LogLine {
  at: string
  node: string
  stepId?: string
  level: 'info' | 'warn' | 'error'
  message: string
}

export interface RunErrorRecord {
  stepId?: string
  attempt?: number
  name: string
  message: string
  at: string
}

export interface RunMetrics {
  durationMs?: number
  steps: { id: string; attempts: number; durationMs?: number; queuedMs?: number }[]
}

export interface PendingStep {
  id: string
  state: StepState
  reason?: string
}

export type { TriggerListing as TriggerSummary } from '../triggers/trigger-service.js'
