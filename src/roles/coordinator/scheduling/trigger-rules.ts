/**
 * Trigger rules (Airflow's): whether a step runs, given how its direct dependencies ended.
 * Upstream outcomes are counted in three classes:
 *
 * - succeeded;
 * - failed — failed, cancelled, or skipped because something upstream of it failed
 *   (`upstream_failed`, `parent_skipped`);
 * - skipped — skipped by its own `when` or trigger rule (a choice, not a failure: the seed's rule
 *   that a dependent of a `when`-skipped step still runs, with `null` as that input).
 *
 * | rule | runs when | otherwise |
 * | --- | --- | --- |
 * | `all_success` (default) | all done, none failed | `upstream_failed` |
 * | `none_failed` | all done, none failed (the same as `all_success` here, since a skipped upstream never fails it) | `upstream_failed` |
 * | `all_done` | all done | — |
 * | `all_failed` | all done, all failed | skipped as soon as one succeeded or was skipped |
 * | `one_failed` | as soon as one failed | skipped once all are done and none failed |
 * | `one_success` | as soon as one succeeded | once all are done: `upstream_failed` if any failed, else skipped |
 * | `always` | at once, whatever the dependencies do | — |
 *
 * A step without dependencies runs at once under every rule.
 */
import type { TriggerRule } from '../workflow/types.js'

export interface UpstreamCounts {
  readonly total: number
  readonly succeeded: number
  readonly failed: number
  readonly skipped: number
  /** Not finished yet. */
  readonly unfinished: number
}

export type RuleVerdict = 'wait' | 'run' | 'skip' | 'upstream_failed'

/** Rules under which a step still runs after a failure stopped the rest of the run (fail-fast exempts them). */
export const FAILURE_TOLERANT_RULES: ReadonlySet<TriggerRule> = new Set([
  'all_done',
  'all_failed',
  'one_failed',
  'always',
])

export function triggerRuleVerdict(rule: TriggerRule, c: UpstreamCounts): RuleVerdict {
  if (rule === 'always' || c.total === 0) return 'run'
  const done = c.unfinished === 0
  switch (rule) {
    case 'all_success':
    case 'none_failed':
      if (!done) return 'wait'
      return c.failed > 0 ? 'upstream_failed' : 'run'
    case 'all_done':
      return done ? 'run' : 'wait'
    case 'all_failed':
      if (c.succeeded > 0 || c.skipped > 0) return 'skip'
      return done ? 'run' : 'wait'
    case 'one_failed':
      if (c.failed > 0) return 'run'
      return done ? 'skip' : 'wait'
    case 'one_success':
      if (c.succeeded > 0) return 'run'
      if (!done) return 'wait'
      return c.failed > 0 ? 'upstream_failed' : 'skip'
  }
}
