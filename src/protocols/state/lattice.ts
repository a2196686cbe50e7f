/**
 * The value types of the run-state CRDT and the total orders that make each a join-semilattice:
 * join(a, b) = the greater of a and b. A total order gives commutativity, associativity and
 * idempotence for free; the last tie-break (canonical JSON) only matters when two different values
 * carry the same stamp, which honest nodes never produce but a buggy or hostile peer could.
 */

import canonicalize from 'canonicalize'
import { compareHlc } from './hlc.js'
import type { JsonObject, JsonValue } from './json-value.js'

/**
 * Stored phases of one attempt of a step. A step without an entry is pending, and readiness is
 * derived from its dependencies; `pending` is stored only when a rerun opens a new attempt of a
 * step that ended (it waits for its dependencies again), so it ranks lowest. `retrying` opens the
 * next attempt after a failure (it waits out the backoff).
 */
export const STEP_PHASES = [
  'pending',
  'retrying',
  'dispatched',
  'running',
  'succeeded',
  'failed',
  'skipped',
  'cancelled',
] as const
export type StepPhase = (typeof STEP_PHASES)[number]

export const TERMINAL_PHASES: ReadonlySet<StepPhase> = new Set([
  'succeeded',
  'failed',
  'skipped',
  'cancelled',
])

const PHASE_RANK: Readonly<Record<StepPhase, number>> = {
  pending: 0,
  retrying: 1,
  dispatched: 2,
  running: 3,
  // All terminal phases share the top rank: within an attempt a terminal phase absorbs every
  // non-terminal one, and two terminal phases are ordered by stamp only.
  succeeded: 4,
  failed: 4,
  skipped: 4,
  cancelled: 4,
}

/** A failure as recorded and sent across the wire (Temporal's failure shape, trimmed). */
export interface StepError {
  readonly message: string
  /** A stable name for the kind of failure (`StepTimeout`, a runner error class…). */
  readonly type?: string
  /** When true the step is not retried whatever its policy says. */
  readonly nonRetryable?: boolean
  readonly data?: JsonValue
}

/** One step's replicated value: `(attempt, phase, result|error, hlc, node)` plus timings. */
export interface StepEntry {
  readonly attempt: number
  readonly phase: StepPhase
  /** Stamp of the write; it also names the node (`hlcNode`). */
  readonly hlc: string
  /** Set when `phase` is `succeeded`. */
  readonly result?: JsonValue
  /** Set when `phase` is `failed`; on `retrying`, the failure that caused the retry. */
  readonly error?: StepError
  /** Why a step was skipped or cancelled (`condition`, `upstream_failed`, `run_cancelled`…). */
  readonly reason?: string
  /** When the retry may be dispatched; set when, and only when, `phase` is `retrying`. */
  readonly retryAt?: number
  /** Wall ms the current attempt was dispatched, started, finished; writers carry them forward. */
  readonly dispatchedAt?: number
  readonly startedAt?: number
  readonly finishedAt?: number
  /** Wall ms the first attempt was dispatched. */
  readonly firstDispatchedAt?: number
  /** A `for_each` step: how many children it maps over (set when it starts). */
  readonly items?: number
  /** The first attempt of the current series (after a rerun); retry budgets count from it. @default 1 */
  readonly base?: number
}

export function isTerminalPhase(phase: StepPhase): boolean {
  return TERMINAL_PHASES.has(phase)
}

function compareCanonical(a: unknown, b: unknown): number {
  const left = canonicalize(a) ?? ''
  const right = canonicalize(b) ?? ''
  return left < right ? -1 : left > right ? 1 : 0
}

export function compareStepEntries(a: StepEntry, b: StepEntry): number {
  if (a === b) return 0
  if (a.attempt !== b.attempt) return a.attempt < b.attempt ? -1 : 1
  const rank = PHASE_RANK[a.phase] - PHASE_RANK[b.phase]
  if (rank !== 0) return rank < 0 ? -1 : 1
  const byStamp = compareHlc(a.hlc, b.hlc)
  return byStamp !== 0 ? byStamp : compareCanonical(a, b)
}

/**
 * Cancellation is absorbing within an epoch (see `RerunRecord`); the first cancel (smallest stamp)
 * of the latest epoch is kept as the record.
 */
export interface CancelRecord {
  readonly hlc: string
  readonly reason?: string
  /** The run's epoch when it was cancelled. @default 0 */
  readonly epoch?: number
}

/**
 * A rerun of a finished run (`retry_workflow`): epoch `n` starts when the run is retried the n-th
 * time. A cancel of an earlier epoch no longer applies, and the run's `timeout` counts from the
 * latest rerun. Join: higher epoch, then greater stamp.
 */
export interface RerunRecord {
  readonly epoch: number
  readonly hlc: string
  /** Steps the caller named (absent: every failed, cancelled or skipped step). */
  readonly steps?: readonly string[]
}

/** A delivered signal; the first delivery of a name (smallest stamp) wins on every replica. */
export interface SignalRecord {
  readonly hlc: string
  readonly data: JsonValue
}

/** `paused` as a last-writer-wins register. */
export interface PausedRecord {
  readonly paused: boolean
  readonly hlc: string
}

/**
 * The owner lease, a last-writer-wins register ordered by stamp. See README.md for renew and
 * takeover.
 */
export interface LeaseRecord {
  readonly owner: string
  readonly expiresAt: number
  readonly hlc: string
}

/** What a run was created with; immutable, so the first creation (smallest stamp) wins. */
export interface RunMeta {
  readonly hlc: string
  /** The self-contained workflow document (`CompiledWorkflow.source`). */
  readonly workflow: JsonValue
  readonly inputs: JsonObject
  /**
   * Whose authority the run executes under: the signed submission, or the trigger registration
   * and firing (`JobAuthority` of ../jobs/authority.ts). Every step job carries it; its signer is
   * the run's submitter. Absent only on runs stored before submissions were signed.
   */
  readonly authority?: JsonObject
  /** The inputs as submitted, before defaults (what the authority's `inputsDigest` covers). */
  readonly submittedInputs?: JsonObject
  /** Sealed secrets by name (only ciphertext: see protocols/jobs/secrets.ts), copied into step jobs. */
  readonly secrets?: JsonObject
}

export const LOG_SEVERITIES = ['debug', 'info', 'warning', 'error', 'critical'] as const
export type LogSeverity = (typeof LOG_SEVERITIES)[number]

/** An entry of the grow-only log: monitor events (`kind: 'event'`) and runner output lines. */
export interface LogEntry {
  /** The key of the grow-only set: unique per (hlc, node). */
  readonly hlc: string
  readonly kind: 'event' | 'log'
  /** Event name (`step_failed`…) or log stream (`stdout`…). */
  readonly type: string
  readonly severity: LogSeverity
  readonly message: string
  readonly step?: string
  readonly attempt?: number
  readonly data?: JsonValue
}

/** Greater stamp wins (paused, lease). */
export function compareByStamp<T extends { readonly hlc: string }>(a: T, b: T): number {
  const byStamp = compareHlc(a.hlc, b.hlc)
  return byStamp !== 0 ? byStamp : compareCanonical(a, b)
}

/** Returns the join of two optional register values under `compare` (greater wins). */
export function joinBy<T>(
  a: T | undefined,
  b: T | undefined,
  compare: (x: T, y: T) => number,
): T | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  return compare(a, b) >= 0 ? a : b
}

/** Smaller stamp wins (meta, signals): the order is reversed so `joinBy` still takes the greater. */
export function compareEarliest<T extends { readonly hlc: string }>(a: T, b: T): number {
  return -compareByStamp(a, b)
}

/** A cancel of a later epoch wins; within an epoch the earliest cancel is the record. */
export function compareCancels(a: CancelRecord, b: CancelRecord): number {
  const epochs = (a.epoch ?? 0) - (b.epoch ?? 0)
  return epochs !== 0 ? Math.sign(epochs) : compareEarliest(a, b)
}

/** The latest rerun wins: higher epoch, then greater stamp. */
export function compareReruns(a: RerunRecord, b: RerunRecord): number {
  return a.epoch !== b.epoch ? Math.sign(a.epoch - b.epoch) : compareByStamp(a, b)
}
