import { describe, expect, it } from 'vitest'
import { RunState } from '../src/protocols/state/run-state.js'
import { describeRun, recordJobUpdate, runStatus } from '../src/roles/coordinator/scheduling/index.js'
import { Simulation, START } from './scheduling-fixture.js'

const TWO_STEPS = `
workflow:
  name: metrics
  steps:
    - { id: a, runner: hero, retry: { max_attempts: 2, initial_delay: 1s } }
    - { id: b, runner: sal, depends_on: [a] }
`

describe('run reports and metrics', () => {
  it('derives run status from state: pending, running, completed', () => {
    const sim = new Simulation(TWO_STEPS)
    expect(runStatus(sim.workflow, sim.state, sim.now)).toBe('pending')
    const report = describeRun(sim.workflow, sim.state, sim.now)
    expect(report.steps.map((s) => s.status)).toEqual(['ready', 'pending'])
    expect(report.createdAt).toBe(START)
    sim.plan()
    expect(runStatus(sim.workflow, sim.state, sim.now)).toBe('running')
    sim.runToEnd()
    expect(runStatus(sim.workflow, sim.state, sim.now)).toBe('completed')
  })

  it('reports attempts and per-attempt timings, retries and backoff included in the total', () => {
    const sim = new Simulation(TWO_STEPS)
    const { workflow, state } = sim
    sim.plan() // a/1 dispatched at START
    sim.now += 100
    recordJobUpdate(workflow, state, { type: 'started', step: 'a', attempt: 1 }, sim.clock.now())
    sim.now += 400
    recordJobUpdate(
      workflow,
      state,
      { type: 'failed', step: 'a', attempt: 1, error: { message: 'flaky' } },
      sim.clock.now(),
    )
    sim.plan() // retry recorded: attempt 2 at START + 1500
    let report = describeRun(workflow, state, sim.now)
    expect(report.steps[0]).toMatchObject({
      status: 'retrying',
      attempts: 1,
      retryAt: START + 1_500,
      error: { message: 'flaky' },
    })
    sim.now = START + 1_500
    sim.plan() // a/2 dispatched
    sim.now += 50
    recordJobUpdate(workflow, state, { type: 'started', step: 'a', attempt: 2 }, sim.clock.now())
    report = describeRun(workflow, state, sim.now + 10)
    expect(report.steps[0]).toMatchObject({ status: 'running', attempts: 2, durationMs: 60 })
    sim.now += 200
    recordJobUpdate(
      workflow,
      state,
      { type: 'succeeded', step: 'a', attempt: 2, result: 42 },
      sim.clock.now(),
    )
    report = describeRun(workflow, state, sim.now)
    expect(report.steps[0]).toMatchObject({
      status: 'succeeded',
      attempts: 2,
      output: 42,
      firstDispatchedAt: START,
      dispatchedAt: START + 1_500,
      startedAt: START + 1_550,
      finishedAt: START + 1_750,
      durationMs: 250,
      totalMs: 1_750,
      error: undefined,
    })
    expect(report.counts).toMatchObject({ succeeded: 1, ready: 1 })
    sim.runToEnd()
    const done = describeRun(workflow, state, sim.now)
    expect(done.status).toBe('completed')
    expect(done.finishedAt).toBe(sim.now)
  })

  it('ignores duplicate and stale job reports', () => {
    const sim = new Simulation(TWO_STEPS)
    const { workflow, state } = sim
    sim.plan()
    const ok = { type: 'succeeded', step: 'a', attempt: 1, result: 1 } as const
    expect(recordJobUpdate(workflow, state, ok, sim.clock.now())).toBeDefined()
    expect(recordJobUpdate(workflow, state, ok, sim.clock.now())).toBeUndefined()
    expect(
      recordJobUpdate(workflow, state, { type: 'started', step: 'a', attempt: 1 }, sim.clock.now()),
    ).toBeUndefined()
    expect(state.log().filter((e) => e.type === 'step_succeeded')).toHaveLength(1)
    expect(() =>
      recordJobUpdate(workflow, state, { type: 'started', step: 'zzz', attempt: 1 }, sim.clock.now()),
    ).toThrow('run "run1" has no step "zzz"')
  })

  it('records only what every replica will accept: deep results fail, long messages are cut', () => {
    const sim = new Simulation(TWO_STEPS)
    const { workflow, state } = sim
    sim.plan()
    let deep: unknown = 'bottom'
    for (let i = 0; i < 100; i++) deep = { deep }
    recordJobUpdate(
      workflow,
      state,
      { type: 'succeeded', step: 'a', attempt: 1, result: deep as never },
      sim.clock.now(),
    )
    expect(state.step('a')).toMatchObject({
      phase: 'failed',
      error: {
        type: 'InvalidResult',
        message: 'result rejected: nested deeper than 64 levels',
        nonRetryable: true,
      },
    })
    const huge = 'x'.repeat(100_000)
    const other = new Simulation(TWO_STEPS)
    other.plan()
    recordJobUpdate(
      other.workflow,
      other.state,
      { type: 'failed', step: 'a', attempt: 1, error: { message: huge } },
      other.clock.now(),
    )
    expect(other.state.step('a')?.error?.message).toHaveLength(16_384)
    // Both states still survive the wire.
    expect(RunState.fromJSON(JSON.stringify(state.toJSON())).equals(state)).toBe(true)
    expect(RunState.fromJSON(JSON.stringify(other.state.toJSON())).equals(other.state)).toBe(true)
  })

  it('logs monitor events with severities for every transition', () => {
    const sim = new Simulation(TWO_STEPS)
    sim.on('a', (job) => (job.attempt === 1 ? { error: { message: 'flaky' } } : { result: 1 }))
    sim.runToEnd()
    expect(
      sim.state.log().map((e) => `${e.type}:${e.severity}${e.step === undefined ? '' : `:${e.step}`}`),
    ).toEqual([
      'workflow_started:info',
      'step_dispatched:info:a',
      'step_started:info:a',
      'step_failed:warning:a',
      'step_retrying:warning:a',
      'step_dispatched:info:a',
      'step_started:info:a',
      'step_succeeded:info:a',
      'step_dispatched:info:b',
      'step_started:info:b',
      'step_succeeded:info:b',
      'workflow_completed:info',
    ])
  })
})
