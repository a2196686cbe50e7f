import { Cron } from 'croner'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formatHlc } from '../src/protocols/state/index.js'
import { missedTicks, overlapDecision, scheduledTick } from '../src/roles/coordinator/triggers/cron-plan.js'
import { readTriggerDefinition } from '../src/roles/coordinator/triggers/definition.js'
import { TriggerSet } from '../src/roles/coordinator/triggers/trigger-set.js'

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0)

describe('cron catch-up', () => {
  it('lists no missed tick unless catch_up asks, and at most the latest n', () => {
    const since = T0
    const now = T0 + 5 * 60_000 + 30_000 // 12:05:30
    const every = (catchUp: boolean | number) =>
      missedTicks('* * * * *', { timezone: 'UTC', since, now, catchUp }).map((t) => new Date(t).toISOString())
    expect(every(false)).toEqual([])
    expect(every(true)).toEqual([
      '2026-01-01T12:01:00.000Z',
      '2026-01-01T12:02:00.000Z',
      '2026-01-01T12:03:00.000Z',
      '2026-01-01T12:04:00.000Z',
      '2026-01-01T12:05:00.000Z',
    ])
    expect(every(2)).toEqual(['2026-01-01T12:04:00.000Z', '2026-01-01T12:05:00.000Z'])
  })

  it('names the tick a late firing belongs to, never a time the schedule lacks', () => {
    const cron = new Cron('*/2 * * * * *', { paused: true, timezone: 'UTC' })
    try {
      const even = Date.UTC(2026, 0, 1, 0, 0, 10)
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 1_999 }), (late) => {
          expect(scheduledTick(cron, even + late)).toBe(even)
        }),
      )
    } finally {
      cron.stop()
    }
  })

  it('never starts more than 100 missed ticks, however long the mesh was down', () => {
    const ticks = missedTicks('* * * * * *', { since: T0, now: T0 + 3_600_000, catchUp: true })
    expect(ticks).toHaveLength(100)
    expect(ticks.at(-1)).toBe(T0 + 3_600_000)
  })

  it('overlap: skip waits for the previous run, allow starts anyway, cancel_previous replaces it', () => {
    expect(overlapDecision('skip', [])).toEqual({ start: true, cancel: [] })
    expect(overlapDecision('skip', ['cron.t.1'])).toEqual({ start: false, cancel: [] })
    expect(overlapDecision('allow', ['cron.t.1'])).toEqual({ start: true, cancel: [] })
    expect(overlapDecision('cancel_previous', ['cron.t.1'])).toEqual({ start: true, cancel: ['cron.t.1'] })
  })

  it('validates overlap and catch_up, which only a cron trigger has', () => {
    const base = { name: 't', workflow: 'workflow: {}' }
    expect(
      readTriggerDefinition(
        { ...base, kind: 'cron', schedule: '* * * * *', overlap: 'allow', catch_up: 3 },
        'x',
      ),
    ).toMatchObject({
      ok: true,
      trigger: { overlap: 'allow', catch_up: 3 },
    })
    expect(
      readTriggerDefinition(
        { ...base, kind: 'cron', schedule: '* * * * *', overlap: 'queue', catch_up: 0 },
        'x',
      ),
    ).toEqual({
      ok: false,
      issues: [
        'x.overlap: expected one of skip, allow, cancel_previous, got "queue"',
        'x.catch_up: expected true, false or a number of ticks ≥ 1, got 0',
      ],
    })
    expect(readTriggerDefinition({ ...base, kind: 'http', overlap: 'skip' }, 'x')).toEqual({
      ok: false,
      issues: ['x.overlap: only allowed on a cron trigger'],
    })
  })
})

const stamp = (wall: number, node = 'a') => formatHlc({ wall, counter: 0, node })
type Op = (s: TriggerSet) => void
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('a', 'b'),
      fc.integer({ min: 1, max: 5 }),
      fc.constantFrom('x', 'y'),
      fc.constantFrom('n1', 'n2'),
    )
    .map(
      ([name, wall, value, node]): Op =>
        (s) =>
          s.set(name, stamp(wall, node), { v: value }),
    ),
  fc.tuple(fc.constantFrom('a', 'b'), fc.integer({ min: 1, max: 5 })).map(
    ([name, wall]): Op =>
      (s) =>
        s.remove(name, stamp(wall)),
  ),
  fc.tuple(fc.constantFrom('a', 'b'), fc.integer({ min: 0, max: 9 })).map(
    ([name, tick]): Op =>
      (s) =>
        s.markTick(name, tick * 1000),
  ),
)
const setArb = fc.array(opArb, { maxLength: 10 }).map((ops) => {
  const s = new TriggerSet()
  for (const op of ops) op(s)
  return s
})
const joined = (...sets: TriggerSet[]) => {
  const out = new TriggerSet()
  for (const s of sets) out.merge(s)
  return out
}

describe('the replicated trigger set', () => {
  it('merges commutatively, associatively and idempotently', () => {
    fc.assert(
      fc.property(setArb, setArb, setArb, (a, b, c) => {
        expect(joined(a, b).digest()).toBe(joined(b, a).digest())
        expect(joined(joined(a, b), c).digest()).toBe(joined(a, joined(b, c)).digest())
        const ab = joined(a, b)
        expect(ab.merge(a)).toBe(false)
        expect(TriggerSet.fromJSON(JSON.parse(JSON.stringify(ab.toJSON()))).digest()).toBe(ab.digest())
      }),
      { numRuns: 400 },
    )
  })

  it('a later registration replaces a removal, and a later removal hides a registration', () => {
    const s = new TriggerSet()
    s.set('nightly', stamp(10), { kind: 'cron' })
    s.remove('nightly', stamp(20))
    expect(s.entries()).toEqual([])
    s.set('nightly', stamp(15), { kind: 'old' })
    expect(s.entries()).toEqual([])
    s.set('nightly', stamp(30), { kind: 'new' })
    expect(s.entries()).toEqual([['nightly', { hlc: stamp(30), registration: { kind: 'new' } }]])
    s.markTick('nightly', 5_000)
    s.markTick('nightly', 3_000)
    expect(s.lastTick('nightly')).toBe(5_000)
  })

  it('refuses malformed sets from peers, saying what is wrong', () => {
    expect(() => TriggerSet.fromJSON({ records: { 'bad name!': { hlc: stamp(1) } } })).toThrow(
      'trigger set records.bad name!: invalid trigger name',
    )
    expect(() => TriggerSet.fromJSON({ records: { a: { hlc: 'yesterday' } } })).toThrow(
      'records.a.hlc: expected an HLC stamp',
    )
    expect(() => TriggerSet.fromJSON({ records: {}, ticks: { a: -1 } })).toThrow(
      'ticks.a: expected a time in ms',
    )
    expect(() => TriggerSet.fromJSON({ records: {}, extra: 1 })).toThrow('trigger set extra: unknown field')
  })
})
