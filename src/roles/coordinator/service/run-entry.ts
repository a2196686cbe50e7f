/**
 * One run as this coordinator holds it: the replicated state, the workflow compiled from the
 * state's own definition (so a run received from a peer needs nothing else), and the local
 * bookkeeping — what was already flushed (persisted, turned into events), the delta of local
 * changes still to gossip, the wake-up timer, and the cached status.
 */
import type { LongTimeout } from '../../../core/long-timeout.js'
import { hlcWall } from '../../../protocols/state/hlc.js'
import type { RunState } from '../../../protocols/state/run-state.js'
import { type RunStatus, runStatus, TERMINAL_RUN_STATUSES } from '../scheduling/index.js'
import { compileWorkflow } from '../workflow/compile.js'
import type { CompiledWorkflow } from '../workflow/types.js'

/** Every `runner` a document names, so a replicated definition compiles whatever kinds it uses. */
export function runnerKindsIn(value: unknown, out = new Set<string>(), depth = 0): Set<string> {
  if (depth > 64 || typeof value !== 'object' || value === null) return out
  if (Array.isArray(value)) {
    for (const item of value) runnerKindsIn(item, out, depth + 1)
    return out
  }
  for (const [key, item] of Object.entries(value)) {
    if (key === 'runner' && typeof item === 'string') out.add(item)
    else if (key !== 'payload') runnerKindsIn(item, out, depth + 1)
  }
  return out
}

export class RunEntry {
  readonly state: RunState
  workflow: CompiledWorkflow | undefined
  status: RunStatus = 'pending'
  /** Local version before the first merge of remote state not yet flushed (persisted, turned into events). */
  mergedSince: number | undefined
  /** Deltas appended since the last compaction. */
  appended = 0
  /** Something changed that may make actions due: plan at the next flush. */
  replan = false
  /**
   * Set after a takeover, a restart, or a merge while this node owns the run: the next plan
   * re-follows every attempt still in flight (finds its job on a supervisor, or sends it again).
   */
  redispatch = false
  /**
   * The coordinator this node took the run over from, until a complete anti-entropy round with it
   * succeeded (`RunEngine.mergedWith`): it may have sent jobs whose dispatch never reached this
   * replica (it was cut off right after, its envelope stuck in a TCP connection), so every job is
   * looked for — and its id reserved — on the supervisors before it is sent, not only those of the
   * first plan.
   */
  takenFrom: string | undefined
  /** This node's own lease lapsed: it is being re-acquired (peers merged first), not renewed. */
  reclaiming = false
  wakeTimer: LongTimeout | undefined
  wakeAt: number | undefined
  #gossip: RunState | undefined
  #compileFailed = false

  constructor(state: RunState, workflow?: CompiledWorkflow) {
    this.state = state
    this.workflow = workflow
  }

  get id(): string {
    return this.state.run
  }

  get terminal(): boolean {
    return TERMINAL_RUN_STATUSES.has(this.status)
  }

  get createdAt(): number {
    return this.state.meta === undefined ? 0 : hlcWall(this.state.meta.hlc)
  }

  /** Compiles the run's stored definition once it has arrived. */
  ensureWorkflow(): CompiledWorkflow | undefined {
    if (this.workflow !== undefined || this.#compileFailed) return this.workflow
    const meta = this.state.meta
    if (meta === undefined) return undefined
    try {
      this.workflow = compileWorkflow(meta.workflow, { runners: runnerKindsIn(meta.workflow) })
    } catch {
      // A definition every peer validated before storing; if it still fails here the run is shown, not driven.
      this.#compileFailed = true
    }
    return this.workflow
  }

  refreshStatus(now: number): void {
    const workflow = this.ensureWorkflow()
    if (workflow !== undefined) this.status = runStatus(workflow, this.state, now)
  }

  addGossip(delta: RunState): void {
    if (this.#gossip === undefined) this.#gossip = delta
    else this.#gossip.merge(delta)
  }

  takeGossip(): RunState | undefined {
    const delta = this.#gossip
    this.#gossip = undefined
    return delta
  }

  clearWake(): void {
    this.wakeTimer?.clear()
    this.wakeTimer = undefined
    this.wakeAt = undefined
  }
}
