import { describe, expect, it } from 'vitest'
import {
  describeRun,
  NothingToRetryError,
  RunNotFinishedError,
  UnknownStepError,
} from '../src/roles/coordinator/scheduling/index.js'
import { Simulation } from './scheduling-fixture.js'

const PIPELINE = `
workflow:
  name: pipeline
  outputs: { stored: steps.store.output }
  steps:
    - { id: fetch, runner: hero }
    - { id: side, runner: hero }
    - { id: process, runner: sal, depends_on: [fetch], retry: { max_attempts: 2, initial_delay: 1s } }
    - { id: store, runner: osiris, depends_on: [process, side] }
`

describe('retry_workflow: rerun from the failed step', () => {
  it('reruns failed, cancelled and skipped steps; succeeded ones keep their outputs and are not run again', () => {
    const sim = new Simulation(PIPELINE)
    let broken = true
    sim.on('fetch', () => ({ result: 'data' }))
    sim.on('process', (job) =>
      broken ? { error: { message: `bug (attempt ${job.attempt})` } } : { result: `${job.input.fetch}+` },
    )
    sim.on('store', (job) => ({ result: job.input }))
    const failed = sim.runToEnd()
    expect(failed.status).toBe('failed')
    expect(failed.error).toMatchObject({ step: 'process', error: { message: 'bug (attempt 2)' } })

    broken = false
    const { reset } = sim.retry()
    expect(reset).toEqual(['process', 'store'])
    expect(sim.state.epoch).toBe(1)
    expect(describeRun(sim.workflow, sim.state, sim.now).status).toBe('running')
    const before = sim.dispatched.length
    const end = sim.runToEnd()
    expect(end.status).toBe('completed')
    expect(end.outputs).toEqual({ stored: { process: 'data+', side: 'side#1' } })
    // Only the failed step and what it blocked ran again; fetch and side kept their outputs.
    expect(sim.dispatched.slice(before).map((d) => d.jobId)).toEqual(['run1/process/3', 'run1/store/2'])
    // A fresh series: attempt 3 is the first of a new budget of two.
    expect(sim.state.step('process')).toMatchObject({ attempt: 3, base: 3, phase: 'succeeded' })
    // History keeps the earlier attempts and both outcomes.
    const types = sim.state
      .log()
      .filter((e) => e.kind === 'event')
      .map((e) => e.type)
    expect(types.filter((t) => t === 'workflow_failed')).toHaveLength(1)
    expect(types.filter((t) => t === 'workflow_retried')).toHaveLength(1)
    expect(types.filter((t) => t === 'workflow_completed')).toHaveLength(1)
    expect(sim.state.log().filter((e) => e.step === 'process' && e.type === 'step_failed')).toHaveLength(2)
  })

  it('gives the rerun a fresh retry budget', () => {
    const sim = new Simulation(PIPELINE)
    sim.on('process', () => ({ error: { message: 'always' } }))
    sim.runToEnd()
    sim.retry()
    const end = sim.runToEnd()
    expect(end.status).toBe('failed')
    expect(sim.dispatched.filter((d) => d.step === 'process').map((d) => d.attempt)).toEqual([1, 2, 3, 4])
  })

  it('with steps: reruns those steps whatever their state, and everything downstream of them', () => {
    const sim = new Simulation(PIPELINE)
    let version = 1
    sim.on('fetch', () => ({ result: `v${version}` }))
    sim.on('process', (job) => ({ result: job.input.fetch }))
    sim.on('store', (job) => ({ result: job.input.process }))
    expect(sim.runToEnd().outputs).toEqual({ stored: 'v1' })
    version = 2
    expect(sim.retry(['fetch']).reset).toEqual(['fetch', 'process', 'store'])
    expect(sim.runToEnd().outputs).toEqual({ stored: 'v2' })
    expect(sim.dispatched.filter((d) => d.step === 'side')).toHaveLength(1)
  })

  it('retries a cancelled run: the cancel of the earlier epoch no longer applies', () => {
    const sim = new Simulation(PIPELINE)
    sim.on('fetch', () => 'hang')
    sim.plan()
    sim.cancel('oops')
    expect(sim.runToEnd().status).toBe('cancelled')
    sim.behaviours.delete('fetch')
    sim.retry()
    expect(sim.state.cancelled).toBeUndefined()
    expect(sim.runToEnd().status).toBe('completed')
  })

  it('a for_each step reruns only its failed children', () => {
    const sim = new Simulation(`
workflow:
  name: fan
  steps:
    - { id: split, runner: hero }
    - { id: each, runner: sal, depends_on: [split], for_each: steps.split.output, continue_on_failure: true }
`)
    let bad = new Set([1, 3])
    sim.on('split', () => ({ result: [0, 1, 2, 3] }))
    sim.on('each', (job) =>
      bad.has(job.input.index as number) ? { error: { message: 'no' } } : { result: job.input.item },
    )
    expect(sim.runToEnd().status).toBe('completed')
    expect(describeRun(sim.workflow, sim.state, sim.now).steps[1]?.status).toBe('failed')
    bad = new Set()
    const before = sim.dispatched.length
    expect(sim.retry().reset).toEqual(['each', 'each[1]', 'each[3]'])
    const end = sim.runToEnd()
    expect(end.status).toBe('completed')
    expect(sim.dispatched.slice(before).map((d) => d.jobId)).toEqual(['run1/each[1]/2', 'run1/each[3]/2'])
    expect(describeRun(sim.workflow, sim.state, sim.now).steps[1]).toMatchObject({
      status: 'succeeded',
      output: [0, 1, 2, 3],
    })
  })

  it('on_failure steps run again if the rerun fails again', () => {
    const sim = new Simulation(`
workflow:
  name: guarded
  steps:
    - { id: a, runner: sal }
  on_failure:
    - { id: alert, runner: hero }
`)
    sim.on('a', () => ({ error: { message: 'x' } }))
    sim.runToEnd()
    expect(sim.retry().reset).toEqual(['a', 'alert'])
    expect(sim.runToEnd().status).toBe('failed')
    expect(sim.dispatched.map((d) => d.jobId)).toEqual([
      'run1/a/1',
      'run1/alert/1',
      'run1/a/2',
      'run1/alert/2',
    ])
  })

  it('refuses a run still going, a run with nothing to rerun, and unknown steps', () => {
    const running = new Simulation(PIPELINE)
    running.on('fetch', () => 'hang')
    running.plan()
    expect(() => running.retry()).toThrow(RunNotFinishedError)
    const done = new Simulation(PIPELINE)
    done.runToEnd()
    expect(() => done.retry()).toThrow(NothingToRetryError)
    expect(() => done.retry(['fech'])).toThrow(UnknownStepError)
  })
})
