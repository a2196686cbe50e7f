import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ExpiryQueue } from '../src/core/expiry-queue.js'

describe('ExpiryQueue', () => {
  it('takes keys out in the order they expire, each once, only once expired', () => {
    const queue = new ExpiryQueue<string>()
    queue.set('c', 30)
    queue.set('a', 10)
    queue.set('b', 20)
    expect(queue.takeExpired(9)).toEqual([])
    expect(queue.takeExpired(20)).toEqual(['a', 'b'])
    expect(queue.takeExpired(20)).toEqual([])
    expect(queue.size).toBe(1)
    expect(queue.takeExpired(1_000)).toEqual(['c'])
    expect(queue.size).toBe(0)
  })

  it('goes by the latest expiry of a key set again, and never returns a deleted key', () => {
    const queue = new ExpiryQueue<string>()
    queue.set('later', 10)
    queue.set('later', 50)
    queue.set('sooner', 50)
    queue.set('sooner', 5)
    queue.set('gone', 1)
    queue.delete('gone')
    expect(queue.takeExpired(10)).toEqual(['sooner'])
    expect(queue.takeExpired(49)).toEqual([])
    expect(queue.takeExpired(50)).toEqual(['later'])
  })

  it('agrees with a plain map of latest expiries for any sequence of sets, deletes and takes', () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('set' as const),
        key: fc.integer({ min: 0, max: 20 }),
        at: fc.integer({ min: 0, max: 100 }),
      }),
      fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 20 }) }),
      fc.record({ kind: fc.constant('take' as const), now: fc.integer({ min: 0, max: 100 }) }),
    )
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const queue = new ExpiryQueue<number>()
        const model = new Map<number, number>()
        for (const o of ops) {
          if (o.kind === 'set') {
            queue.set(o.key, o.at)
            model.set(o.key, o.at)
          } else if (o.kind === 'delete') {
            queue.delete(o.key)
            model.delete(o.key)
          } else {
            const due = [...model].filter(([, at]) => at <= o.now)
            const taken = queue.takeExpired(o.now)
            expect(new Set(taken)).toEqual(new Set(due.map(([key]) => key)))
            expect(taken.map((key) => model.get(key))).toEqual(
              [...taken.map((key) => model.get(key))].sort((x, y) => (x as number) - (y as number)),
            )
            for (const [key] of due) model.delete(key)
          }
          expect(queue.size).toBe(model.size)
        }
      }),
      { numRuns: 300 },
    )
  })
})
