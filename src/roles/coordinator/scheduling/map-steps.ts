/**
 * `for_each` steps: one child task per element of a list known only at run time. A child is a
 * step of its own in the run state, under the id `<step>[<index>]` (job `<run>/<step>[<index>]/<n>`),
 * so retries, timeouts and results work per child exactly as for any job step, and a coordinator
 * taking the run over sees every child's progress. The parent's entry records how many children
 * there are (`items`) when it starts; its output is derived from the children's results, in order,
 * rather than stored a second time.
 */
import type { StepEntry } from '../../../protocols/state/lattice.js'
import type { RunState } from '../../../protocols/state/run-state.js'
import type { CompiledStep, CompiledWorkflow } from '../workflow/types.js'

const CHILD_ID = /^(.+)\[(0|[1-9]\d{0,8})\]$/

/** The ids of a map step's first `n` children, cached per step (plans run often). */
const idCache = new WeakMap<CompiledStep, string[]>()

export function childIds(step: CompiledStep, n: number): readonly string[] {
  let ids = idCache.get(step)
  if (ids === undefined) {
    ids = []
    idCache.set(step, ids)
  }
  for (let i = ids.length; i < n; i++) ids.push(`${step.id}[${i}]`)
  return ids
}

export function childId(step: string, index: number): string {
  return `${step}[${index}]`
}

/** A step id as the scheduler knows it: a compiled step, or a child of a `for_each` step. */
export function resolveStep(
  workflow: CompiledWorkflow,
  id: string,
): { step: CompiledStep; item: number | undefined } | undefined {
  const step = workflow.byId.get(id)
  if (step !== undefined) return { step, item: undefined }
  const match = CHILD_ID.exec(id)
  if (match === null) return undefined
  const parent = workflow.byId.get(match[1] as string)
  if (parent?.forEach === undefined) return undefined
  return { step: parent, item: Number(match[2]) }
}

/** The children's entries of a map step that started (`items` recorded). */
export function childEntries(state: RunState, step: CompiledStep, items: number): (StepEntry | undefined)[] {
  const ids = childIds(step, items)
  const out = new Array<StepEntry | undefined>(items)
  for (let i = 0; i < items; i++) out[i] = state.step(ids[i] as string)
  return out
}
