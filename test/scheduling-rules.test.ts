import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  describeRun,
  type RuleVerdict,
  triggerRuleVerdict,
  type UpstreamCounts,
} from '../src/roles/coordinator/scheduling/index.js'
import type { TriggerRule } from '../src/roles/coordinator/workflow/index.js'
import { Simulation } from './scheduling-fixture.js'

const RULES: TriggerRule[] = [
  'all_success',
  'all_done',
  'all_failed',
  'one_failed',
  'one_success',
  'none_failed',
  'always',
]

/** How an upstream step ended, in Airflow's words. */
type Outcome = 'success' | 'failed' | 'upstream_failed' | 'skipped'

/**
 * The reference: Airflow's documented meaning of each rule once every upstream is done, written
 * from the outcomes themselves rather than counts (Horus's `all_success` tolerates `when`-skipped
 * upstreams, as the seed's rule 1 requires, which makes it `none_failed`).
 */
function reference(rule: TriggerRule, outcomes: Outcome[]): Exclude<RuleVerdict, 'wait'> {
  const failed = (o: Outcome) => o === 'failed' || o === 'upstream_failed'
  if (outcomes.length === 0) return 'run'
  switch (rule) {
    case 'always':
    case 'all_done':
      return 'run'
    case 'all_success':
    case 'none_failed':
      return outcomes.some(failed) ? 'upstream_failed' : 'run'
    case 'all_failed':
      return outcomes.every(failed) ? 'run' : 'skip'
    case 'one_failed':
      return outcomes.some(failed) ? 'run' : 'skip'
    case 'one_success':
      if (outcomes.includes('success')) return 'run'
      return outcomes.some(failed) ? 'upstream_failed' : 'skip'
    default:
      throw new Error(`no reference for ${rule as string}`)
  }
}

function counts(outcomes: (Outcome | 'running')[]): UpstreamCounts {
  return {
    total: outcomes.length,
    succeeded: outcomes.filter((o) => o === 'success').length,
    failed: outcomes.filter((o) => o === 'failed' || o === 'upstream_failed').length,
    skipped: outcomes.filter((o) => o === 'skipped').length,
    unfinished: outcomes.filter((o) => o === 'running').length,
  }
}

const outcomeArb = fc.constantFrom<Outcome>('success', 'failed', 'upstream_failed', 'skipped')

describe('trigger rules: the truth table', () => {
  it('agrees with the reference once every upstream is done', () => {
    fc.assert(
      fc.property(fc.constantFrom(...RULES), fc.array(outcomeArb, { maxLength: 6 }), (rule, outcomes) => {
        expect(triggerRuleVerdict(rule, counts(outcomes))).toBe(reference(rule, outcomes))
      }),
      { numRuns: 2_000 },
    )
  })

  it('decides early only what no later upstream outcome can change', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...RULES),
        fc.array(fc.oneof(outcomeArb, fc.constant('running' as const)), { maxLength: 6 }),
        fc.array(outcomeArb, { minLength: 6, maxLength: 6 }),
        (rule, partial, later) => {
          const early = triggerRuleVerdict(rule, counts(partial))
          if (early === 'wait' || rule === 'always') return
          let k = 0
          const finished = partial.map((o) => (o === 'running' ? (later[k++] as Outcome) : o))
          expect(reference(rule, finished)).toBe(early)
        },
      ),
      { numRuns: 2_000 },
    )
  })

  it('the scheduler follows the reference, for every rule and every mix of upstream outcomes', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...RULES),
        fc.array(outcomeArb, { minLength: 1, maxLength: 4 }),
        (rule, outcomes) => {
          // u0..un end as asked: `failed` with continue_on_failure, `upstream_failed` behind a failing
          // step, `skipped` by a false `when`.
          const steps: string[] = ['    - { id: bad, runner: hero, continue_on_failure: true }']
          outcomes.forEach((outcome, i) => {
            if (outcome === 'success') steps.push(`    - { id: u${i}, runner: hero }`)
            if (outcome === 'failed')
              steps.push(`    - { id: u${i}, runner: hero, continue_on_failure: true }`)
            if (outcome === 'skipped') steps.push(`    - { id: u${i}, runner: hero, when: false }`)
            if (outcome === 'upstream_failed')
              steps.push(`    - { id: u${i}, runner: hero, depends_on: [bad] }`)
          })
          const deps = outcomes.map((_, i) => `u${i}`).join(', ')
          steps.push(`    - { id: x, runner: sal, depends_on: [${deps}], trigger_rule: ${rule} }`)
          const sim = new Simulation(`workflow:\n  name: rules\n  steps:\n${steps.join('\n')}\n`)
          sim.on('bad', () => ({ error: { message: 'no' } }))
          outcomes.forEach((outcome, i) => {
            if (outcome === 'failed') sim.on(`u${i}`, () => ({ error: { message: 'no' } }))
          })
          const end = sim.runToEnd()
          expect(end.status).toBe('completed')
          const x = describeRun(sim.workflow, sim.state, sim.now).steps.find((s) => s.id === 'x')
          const expected = reference(rule, outcomes)
          if (expected === 'run') expect(x?.status).toBe('succeeded')
          else
            expect([x?.status, x?.reason]).toEqual([
              'skipped',
              expected === 'skip' ? 'trigger_rule' : 'upstream_failed',
            ])
        },
      ),
      { numRuns: 300 },
    )
  })
})

describe('steps that run after a failure', () => {
  it('all_done: a cleanup step runs after fail-fast cancelled the rest, and the run still fails', () => {
    const sim = new Simulation(`
workflow:
  name: cleanup
  steps:
    - { id: setup, runner: hero }
    - { id: work, runner: sal, depends_on: [setup] }
    - { id: more, runner: sal, depends_on: [work] }
    - { id: cleanup, runner: hero, depends_on: [more], trigger_rule: all_done }
`)
    sim.on('work', () => ({ error: { message: 'disk full' } }))
    const end = sim.runToEnd()
    expect(end.status).toBe('failed')
    expect(end.error).toMatchObject({ step: 'work', error: { message: 'disk full' } })
    const report = describeRun(sim.workflow, sim.state, sim.now)
    expect(report.steps.map((s) => [s.id, s.status, s.reason])).toEqual([
      ['setup', 'succeeded', undefined],
      ['work', 'failed', undefined],
      ['more', 'cancelled', 'run_failed'],
      ['cleanup', 'succeeded', undefined],
    ])
    // The run is reported failed only once the cleanup has finished.
    expect(sim.actions('finish')).toHaveLength(1)
  })

  it('a failed run stays running (with its error known) until its failure-tolerant steps finish', () => {
    const sim = new Simulation(`
workflow:
  name: slow-cleanup
  steps:
    - { id: work, runner: sal }
    - { id: cleanup, runner: hero, depends_on: [work], trigger_rule: one_failed }
`)
    sim.on('work', () => ({ error: { message: 'boom' } }))
    sim.on('cleanup', () => 'hang')
    sim.plan()
    sim.settle()
    const during = sim.plan()
    expect(during.status).toBe('running')
    expect(during.error).toMatchObject({ step: 'work' })
    expect(during.actions).toEqual([expect.objectContaining({ type: 'dispatch', step: 'cleanup' })])
  })

  it('one_failed is skipped when nothing failed; always runs at once without waiting', () => {
    const sim = new Simulation(`
workflow:
  name: alerts
  steps:
    - { id: a, runner: hero }
    - { id: alert, runner: hero, depends_on: [a], trigger_rule: one_failed }
    - { id: audit, runner: hero, depends_on: [a], trigger_rule: always }
    - { id: after, runner: hero, depends_on: [alert] }
`)
    sim.on('a', () => 'hang')
    const first = sim.plan()
    expect(first.actions.map((a) => a.type === 'dispatch' && [a.step, a.input])).toEqual([
      ['a', {}],
      ['audit', { a: null }],
    ])
    sim.inFlight.splice(0)
    const sim2 = new Simulation(sim.workflow)
    const end = sim2.runToEnd()
    expect(end.status).toBe('completed')
    const report = describeRun(sim2.workflow, sim2.state, sim2.now)
    expect(report.steps.map((s) => [s.id, s.status, s.reason])).toEqual([
      ['a', 'succeeded', undefined],
      ['alert', 'skipped', 'trigger_rule'],
      ['audit', 'succeeded', undefined],
      // A trigger-rule skip is a choice, like a false `when`: dependents still run.
      ['after', 'succeeded', undefined],
    ])
  })

  it('on_failure steps run once the run failed and everything else finished, seeing the failure', () => {
    const sim = new Simulation(`
workflow:
  name: guarded
  inputs: { target: { default: prod } }
  steps:
    - { id: deploy, runner: sal }
    - { id: verify, runner: sal, depends_on: [deploy] }
  on_failure:
    - id: alert
      runner: hero
      when: run.error.step == "deploy"
      env: { FAILED: run.error.step, WHY: run.error.message, TARGET: inputs.target }
    - { id: page, runner: hero, depends_on: [alert] }
`)
    sim.on('deploy', () => ({ error: { type: 'DeployError', message: 'no quota' } }))
    const end = sim.runToEnd()
    expect(end.status).toBe('failed')
    const alert = sim.dispatched.find((d) => d.step === 'alert')
    expect(alert?.env).toEqual({ FAILED: 'deploy', WHY: 'no quota', TARGET: 'prod' })
    expect(alert?.context).toEqual({
      inputs: { target: 'prod' },
      run: {
        id: 'run1',
        workflow: 'guarded',
        error: { step: 'deploy', type: 'DeployError', message: 'no quota' },
      },
    })
    expect(sim.dispatched.map((d) => d.step)).toEqual(['deploy', 'alert', 'page'])
    // The run's error stays the first failure, not a handler's.
    expect(end.error).toMatchObject({ step: 'deploy' })
  })

  it('on_failure steps are skipped when the run succeeds, and cancelled with the run', () => {
    const workflow = `
workflow:
  name: guarded
  steps:
    - { id: a, runner: sal }
  on_failure:
    - { id: alert, runner: hero }
`
    const ok = new Simulation(workflow)
    expect(ok.runToEnd().status).toBe('completed')
    expect(describeRun(ok.workflow, ok.state, ok.now).steps[1]).toMatchObject({
      status: 'skipped',
      reason: 'run_succeeded',
    })
    const cancelled = new Simulation(workflow)
    cancelled.on('a', () => 'hang')
    cancelled.plan()
    cancelled.cancel('stop')
    expect(cancelled.runToEnd().status).toBe('cancelled')
    expect(cancelled.dispatched.map((d) => d.step)).toEqual(['a'])
  })

  it('a run timeout fails the run with RunTimeout, cancels every step (tolerant ones too) and runs on_failure', () => {
    const sim = new Simulation(`
workflow:
  name: bounded
  timeout: 1m
  steps:
    - { id: slow, runner: sal }
    - { id: tidy, runner: hero, trigger_rule: always }
  on_failure:
    - { id: report, runner: hero }
`)
    sim.on('slow', () => 'hang')
    sim.on('tidy', () => 'hang')
    const first = sim.plan()
    expect(first.wakeAt).toBe(sim.now + 60_000)
    sim.settle()
    const end = sim.runToEnd()
    expect(end.status).toBe('failed')
    expect(end.error).toEqual({
      error: { type: 'RunTimeout', message: 'the run did not finish within 60000 ms' },
    })
    expect(sim.actions('cancel').map((a) => [a.step, a.reason, a.jobId])).toEqual([
      ['slow', 'run_timeout', 'run1/slow/1'],
      ['tidy', 'run_timeout', 'run1/tidy/1'],
    ])
    expect(sim.dispatched.find((d) => d.step === 'report')?.context.run.error).toEqual({
      step: null,
      type: 'RunTimeout',
      message: 'the run did not finish within 60000 ms',
    })
    expect(sim.actions('finish')[0]?.error?.error.type).toBe('RunTimeout')
  })
})
