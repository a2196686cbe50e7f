import { describe, expect, it } from 'vitest'
import { Hlc } from '../src/protocols/state/hlc.js'
import { RunState } from '../src/protocols/state/run-state.js'
import {
  cancelRun,
  commitAction,
  describeRun,
  obsoleteJobs,
  plan,
  RunNotCreatedError,
  recordJobUpdate,
  setRunPaused,
} from '../src/roles/coordinator/scheduling/index.js'
import { compileWorkflow } from '../src/roles/coordinator/workflow/index.js'
import { Simulation, START } from './scheduling-fixture.js'

const DIAMOND = `
workflow:
  name: diamond
  outputs:
    joined: steps.d.output
  steps:
    - { id: a, runner: hero, payload: "a" }
    - { id: b, runner: sal, payload: "b", depends_on: [a] }
    - { id: c, runner: sal, payload: "c", depends_on: [a] }
    - { id: d, runner: osiris, payload: "d", depends_on: [b, c] }
`

function fanOut(width: number): string {
  const steps = [{ id: 'start', runner: 'hero' }]
  for (let i = 0; i < width; i++) steps.push({ id: `w${i}`, runner: 'sal', depends_on: ['start'] } as never)
  steps.push({ id: 'aggregate', runner: 'osiris', depends_on: steps.slice(1).map((s) => s.id) } as never)
  return JSON.stringify({ workflow: { name: 'fan', steps } })
}

describe('plan: dependencies and data flow', () => {
  it('runs a diamond in dependency order, passing upstream outputs as input', () => {
    const sim = new Simulation(DIAMOND)
    sim.on('b', () => ({ result: { from: 'b' } })).on('c', () => ({ result: [1, 2] }))
    sim.on('d', (job) => ({ result: { saw: job.input } }))

    const first = sim.plan()
    expect(first.status).toBe('running')
    expect(first.actions).toEqual([
      expect.objectContaining({
        type: 'dispatch',
        step: 'a',
        attempt: 1,
        jobId: 'run1/a/1',
        runner: 'hero',
        input: {},
      }),
    ])
    sim.settle()
    expect(sim.plan().actions.map((a) => a.type === 'dispatch' && a.step)).toEqual(['b', 'c'])
    sim.settle()
    const third = sim.plan()
    expect(third.actions).toEqual([
      expect.objectContaining({ step: 'd', input: { b: { from: 'b' }, c: [1, 2] }, payload: 'd' }),
    ])
    sim.settle()
    const done = sim.plan()
    expect(done.status).toBe('completed')
    expect(done.outputs).toEqual({ joined: { saw: { b: { from: 'b' }, c: [1, 2] } } })
    expect(done.actions).toEqual([expect.objectContaining({ type: 'finish', status: 'completed' })])
    expect(sim.plan().actions).toEqual([])
    expect(sim.state.hasEvent('workflow_completed')).toBe(true)
  })

  it('dispatches 100 fan-out steps in parallel and gives the aggregate all their outputs', () => {
    const sim = new Simulation(fanOut(100))
    sim.plan()
    sim.settle()
    const wide = sim.plan()
    expect(wide.actions).toHaveLength(100)
    expect(new Set(wide.actions.map((a) => a.type === 'dispatch' && a.jobId)).size).toBe(100)
    sim.settle()
    const [aggregate] = sim.plan().actions
    expect(aggregate?.type).toBe('dispatch')
    if (aggregate?.type !== 'dispatch') return
    expect(Object.keys(aggregate.input)).toHaveLength(100)
    expect(aggregate.input.w42).toBe('w42#1')
    expect(sim.runToEnd().status).toBe('completed')
  })

  it('respects the per-run concurrency limit and the per-call dispatch budget', () => {
    const sim = new Simulation(fanOut(10))
    sim.limits = { maxConcurrency: 4, random: () => 0 }
    sim.plan()
    sim.settle()
    expect(sim.plan().actions).toHaveLength(4)
    expect(describeRun(sim.workflow, sim.state, sim.now).counts).toMatchObject({ dispatched: 4, ready: 6 })
    expect(sim.plan().actions).toHaveLength(0)
    sim.settle()
    sim.limits = { maxConcurrency: 100, maxDispatch: 2 }
    expect(sim.plan().actions).toHaveLength(2)
  })

  it('returns the same actions when planned twice on the same state (idempotent)', () => {
    const workflow = compileWorkflow({ workflow: { name: 'x', steps: [{ id: 'a', runner: 'hero' }] } })
    const sim = new Simulation(workflow)
    const one = plan(workflow, sim.state, sim.now)
    const two = plan(workflow, sim.state, sim.now)
    expect(two).toEqual(one)
  })

  it('refuses to plan a run whose creation record has not arrived', () => {
    const workflow = compileWorkflow({ workflow: { name: 'x', steps: [{ id: 'a', runner: 'hero' }] } })
    expect(() => plan(workflow, new RunState('r'), START)).toThrow(RunNotCreatedError)
  })
})

describe('plan: failures, retries and timeouts', () => {
  it('retries with exponential backoff, then succeeds', () => {
    const sim = new Simulation(`
workflow:
  name: flaky
  steps:
    - id: call
      runner: hero
      retry: { max_attempts: 4, initial_delay: 1s, backoff_base: 3 }
    - { id: after, runner: sal, depends_on: [call] }
`)
    sim.on('call', (job) =>
      job.attempt < 3 ? { error: { message: `boom ${job.attempt}` } } : { result: 'ok' },
    )
    const end = sim.runToEnd()
    expect(end.status).toBe('completed')
    const retries = sim.actions('retry')
    expect(retries.map((r) => r.attempt)).toEqual([2, 3])
    const failedAt = (n: number) => sim.state.log().find((e) => e.type === 'step_failed' && e.attempt === n)
    // Delays are 1 s then 3 s after each failure.
    expect(retries[0]?.retryAt).toBe(Number(failedAt(1)?.hlc.slice(0, 15)) + 1_000)
    expect(retries[1]?.retryAt).toBe(Number(failedAt(2)?.hlc.slice(0, 15)) + 3_000)
    expect(sim.dispatched.filter((d) => d.step === 'call').map((d) => d.jobId)).toEqual([
      'run1/call/1',
      'run1/call/2',
      'run1/call/3',
    ])
    const report = describeRun(sim.workflow, sim.state, sim.now)
    expect(report.steps[0]).toMatchObject({ id: 'call', status: 'succeeded', attempts: 3, output: 'ok' })
  })

  it('does not dispatch a retry before its backoff elapsed', () => {
    const sim = new Simulation(`
workflow:
  name: wait
  steps:
    - { id: a, runner: hero, retry: { max_attempts: 2, initial_delay: 10s } }
`)
    sim.on('a', () => ({ error: { message: 'no' } }))
    sim.plan()
    sim.settle()
    const p = sim.plan()
    expect(p.actions).toEqual([expect.objectContaining({ type: 'retry', attempt: 2 })])
    expect(p.wakeAt).toBe(sim.now + 10_000) // the simulated clock stands still
    sim.now += 9_000
    expect(sim.plan().actions).toEqual([])
    expect(describeRun(sim.workflow, sim.state, sim.now).steps[0]?.status).toBe('retrying')
    sim.now += 1_000
    expect(sim.plan().actions).toEqual([
      expect.objectContaining({ type: 'dispatch', attempt: 2, jobId: 'run1/a/2' }),
    ])
  })

  it('times out a hung attempt, retries it, and fails the run when attempts run out', () => {
    const sim = new Simulation(`
workflow:
  name: slow
  steps:
    - { id: slow, runner: sal, timeout: 5s, retry: { max_attempts: 2, initial_delay: 100ms } }
    - { id: next, runner: sal, depends_on: [slow] }
`)
    sim.on('slow', () => 'hang')
    const end = sim.runToEnd()
    expect(end.status).toBe('failed')
    const timeouts = sim.actions('timeout')
    expect(timeouts.map((t) => [t.jobId, t.willRetry])).toEqual([
      ['run1/slow/1', true],
      ['run1/slow/2', false],
    ])
    expect(end.error).toMatchObject({ step: 'slow', error: { message: 'attempt 2 timed out after 5000 ms' } })
    const finish = sim.actions('finish')[0]
    expect(finish?.error).toMatchObject({ step: 'slow', error: { type: 'StepTimeout' } })
    const report = describeRun(sim.workflow, sim.state, sim.now)
    expect(report.steps.map((s) => [s.id, s.status, s.reason])).toEqual([
      ['slow', 'failed', undefined],
      ['next', 'cancelled', 'run_failed'],
    ])
  })

  it('fails fast: a failure cancels pending and in-flight steps', () => {
    const sim = new Simulation(`
workflow:
  name: ff
  steps:
    - { id: a, runner: hero }
    - { id: slow, runner: hero }
    - { id: b, runner: hero, depends_on: [a] }
`)
    sim.on('a', () => ({ error: { message: 'bad input', nonRetryable: true } })).on('slow', () => 'hang')
    sim.plan()
    sim.settle()
    const p = sim.plan()
    expect(p.status).toBe('failed')
    expect(p.actions).toEqual([
      { type: 'cancel', step: 'slow', attempt: 1, reason: 'run_failed', jobId: 'run1/slow/1' },
      { type: 'cancel', step: 'b', attempt: 1, reason: 'run_failed', jobId: undefined },
      expect.objectContaining({
        type: 'finish',
        status: 'failed',
        error: { step: 'a', error: { message: 'bad input', nonRetryable: true } },
      }),
    ])
  })

  it('with continue_on_failure, skips dependents as upstream_failed and completes the run', () => {
    const sim = new Simulation(`
workflow:
  name: cof
  steps:
    - { id: optional, runner: hero, continue_on_failure: true }
    - { id: uses, runner: sal, depends_on: [optional] }
    - { id: transitive, runner: sal, depends_on: [uses] }
    - { id: independent, runner: sal }
`)
    sim.on('optional', () => ({ error: { message: 'meh' } }))
    expect(sim.runToEnd().status).toBe('completed')
    const report = describeRun(sim.workflow, sim.state, sim.now)
    expect(report.steps.map((s) => [s.id, s.status, s.reason])).toEqual([
      ['optional', 'failed', undefined],
      ['independent', 'succeeded', undefined],
      ['uses', 'skipped', 'upstream_failed'],
      ['transitive', 'skipped', 'upstream_failed'],
    ])
  })
})

describe('plan: conditions', () => {
  const CONDITIONAL = `
workflow:
  name: cond
  inputs:
    mode: { default: fast }
  steps:
    - { id: check, runner: hero }
    - id: deep
      runner: sal
      depends_on: [check]
      when: inputs.mode == "thorough" || steps.check.output.score < 5
    - { id: report, runner: osiris, depends_on: [deep] }
    - id: fallback
      runner: osiris
      depends_on: [deep]
      when: steps.deep.status == "skipped"
`

  it('skips a step whose when is false; its dependents still run with a null input', () => {
    const sim = new Simulation(CONDITIONAL)
    sim
      .on('check', () => ({ result: { score: 9 } }))
      .on('report', (job) => ({ result: { input: job.input } }))
    expect(sim.runToEnd().status).toBe('completed')
    const report = describeRun(sim.workflow, sim.state, sim.now)
    expect(report.steps.map((s) => [s.id, s.status, s.reason])).toEqual([
      ['check', 'succeeded', undefined],
      ['deep', 'skipped', 'condition'],
      ['report', 'succeeded', undefined],
      ['fallback', 'succeeded', undefined],
    ])
    expect(report.steps[2]?.output).toEqual({ input: { deep: null } })
  })

  it('runs the step when the condition holds (inputs or upstream output)', () => {
    const byInput = new Simulation(CONDITIONAL, { mode: 'thorough' })
    byInput.on('check', () => ({ result: { score: 9 } }))
    byInput.runToEnd()
    expect(byInput.dispatched.map((d) => d.step)).toEqual(['check', 'deep', 'report'])
    const byOutput = new Simulation(CONDITIONAL)
    byOutput.on('check', () => ({ result: { score: 1 } }))
    byOutput.runToEnd()
    expect(describeRun(byOutput.workflow, byOutput.state, byOutput.now).steps[3]).toMatchObject({
      status: 'skipped',
      reason: 'condition',
    })
  })
})

describe('plan: cancel and pause', () => {
  it('cancel mid-run cancels in-flight jobs and pending steps, then finishes once', () => {
    const sim = new Simulation(DIAMOND)
    sim.plan()
    sim.settle()
    sim.plan() // b and c dispatched
    cancelRun(sim.state, sim.clock.now(), 'user asked')
    const p = sim.plan()
    expect(p.status).toBe('cancelled')
    expect(p.actions).toEqual([
      { type: 'cancel', step: 'b', attempt: 1, reason: 'run_cancelled', jobId: 'run1/b/1' },
      { type: 'cancel', step: 'c', attempt: 1, reason: 'run_cancelled', jobId: 'run1/c/1' },
      { type: 'cancel', step: 'd', attempt: 1, reason: 'run_cancelled', jobId: undefined },
      expect.objectContaining({ type: 'finish', status: 'cancelled' }),
    ])
    // A late result of a cancelled attempt is ignored.
    expect(
      recordJobUpdate(
        sim.workflow,
        sim.state,
        { type: 'succeeded', step: 'b', attempt: 1, result: 1 },
        sim.clock.now(),
      ),
    ).toBeUndefined()
    expect(sim.plan().actions).toEqual([])
    expect(describeRun(sim.workflow, sim.state, sim.now).status).toBe('cancelled')
  })

  it('pause dispatches nothing new while running steps finish; resume continues', () => {
    const sim = new Simulation(DIAMOND)
    sim.plan()
    setRunPaused(sim.state, sim.clock.now(), true)
    sim.settle() // a finishes while paused
    const paused = sim.plan()
    expect(paused.status).toBe('paused')
    expect(paused.actions).toEqual([])
    expect(describeRun(sim.workflow, sim.state, sim.now).counts.ready).toBe(2)
    setRunPaused(sim.state, sim.clock.now(), false)
    expect(sim.plan().actions.map((a) => a.type === 'dispatch' && a.step)).toEqual(['b', 'c'])
    expect(sim.runToEnd().status).toBe('completed')
  })
})

describe('plan: replicas and takeover', () => {
  it('a second coordinator finishes the run from replicated state without re-running finished steps', () => {
    const sim = new Simulation(DIAMOND)
    sim.plan()
    sim.settle() // a succeeded on the first owner
    sim.plan() // b, c dispatched by the first owner, which then dies

    const replica = RunState.fromJSON(JSON.parse(JSON.stringify(sim.state.toJSON())))
    const workflow = compileWorkflow(replica.meta?.workflow)
    const clock = new Hlc('c2', { now: () => sim.now })
    clock.receive(replica.maxHlc as string)
    // Ordinary planning leaves attempts in flight alone; after a takeover the new owner re-sends
    // them under the same job ids, so supervisors recognise the duplicates and report to it.
    expect(plan(workflow, replica, sim.now).actions).toEqual([])
    const resend = plan(workflow, replica, sim.now, { redispatchInFlight: true }).actions
    expect(resend.map((a) => a.type === 'dispatch' && [a.jobId, a.input])).toEqual([
      ['run1/b/1', { a: 'a#1' }],
      ['run1/c/1', { a: 'a#1' }],
    ])
    for (const action of resend) commitAction(replica, action, clock.now())
    expect(replica.step('b')?.dispatchedAt).toBe(sim.state.step('b')?.dispatchedAt)
    expect(obsoleteJobs(replica, ['run1/b/1', 'run1/c/1'])).toEqual([])
    for (const step of ['b', 'c']) {
      recordJobUpdate(workflow, replica, { type: 'succeeded', step, attempt: 1, result: step }, clock.now())
    }
    const next = plan(workflow, replica, sim.now)
    expect(next.actions).toEqual([
      expect.objectContaining({ step: 'd', jobId: 'run1/d/1', input: { b: 'b', c: 'c' } }),
    ])
    for (const action of next.actions) commitAction(replica, action, clock.now())
    recordJobUpdate(
      workflow,
      replica,
      { type: 'succeeded', step: 'd', attempt: 1, result: 'done' },
      clock.now(),
    )
    expect(plan(workflow, replica, sim.now).status).toBe('completed')
    const succeeded = replica
      .log()
      .filter((e) => e.type === 'step_succeeded')
      .map((e) => e.step)
    expect(succeeded.sort()).toEqual(['a', 'b', 'c', 'd'])
  })

  it('partitioned replicas (cancel on one side, results on the other) converge to the same cancelled run', () => {
    const sim = new Simulation(DIAMOND)
    sim.plan()
    sim.settle() // a succeeded
    const sideA = RunState.fromJSON(sim.state.toJSON())
    const sideB = RunState.fromJSON(sim.state.toJSON())
    const workflow = sim.workflow
    const clockA = new Hlc('coord-a', { now: () => sim.now })
    const clockB = new Hlc('coord-b', { now: () => sim.now + 5 })
    clockA.receive(sim.state.maxHlc as string)
    clockB.receive(sim.state.maxHlc as string)

    // Side A: a user cancels; A's plan cancels the pending steps.
    cancelRun(sideA, clockA.now(), 'stop')
    for (const action of plan(workflow, sideA, sim.now).actions) commitAction(sideA, action, clockA.now())
    // Side B: keeps running b and c to completion and dispatches d.
    for (const action of plan(workflow, sideB, sim.now).actions) commitAction(sideB, action, clockB.now())
    for (const step of ['b', 'c']) {
      recordJobUpdate(workflow, sideB, { type: 'succeeded', step, attempt: 1, result: step }, clockB.now())
    }
    for (const action of plan(workflow, sideB, sim.now).actions) commitAction(sideB, action, clockB.now())
    expect(sideB.step('d')?.phase).toBe('dispatched')

    // Heal by anti-entropy.
    sideA.merge(sideB.deltaFor(sideA.digest()))
    sideB.merge(sideA.deltaFor(sideB.digest()))
    expect(sideA.equals(sideB)).toBe(true)
    const [planA, planB] = [plan(workflow, sideA, sim.now), plan(workflow, sideB, sim.now)]
    expect(planA).toEqual(planB)
    expect(planA.status).toBe('cancelled')
    // A's cancel of d (attempt 1, terminal) absorbed B's dispatch of the same attempt; the
    // coordinator that sent the job learns from `obsoleteJobs` that it must cancel it.
    expect(planA.actions).toEqual([])
    expect(sideA.step('d')).toMatchObject({ phase: 'cancelled', reason: 'run_cancelled' })
    expect(obsoleteJobs(sideB, ['run1/d/1', 'other/x/1', 'garbage'])).toEqual(['run1/d/1'])
    expect(describeRun(workflow, sideA, sim.now).counts).toMatchObject({ succeeded: 3, cancelled: 1 })
  })
})
