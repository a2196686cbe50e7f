/** The shapes of the coordinator API (../API.md), exactly as they travel. */

import type { RunStatus, StepStatus } from '../scheduling/index.js'

export type { MonitorEvent, MonitorEventType, Severity } from '../../../protocols/events/index.js'
export type { RunStatus }
export type StepState = StepStatus

export interface StepView {
  id: string
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

export interface TriggerSummary {
  name: string
  kind: 'cron' | 'http'
  schedule?: string
  lastFiredAt?: string
}
