import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeDigest, formatHlc, RunState, StateDecodeError } from '../src/protocols/state/index.js'

const h = formatHlc({ wall: 1_000, counter: 0, node: 'peer' })

function issuesOf(input: unknown): string[] {
  try {
    RunState.fromJSON(input)
  } catch (err) {
    if (err instanceof StateDecodeError) return err.issues.map((i) => `${i.path}: ${i.message}`)
    throw err
  }
  return []
}

describe('run state decoding (untrusted input)', () => {
  it('accepts a well-formed delta', () => {
    const state = RunState.fromJSON({
      v: 1,
      run: 'run-1',
      steps: { fetch: { attempt: 1, phase: 'succeeded', hlc: h, result: { rows: [1, 2] }, finishedAt: 5 } },
      log: [
        {
          hlc: h,
          kind: 'event',
          type: 'step_succeeded',
          severity: 'info',
          message: 'ok',
          step: 'fetch',
          attempt: 1,
        },
      ],
    })
    expect(state.step('fetch')?.result).toEqual({ rows: [1, 2] })
    expect(state.logSize).toBe(1)
  })

  it('lists every problem with its path', () => {
    expect(
      issuesOf({
        v: 2,
        run: 'a/b',
        extra: true,
        steps: {
          a: { attempt: 0, phase: 'done', hlc: 'yesterday' },
          b: { attempt: 1, phase: 'failed', hlc: h },
          c: { attempt: 1, phase: 'dispatched', hlc: h, result: 1, retryAt: -1 },
        },
        paused: { paused: 'yes', hlc: h },
        lease: { owner: 'x', expiresAt: 1.5, hlc: h },
        log: [{ hlc: h, kind: 'event', type: 'x', severity: 'loud', message: 3 }],
      }),
    ).toEqual([
      '.extra: unknown field',
      'v: expected 1, got 2',
      'run: expected a run id (1-128 of A-Z a-z 0-9 _ . : -), got "a/b"',
      'paused.paused: expected a boolean, got "yes"',
      'lease.expiresAt: expected a non-negative integer (ms), got 1.5',
      'steps["a"].attempt: expected an integer ≥ 1, got 0',
      'steps["a"].phase: expected one of pending, retrying, dispatched, running, succeeded, failed, skipped, cancelled, got "done"',
      'steps["a"].hlc: expected an HLC stamp "WWWWWWWWWWWWWWW-CCCCCC-node", got "yesterday"',
      'steps["b"].error: required in phase failed',
      'steps["c"].result: not allowed in phase dispatched',
      'steps["c"].retryAt: expected a non-negative integer (ms), got -1',
      'steps["c"].retryAt: not allowed in phase dispatched',
      'log[0].severity: expected one of debug, info, warning, error, critical, got "loud"',
      'log[0].message: expected a string, got 3',
    ])
  })

  it('refuses text that is not JSON, and results nested too deeply', () => {
    expect(issuesOf('{"v":1,')[0]).toMatch(/^: not JSON/)
    let deep: unknown = 1
    for (let i = 0; i < 10_000; i++) deep = [deep]
    expect(
      issuesOf({ v: 1, run: 'r', steps: { a: { attempt: 1, phase: 'succeeded', hlc: h, result: deep } } }),
    ).toEqual(['steps["a"].result: nested deeper than 128 levels'])
  })

  it('keeps __proto__ step ids as data, not prototypes', () => {
    const state = RunState.fromJSON(
      `{"v":1,"run":"r","steps":{"__proto__":{"attempt":1,"phase":"running","hlc":"${h}"}}}`,
    )
    expect(state.step('__proto__')?.phase).toBe('running')
    const back = RunState.fromJSON(JSON.stringify(state.toJSON()))
    expect(back.step('__proto__')?.phase).toBe('running')
  })

  it('never fails with anything but StateDecodeError on arbitrary input', () => {
    const plausible = fc.record(
      {
        v: fc.oneof(fc.constant(1), fc.anything()),
        run: fc.oneof(fc.constant('r'), fc.anything()),
        steps: fc.oneof(
          fc.dictionary(
            fc.string({ maxLength: 4 }),
            fc.oneof(
              fc.record(
                {
                  attempt: fc.anything(),
                  phase: fc.anything(),
                  hlc: fc.oneof(fc.constant(h), fc.anything()),
                  error: fc.anything(),
                },
                { requiredKeys: [] },
              ),
              fc.anything(),
            ),
          ),
          fc.anything(),
        ),
        log: fc.oneof(fc.array(fc.anything()), fc.anything()),
        cancelled: fc.anything(),
        meta: fc.anything(),
      },
      { requiredKeys: [] },
    )
    fc.assert(
      fc.property(fc.oneof(plausible, fc.anything(), fc.string()), (input) => {
        try {
          RunState.fromJSON(input)
        } catch (err) {
          if (!(err instanceof StateDecodeError)) throw err
        }
      }),
      {
        numRuns: 2_000,
        // Once found by a random seed: a phase whose toString is not a function reached a message.
        examples: [[{ steps: { '': { phase: { toString: 0 }, error: [] } } }]],
      },
    )
  })

  it('validates digests from peers', () => {
    const digest = new RunState('r').digest()
    expect(decodeDigest(JSON.parse(JSON.stringify(digest)))).toEqual(digest)
    expect(() => decodeDigest({ ...digest, buckets: ['zz'] })).toThrow(StateDecodeError)
    expect(() => decodeDigest({ ...digest, run: '../x' })).toThrow(StateDecodeError)
    expect(() => decodeDigest('digest')).toThrow(StateDecodeError)
  })
})
