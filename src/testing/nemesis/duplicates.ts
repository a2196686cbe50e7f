/**
 * Which repeated executions of a step's effect the faults explain. The rule (the suite's
 * invariant): a step's effect may run again only when a node that ran an earlier execution of it
 * was faulted — killed, paused, cut off, restarted, out of disk — between that execution and this
 * one (or shortly before the earlier one: a fault's effects, liveness loss and retries, outlast
 * it by `slackMs`). Executions are grouped by step (`run/step`, across attempts; an ad-hoc job
 * by its id) and compared with every earlier one, not only the one just before.
 *
 * A stricter count is reported beside it: executions beyond one per interrupted execution (each
 * faulted execution may explain one re-execution). A fault of one node whose job is recovered
 * twice — by the supervisor that resumes it and by a coordinator that moved it elsewhere — shows
 * there, though the rule above allows it.
 */

export interface Execution {
  jobId: string
  node: string
  /** Wall ms the counter recorded it. */
  at: number
}

export interface FaultWindow {
  kind: string
  targets: readonly string[]
  from: number
  /** 0 while the fault still holds. */
  to: number
}

export interface DuplicateCount {
  /** Re-executions a fault explains. */
  explained: number
  /** Explained re-executions by the kind of the fault that explains them. */
  byKind: Record<string, number>
  /** One line per re-execution no fault explains. */
  unexplained: string[]
  /** One line per explained re-execution beyond one per interrupted execution. */
  beyondOnePerFault: string[]
}

/** The step an execution belongs to: `run/step` of a step job `run/step/attempt`, else the job id. */
export function effectKey(jobId: string): string {
  const parts = jobId.split('/')
  return parts.length === 3 ? `${parts[0]}/${parts[1]}` : jobId
}

export function countDuplicates(
  executions: readonly Execution[],
  faults: readonly FaultWindow[],
  options: { slackMs: number; describeTime?: (at: number) => string },
): DuplicateCount {
  const out: DuplicateCount = { explained: 0, byKind: {}, unexplained: [], beyondOnePerFault: [] }
  const time = options.describeTime ?? ((at: number) => new Date(at).toISOString())
  const byEffect = new Map<string, Execution[]>()
  for (const e of executions) {
    const key = effectKey(e.jobId)
    byEffect.set(key, [...(byEffect.get(key) ?? []), e])
  }
  for (const [key, unsorted] of byEffect) {
    const list = [...unsorted].sort((a, b) => a.at - b.at)
    const describe = (): string =>
      `${key}: ${list.map((e) => `${e.jobId} on ${e.node} at ${time(e.at)}`).join(', ')}`
    const used = new Set<number>()
    for (let k = 1; k < list.length; k++) {
      const later = list[k] as Execution
      // The latest earlier execution whose node a fault hit before this one ran.
      let explainedBy: { j: number; fault: FaultWindow } | undefined
      let unusedBy: { j: number; fault: FaultWindow } | undefined
      for (let j = k - 1; j >= 0; j--) {
        const earlier = list[j] as Execution
        const fault = faults.find(
          (f) =>
            f.targets.includes(earlier.node) &&
            f.from <= later.at &&
            (f.to === 0 ? Number.POSITIVE_INFINITY : f.to) + options.slackMs >= earlier.at,
        )
        if (fault === undefined) continue
        explainedBy ??= { j, fault }
        if (!used.has(j)) {
          unusedBy = { j, fault }
          break
        }
      }
      if (explainedBy === undefined) {
        out.unexplained.push(describe())
        continue
      }
      out.explained++
      const kind = (unusedBy ?? explainedBy).fault.kind
      out.byKind[kind] = (out.byKind[kind] ?? 0) + 1
      if (unusedBy === undefined) out.beyondOnePerFault.push(describe())
      else used.add(unusedBy.j)
    }
  }
  return out
}
