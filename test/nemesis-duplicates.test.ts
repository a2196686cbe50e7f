/** Which repeated effects the faults explain (the nemesis suite's accounting, duplicates.ts). */
import { describe, expect, it } from 'vitest'
import { countDuplicates, effectKey } from '../src/testing/nemesis/duplicates.js'

const slackMs = 1_000

describe('duplicate effects and the faults that explain them', () => {
  it('groups a step across its attempts, an ad-hoc job by its id', () => {
    expect(effectKey('run-1/s2/3')).toBe('run-1/s2')
    expect(effectKey('abc.def')).toBe('abc.def')
  })

  it('explains a re-execution only by a fault of a node that ran an earlier one, in between', () => {
    const executions = [
      { jobId: 'r/a/1', node: 'w1', at: 10_000 },
      { jobId: 'r/a/1', node: 'w2', at: 20_000 },
      { jobId: 'r/b/1', node: 'w1', at: 10_000 },
      { jobId: 'r/b/1', node: 'w2', at: 20_000 },
    ]
    // A fault of w1 explains step a's second execution; step b's is put next to a fault of w2
    // only, which ran the later execution: not explained.
    const faults = [{ kind: 'kill', targets: ['w1'], from: 15_000, to: 16_000 }]
    const out = countDuplicates(executions.slice(0, 2), faults, { slackMs })
    expect(out).toMatchObject({ explained: 1, byKind: { kill: 1 }, unexplained: [] })
    const other = countDuplicates(executions.slice(2), [{ ...faults[0], targets: ['w2'] }] as never, {
      slackMs,
    })
    expect(other.explained).toBe(0)
    expect(other.unexplained).toEqual([
      'r/b: r/b/1 on w1 at 1970-01-01T00:00:10.000Z, r/b/1 on w2 at 1970-01-01T00:00:20.000Z',
    ])
    // A fault that ended long before the earlier execution explains nothing.
    const stale = countDuplicates(
      executions.slice(0, 2),
      [{ ...faults[0], from: 1_000, to: 2_000 }] as never,
      {
        slackMs,
      },
    )
    expect(stale.unexplained).toHaveLength(1)
  })

  it('reports re-executions beyond one per faulted execution', () => {
    const executions = [
      { jobId: 'r/a/1', node: 'w1', at: 10_000 },
      { jobId: 'r/a/1', node: 'w2', at: 20_000 },
      { jobId: 'r/a/2', node: 'w2', at: 21_000 },
    ]
    const out = countDuplicates(executions, [{ kind: 'pause', targets: ['w1'], from: 15_000, to: 16_000 }], {
      slackMs,
    })
    expect(out.explained).toBe(2)
    expect(out.beyondOnePerFault).toHaveLength(1)
  })
})
