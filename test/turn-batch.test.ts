import { describe, expect, it } from 'vitest'
import { jsonSize, jsonSizeWith, TurnBatch } from '../src/core/turn-batch.js'

function collect<T>(init: Partial<ConstructorParameters<typeof TurnBatch<T>>[0]> = {}) {
  const batches: T[][] = []
  const batch = new TurnBatch<T>({ ...init, send: (items) => batches.push(items) })
  return { batch, batches }
}

describe('TurnBatch', () => {
  it('hands over what one turn produced, in order, in one batch', async () => {
    const { batch, batches } = collect<number>()
    for (let i = 0; i < 5; i++) batch.push(i)
    expect(batches).toEqual([])
    await new Promise((resolve) => setImmediate(resolve))
    expect(batches).toEqual([[0, 1, 2, 3, 4]])
  })

  it('bounds a batch by count and by the UTF-8 bytes of its items, an oversized item alone', () => {
    const { batch, batches } = collect<string>({ maxItems: 3, maxBytes: 1000 })
    for (let i = 0; i < 4; i++) batch.push('a')
    // 300 characters of 3 UTF-8 bytes each: 902 bytes, though only 302 UTF-16 units (two would fit
    // in 1000 if counted in units).
    batch.push('€'.repeat(300))
    batch.push('€'.repeat(300))
    batch.push('x'.repeat(5000))
    batch.push('b')
    batch.flush()
    expect(batches.map((b) => b.length)).toEqual([3, 2, 1, 1, 1])
    for (const b of batches.filter((b) => b[0] !== 'x'.repeat(5000)))
      expect(Buffer.byteLength(JSON.stringify(b))).toBeLessThanOrEqual(1000)
    batch.clear()
  })
})

describe('jsonSize and jsonSizeWith', () => {
  const values: Record<string, unknown>[] = [
    { result: { a: 1 } },
    { jobId: 'ü😀', result: { a: [1, 'x'] }, status: 'done' },
    { result: null, other: 1 },
    { result: undefined, other: 'é' },
    { other: 1 },
    { 'ké\u0001y': { n: 1 }, rest: true },
  ]

  it('equal the UTF-8 length of the JSON', () => {
    for (const value of values) {
      const exact = Buffer.byteLength(JSON.stringify(value))
      expect(jsonSize(value)).toBe(exact)
      for (const key of Object.keys(value)) expect(jsonSizeWith(value, key, jsonSize)).toBe(exact)
    }
    expect(jsonSize(undefined)).toBe(0)
  })

  it('nest, sizing only what is not known', () => {
    const item = {
      jobId: 'j-1',
      response: { result: { big: 'z'.repeat(100) }, logs: ['ü'], replayed: false },
    }
    const known = new Map<unknown, number>([[item.response.result, jsonSize(item.response.result)]])
    const sized = jsonSizeWith(item, 'response', (response) =>
      jsonSizeWith(response, 'result', (result) => known.get(result) ?? Number.NaN),
    )
    expect(sized).toBe(jsonSize(item))
  })
})
