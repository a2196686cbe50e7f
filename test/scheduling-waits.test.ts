import { describe, expect, it } from 'vitest'
import {
  describeRun,
  plan,
  SignalAlreadyDeliveredError,
  SignalDataInvalidError,
  UnknownSignalError,
} from '../src/roles/coordinator/scheduling/index.js'
import { Simulation } from './scheduling-fixture.js'

const SLEEPY = `
workflow:
  name: sleepy
  steps:
    - { id: a, runner: hero }
    - { id: nap, sleep: 30s, depends_on: [a] }
    - { id: b, runner: hero, depends_on: [nap] }
`

const APPROVAL = `
workflow:
  name: approval
  outputs: { decision: steps.approve.output }
  steps:
    - { id: build, runner: hero }
    - { id: approve, wait_for_signal: release, depends_on: [build], timeout: 1h }
    - { id: ship, runner: hero, depends_on: [approve] }
`

describe('sleep: a durable timer step', () => {
  it('waits its duration without dispatching a job, then lets dependents run', () => {
    const sim = new Simulation(SLEEPY)
    sim.plan()
    sim.settle()
    const started = sim.plan()
    expect(started.actions).toEqual([
      expect.objectContaining({ type: 'start', step: 'nap', message: 'step "nap" sleeps 30000 ms' }),
    ])
    expect(started.wakeAt).toBe(sim.now + 30_000)
    expect(sim.plan().actions).toEqual([])
    sim.now += 29_999
    expect(sim.plan().actions).toEqual([])
    sim.now += 1
    expect(sim.plan().actions.map((a) => [a.type, 'step' in a ? a.step : undefined])).toEqual([
      ['complete', 'nap'],
      ['dispatch', 'b'],
    ])
    expect(sim.dispatched.map((d) => d.step)).toEqual(['a', 'b'])
  })

  it('survives a takeover: the new owner wakes at the same time from the replicated state', () => {
    const sim = new Simulation(SLEEPY)
    sim.plan()
    sim.settle()
    sim.plan() // nap starts
    sim.now += 10_000
    const taker = sim.replica('c2')
    const resumed = plan(taker.workflow, taker.state, taker.now, { redispatchInFlight: true })
    expect(resumed.actions).toEqual([])
    expect(resumed.wakeAt).toBe(sim.now + 20_000)
    taker.now = resumed.wakeAt as number
    expect(taker.runToEnd().status).toBe('completed')
  })
})

describe('wait_for_signal: a step completed from outside', () => {
  it('waits for the signal; its output is the data; dependents then run', () => {
    const sim = new Simulation(APPROVAL)
    sim.plan()
    sim.settle()
    expect(sim.plan().actions).toEqual([
      expect.objectContaining({
        type: 'start',
        step: 'approve',
        message: 'step "approve" waits for signal "release"',
      }),
    ])
    expect(describeRun(sim.workflow, sim.state, sim.now).steps[1]?.status).toBe('running')
    sim.signal('release', { approved: true, by: 'alice' })
    const end = sim.runToEnd()
    expect(end.status).toBe('completed')
    expect(end.outputs).toEqual({ decision: { approved: true, by: 'alice' } })
    expect(sim.dispatched.find((d) => d.step === 'ship')?.input).toEqual({
      approve: { approved: true, by: 'alice' },
    })
  })

  it('a signal sent before the step waits is kept, and completes it as soon as it starts', () => {
    const sim = new Simulation(APPROVAL)
    sim.signal('release', 'early')
    sim.on('build', () => ({ result: 1 }))
    const end = sim.runToEnd()
    expect(end.outputs).toEqual({ decision: 'early' })
    expect(sim.actions('start')).toEqual([])
  })

  it('its timeout fails the step with SignalTimeout', () => {
    const sim = new Simulation(APPROVAL)
    const end = sim.runToEnd()
    expect(end.status).toBe('failed')
    expect(end.error).toEqual({
      step: 'approve',
      error: { type: 'SignalTimeout', message: 'no signal "release" within 3600000 ms' },
    })
    expect(sim.actions('timeout')).toEqual([expect.objectContaining({ step: 'approve', jobId: undefined })])
  })

  it('refuses an unknown signal, a second delivery and data that is not JSON, saying why', () => {
    const sim = new Simulation(APPROVAL)
    expect(() => sim.signal('relase', 1)).toThrow(UnknownSignalError)
    expect(() => sim.signal('relase', 1)).toThrow(
      'run "run1" has no step waiting for signal "relase" (it waits for: release)',
    )
    sim.signal('release', 1)
    expect(() => sim.signal('release', 2)).toThrow(SignalAlreadyDeliveredError)
    const other = new Simulation(APPROVAL)
    expect(() => other.signal('release', Number.NaN)).toThrow(SignalDataInvalidError)
  })

  it('a signal delivered on another coordinator reaches the owner by merge', () => {
    const owner = new Simulation(APPROVAL)
    owner.plan()
    owner.settle()
    owner.plan()
    const elsewhere = owner.replica('c2')
    elsewhere.signal('release', 'from c2')
    owner.state.merge(elsewhere.state)
    expect(owner.runToEnd().outputs).toEqual({ decision: 'from c2' })
  })
})
