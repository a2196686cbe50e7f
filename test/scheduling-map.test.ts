import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  commitAction,
  type DispatchAction,
  describeRun,
  plan,
  recordJobUpdate,
} from '../src/roles/coordinator/scheduling/index.js'
import { Simulation } from './scheduling-fixture.js'

const MAP = (extra = '', splitOutput = '') => `
workflow:
  name: mapper
  outputs:
    all: steps.each.output
    joined: steps.join.output
  steps:
    - { id: split, runner: hero${splitOutput} }
    - id: each
      runner: sal
      depends_on: [split]
      for_each: steps.split.output
      payload: "input.item * 2"
${extra}
    - { id: join, runner: sal, depends_on: [each] }
`

describe('for_each: one child task per element', () => {
  it('maps over a list known only at run time; children see item and index; the output keeps the order', () => {
    const sim = new Simulation(MAP())
    sim.on('split', () => ({ result: [10, 20, 30] }))
    sim.on('each', (job) => ({
      result: { doubled: (job.input.item as number) * 2, at: job.input.index ?? null },
    }))
    sim.on('join', (job) => ({ result: job.input.each }))
    const end = sim.runToEnd()
    expect(end.status).toBe('completed')
    const children = sim.dispatched.filter((d) => d.step.startsWith('each['))
    // A child gets its element, not its step's dependencies (the list would be copied N times).
    expect(children.map((d) => [d.jobId, d.input])).toEqual([
      ['run1/each[0]/1', { item: 10, index: 0 }],
      ['run1/each[1]/1', { item: 20, index: 1 }],
      ['run1/each[2]/1', { item: 30, index: 2 }],
    ])
    const expected = [
      { doubled: 20, at: 0 },
      { doubled: 40, at: 1 },
      { doubled: 60, at: 2 },
    ]
    expect(end.outputs).toEqual({ all: expected, joined: expected })
    const report = describeRun(sim.workflow, sim.state, sim.now)
    const each = report.steps.find((s) => s.id === 'each')
    expect(each).toMatchObject({
      status: 'succeeded',
      output: expected,
      items: { total: 3, counts: { succeeded: 3 } },
    })
    // The parent stores no copy of its children's results.
    expect(sim.state.step('each')?.result).toBeUndefined()
    expect(sim.actions('start')).toEqual([
      expect.objectContaining({ step: 'each', items: 3, message: 'step "each" maps over 3 items' }),
    ])
  })

  it('an empty list gives [] and succeeds without dispatching anything', () => {
    const sim = new Simulation(MAP())
    sim.on('split', () => ({ result: [] }))
    const end = sim.runToEnd()
    expect(end.status).toBe('completed')
    expect(end.outputs).toMatchObject({ all: [] })
    expect(sim.dispatched.map((d) => d.step)).toEqual(['split', 'join'])
    expect(sim.dispatched[1]?.input).toEqual({ each: [] })
  })

  it('a value that is not a list fails the step with a clear error', () => {
    const sim = new Simulation(MAP())
    sim.on('split', () => ({ result: { not: 'a list' } }))
    const end = sim.runToEnd()
    expect(end.status).toBe('failed')
    expect(end.error).toEqual({
      step: 'each',
      error: {
        type: 'ForEachInvalid',
        message: 'for_each: expected a list, got {"not":"a list"}',
        nonRetryable: true,
      },
    })
  })

  it('max_parallel bounds the children in flight; the rest start as slots free up', () => {
    const sim = new Simulation(MAP('      max_parallel: 2'))
    sim.on('split', () => ({ result: [1, 2, 3, 4, 5] }))
    sim.plan()
    sim.settle()
    const first = sim.plan()
    expect(first.actions.filter((a) => a.type === 'dispatch').map((a) => (a as DispatchAction).step)).toEqual(
      ['each[0]', 'each[1]'],
    )
    expect(describeRun(sim.workflow, sim.state, sim.now).steps[1]?.items?.counts).toEqual({
      dispatched: 2,
      pending: 3,
    })
    sim.settle()
    const second = sim.plan()
    expect(
      second.actions.filter((a) => a.type === 'dispatch').map((a) => (a as DispatchAction).step),
    ).toEqual(['each[2]', 'each[3]'])
    expect(sim.runToEnd().status).toBe('completed')
  })

  it('retries and timeouts apply per child, with the step’s policy', () => {
    const sim = new Simulation(MAP('      timeout: 5s\n      retry: { max_attempts: 2, initial_delay: 1s }'))
    sim.on('split', () => ({ result: ['a', 'b', 'c'] }))
    sim.on('each', (job) => {
      if (job.step === 'each[1]' && job.attempt === 1) return { error: { message: 'flaky' } }
      if (job.step === 'each[2]' && job.attempt === 1) return 'hang'
      return { result: `${job.input.item}!` }
    })
    const end = sim.runToEnd()
    expect(end.status).toBe('completed')
    expect(end.outputs?.all).toEqual(['a!', 'b!', 'c!'])
    expect(sim.actions('retry').map((a) => [a.step, a.attempt])).toEqual([
      ['each[1]', 2],
      ['each[2]', 2],
    ])
    expect(sim.actions('timeout').map((a) => [a.step, a.jobId])).toEqual([['each[2]', 'run1/each[2]/1']])
  })

  it('a child that fails for good fails the step and the run (fail-fast cancels its siblings in flight)', () => {
    const sim = new Simulation(MAP())
    sim.on('split', () => ({ result: [1, 2, 3] }))
    sim.on('each', (job) => (job.step === 'each[1]' ? { error: { message: 'bad item' } } : 'hang'))
    const end = sim.runToEnd()
    expect(end.status).toBe('failed')
    expect(end.error).toEqual({
      step: 'each',
      error: { type: 'MapItemFailed', message: 'item 1 of 3 of step "each" failed: bad item' },
    })
    expect(sim.actions('cancel').map((a) => [a.step, a.reason, a.jobId])).toEqual([
      ['each[0]', 'parent_failed', 'run1/each[0]/1'],
      ['each[2]', 'parent_failed', 'run1/each[2]/1'],
      ['join', 'run_failed', undefined],
    ])
  })

  it('with continue_on_failure the other children finish; the step then fails and dependents are skipped', () => {
    const sim = new Simulation(MAP('      continue_on_failure: true'))
    sim.on('split', () => ({ result: [1, 2, 3, 4] }))
    sim.on('each', (job) =>
      job.step === 'each[0]' || job.step === 'each[2]'
        ? { error: { message: `no ${job.input.item}` } }
        : { result: 1 },
    )
    const end = sim.runToEnd()
    expect(end.status).toBe('completed')
    const report = describeRun(sim.workflow, sim.state, sim.now)
    expect(report.steps.map((s) => [s.id, s.status, s.reason])).toEqual([
      ['split', 'succeeded', undefined],
      ['each', 'failed', undefined],
      ['join', 'skipped', 'upstream_failed'],
    ])
    expect(report.steps[1]?.error?.message).toBe('item 0 of 4 of step "each" failed: no 1 (and 1 more)')
    expect(report.steps[1]?.items?.counts).toEqual({ failed: 2, succeeded: 2 })
  })

  it('a coordinator taking the run over continues the children where the first one stopped', () => {
    const sim = new Simulation(MAP('      max_parallel: 3'))
    sim.on('split', () => ({ result: [0, 1, 2, 3, 4, 5] }))
    sim.plan()
    sim.settle()
    sim.plan() // dispatches each[0..2]
    sim.settle() // they succeed, but the owner dies before planning again
    const taker = sim.replica('c2')
    const resumed = plan(taker.workflow, taker.state, taker.now, { redispatchInFlight: true })
    expect(
      resumed.actions.filter((a) => a.type === 'dispatch').map((a) => (a as DispatchAction).step),
    ).toEqual(['each[3]', 'each[4]', 'each[5]'])
    for (const action of resumed.actions) commitAction(taker.state, action, taker.clock.now())
    for (const action of resumed.actions) {
      if (action.type !== 'dispatch') continue
      recordJobUpdate(
        taker.workflow,
        taker.state,
        { type: 'succeeded', step: action.step, attempt: 1, result: action.input.item as number },
        taker.clock.now(),
      )
    }
    const end = taker.runToEnd()
    expect(end.status).toBe('completed')
    expect(end.outputs?.all).toEqual(['each[0]#1', 'each[1]#1', 'each[2]#1', 3, 4, 5])
  })

  it('refuses a job report for a child that does not exist', () => {
    const sim = new Simulation(MAP())
    expect(() =>
      recordJobUpdate(
        sim.workflow,
        sim.state,
        { type: 'started', step: 'split[0]', attempt: 1 },
        sim.clock.now(),
      ),
    ).toThrow(/no step "split\[0\]"/)
    expect(() =>
      recordJobUpdate(
        sim.workflow,
        sim.state,
        { type: 'started', step: 'each', attempt: 1 },
        sim.clock.now(),
      ),
    ).toThrow(/no step "each"/)
  })

  it('maps over 10,000 elements', () => {
    const sim = new Simulation(MAP('      max_parallel: 500'))
    const list = Array.from({ length: 10_000 }, (_, i) => i)
    sim.on('split', () => ({ result: list }))
    sim.on('each', (job) => ({ result: job.input.index }))
    const end = sim.runToEnd()
    expect(end.status).toBe('completed')
    expect(end.outputs?.all).toEqual(list)
  })

  it('property: the output lists child outputs in element order, whatever order children finish in', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer(), { maxLength: 30 }),
        fc.integer({ min: 1, max: 8 }),
        fc.infiniteStream(fc.nat()),
        (list, maxParallel, picks) => {
          const sim = new Simulation(MAP(`      max_parallel: ${maxParallel}`))
          sim.on('split', () => ({ result: list }))
          sim.plan()
          sim.settle()
          const order = picks[Symbol.iterator]()
          for (let round = 0; round < 10_000; round++) {
            const result = sim.plan()
            if (result.status === 'completed') break
            const pending = sim.inFlight
            if (pending.length === 0) continue
            // Finish one in-flight job chosen at random: completion order is arbitrary.
            const job = pending.splice(
              (order.next().value as number) % pending.length,
              1,
            )[0] as DispatchAction
            const output =
              job.step === 'join'
                ? 'joined'
                : { item: job.input.item ?? null, index: job.input.index ?? null }
            recordJobUpdate(
              sim.workflow,
              sim.state,
              { type: 'succeeded', step: job.step, attempt: job.attempt, result: output },
              sim.clock.now(),
            )
          }
          const end = plan(sim.workflow, sim.state, sim.now)
          expect(end.status).toBe('completed')
          expect(end.outputs?.all).toEqual(list.map((item, index) => ({ item, index })))
        },
      ),
      { numRuns: 150 },
    )
  })
})
