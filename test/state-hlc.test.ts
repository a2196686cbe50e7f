import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  compareHlc,
  formatHlc,
  Hlc,
  HlcDriftError,
  HlcFormatError,
  hlcNode,
  hlcWall,
  parseHlc,
} from '../src/protocols/state/index.js'

describe('hybrid logical clock', () => {
  it('follows the wall clock and stays monotonic when it stands still or goes back', () => {
    let wall = 1_000
    const clock = new Hlc('a', { now: () => wall })
    const first = clock.now()
    expect(parseHlc(first)).toEqual({ wall: 1_000, counter: 0, node: 'a' })
    const second = clock.now()
    expect(parseHlc(second)).toEqual({ wall: 1_000, counter: 1, node: 'a' })
    wall = 500
    const third = clock.now()
    expect(compareHlc(third, second)).toBe(1)
    wall = 2_000
    expect(parseHlc(clock.now())).toEqual({ wall: 2_000, counter: 0, node: 'a' })
  })

  it('receive moves past a remote stamp, preserving causality', () => {
    const a = new Hlc('a', { now: () => 1_000 })
    const b = new Hlc('b', { now: () => 900 }) // b's clock is behind
    const sent = a.now()
    a.now()
    const received = b.receive(a.now())
    expect(compareHlc(received, sent)).toBe(1)
    expect(parseHlc(received)).toEqual({ wall: 1_000, counter: 3, node: 'b' })
    expect(compareHlc(b.now(), received)).toBe(1)
  })

  it('refuses remote stamps too far in the future, leaving the clock unchanged', () => {
    const clock = new Hlc('a', { now: () => 1_000, maxDriftMs: 100 })
    const before = clock.now()
    expect(() => clock.receive(formatHlc({ wall: 1_200, counter: 0, node: 'evil' }))).toThrow(HlcDriftError)
    expect(hlcWall(clock.last())).toBe(hlcWall(before))
    expect(() => clock.receive('not a stamp')).toThrow(HlcFormatError)
  })

  it('resumes after a restart from the last stamp it issued', () => {
    const clock = new Hlc('a', { now: () => 5_000 })
    for (let i = 0; i < 5; i++) clock.now()
    const restarted = new Hlc('a', { now: () => 10, last: clock.last() })
    expect(compareHlc(restarted.now(), clock.last())).toBe(1)
  })

  it('borrows a millisecond when the counter would overflow its width', () => {
    const clock = new Hlc('a', { now: () => 7, last: formatHlc({ wall: 7, counter: 999_999, node: 'a' }) })
    expect(parseHlc(clock.now())).toEqual({ wall: 8, counter: 0, node: 'a' })
  })

  it('string order equals (wall, counter, node) order', () => {
    const stamp = fc.record({
      wall: fc.integer({ min: 0, max: 10 ** 15 - 1 }),
      counter: fc.integer({ min: 0, max: 999_999 }),
      node: fc.stringMatching(/^[A-Za-z0-9]{1,8}$/),
    })
    fc.assert(
      fc.property(stamp, stamp, (x, y) => {
        const tuple =
          x.wall - y.wall || x.counter - y.counter || (x.node < y.node ? -1 : x.node > y.node ? 1 : 0)
        expect(Math.sign(compareHlc(formatHlc(x), formatHlc(y)))).toBe(Math.sign(tuple))
        expect(parseHlc(formatHlc(x))).toEqual(x)
        expect(hlcNode(formatHlc(x))).toBe(x.node)
      }),
    )
  })

  it('rejects node ids that would break the encoding', () => {
    expect(() => new Hlc('')).toThrow(HlcFormatError)
    expect(() => new Hlc('has space')).toThrow(HlcFormatError)
  })
})
