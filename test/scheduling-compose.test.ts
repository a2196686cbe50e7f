import { describe, expect, it } from 'vitest'
import { describeRun } from '../src/roles/coordinator/scheduling/index.js'
import { compileWorkflow } from '../src/roles/coordinator/workflow/index.js'
import { Simulation } from './scheduling-fixture.js'

const PARENT = `
workflow:
  name: parent
  inputs:
    url: { required: true }
    run_etl: { default: true }
  outputs:
    stored: steps.etl.output.result
  steps:
    - { id: prepare, runner: hero }
    - id: etl
      workflow: extract-load
      depends_on: [prepare]
      when: inputs.run_etl
      with:
        source: inputs.url
        token: steps.prepare.output
    - { id: notify, runner: sal, depends_on: [etl] }
workflows:
  extract-load:
    name: extract-load
    inputs:
      source: { required: true }
      token: null
      mode: { default: full }
    outputs:
      result: steps.load.output
      src: inputs.source
    steps:
      - { id: extract, runner: hero, payload: "!!http.get" }
      - { id: load, runner: osiris, depends_on: [extract] }
`

describe('composition: a step that runs another workflow', () => {
  it('runs the child steps in place and exposes the child outputs as the step output', () => {
    const sim = new Simulation(PARENT, { url: 'http://x' })
    sim.on('prepare', () => ({ result: 'tok' }))
    sim.on('etl.extract', () => ({ result: { rows: 3 } }))
    sim.on('etl.load', (job) => ({ result: { loaded: job.input } }))
    sim.on('notify', (job) => ({ result: job.input }))
    const end = sim.runToEnd()
    expect(end.status).toBe('completed')
    expect(sim.dispatched.map((d) => [d.jobId, d.input])).toEqual([
      ['run1/prepare/1', {}],
      ['run1/etl.extract/1', {}],
      ['run1/etl.load/1', { extract: { rows: 3 } }],
      ['run1/notify/1', { etl: { result: { loaded: { extract: { rows: 3 } } }, src: 'http://x' } }],
    ])
    expect(end.outputs).toEqual({ stored: { loaded: { extract: { rows: 3 } } } })
    expect(sim.actions('complete')).toEqual([
      {
        type: 'complete',
        step: 'etl',
        attempt: 1,
        output: { result: { loaded: { extract: { rows: 3 } } }, src: 'http://x' },
        message: 'step "etl" succeeded',
      },
    ])
  })

  it('a failing child fails the workflow step, which fails the run (fail-fast)', () => {
    const sim = new Simulation(PARENT, { url: 'u' })
    sim.on('etl.load', () => ({ error: { message: 'disk full' } }))
    const end = sim.runToEnd()
    expect(end.status).toBe('failed')
    expect(end.error).toMatchObject({
      step: 'etl',
      error: { type: 'ChildStepFailed', message: 'step "load" of workflow "extract-load" failed: disk full' },
    })
    const report = describeRun(sim.workflow, sim.state, sim.now)
    expect(report.steps.map((s) => [s.id, s.status, s.reason])).toEqual([
      ['prepare', 'succeeded', undefined],
      ['etl.extract', 'succeeded', undefined],
      ['etl.load', 'failed', undefined],
      ['etl', 'failed', undefined],
      ['notify', 'cancelled', 'run_failed'],
    ])
  })

  it('with continue_on_failure on the workflow step, its dependents are skipped and the run completes', () => {
    const source = PARENT.replace(
      '      when: inputs.run_etl\n',
      '      when: inputs.run_etl\n      continue_on_failure: true\n',
    )
    const sim = new Simulation(source, { url: 'u' })
    sim.on('etl.extract', () => ({ error: { message: 'timeout talking to api' } }))
    expect(sim.runToEnd().status).toBe('completed')
    const report = describeRun(sim.workflow, sim.state, sim.now)
    expect(report.steps.map((s) => [s.id, s.status, s.reason])).toEqual([
      ['prepare', 'succeeded', undefined],
      ['etl.extract', 'failed', undefined],
      ['etl.load', 'cancelled', 'parent_failed'],
      ['etl', 'failed', undefined],
      ['notify', 'skipped', 'upstream_failed'],
    ])
  })

  it('a workflow step whose when is false skips all its children; its dependents still run', () => {
    const sim = new Simulation(PARENT, { url: 'u', run_etl: false })
    expect(sim.runToEnd().status).toBe('completed')
    expect(sim.dispatched.map((d) => d.step)).toEqual(['prepare', 'notify'])
    const report = describeRun(sim.workflow, sim.state, sim.now)
    expect(report.steps.map((s) => [s.id, s.status, s.reason])).toEqual([
      ['prepare', 'succeeded', undefined],
      ['etl.extract', 'skipped', 'parent_skipped'],
      ['etl.load', 'skipped', 'parent_skipped'],
      ['etl', 'skipped', 'condition'],
      ['notify', 'succeeded', undefined],
    ])
    expect(sim.dispatched[1]?.input).toEqual({ etl: null })
  })

  it('nested compositions expand with dotted ids and finish inside-out', () => {
    const sim = new Simulation(
      compileWorkflow({
        workflow: {
          name: 'outer',
          steps: [
            {
              id: 'mid',
              workflow: {
                name: 'middle',
                outputs: { v: 'steps.inner.output.v' },
                steps: [
                  {
                    id: 'inner',
                    workflow: {
                      name: 'leaf',
                      outputs: { v: 'steps.job.output' },
                      steps: [{ id: 'job', runner: 'sal' }],
                    },
                  },
                ],
              },
            },
          ],
        },
      }),
    )
    const end = sim.runToEnd()
    expect(end.status).toBe('completed')
    expect(sim.dispatched.map((d) => d.jobId)).toEqual(['run1/mid.inner.job/1'])
    expect(sim.actions('complete').map((c) => [c.step, c.output])).toEqual([
      ['mid.inner', { v: 'mid.inner.job#1' }],
      ['mid', { v: 'mid.inner.job#1' }],
    ])
  })
})
