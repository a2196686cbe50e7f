import { afterEach, describe, expect, it } from 'vitest'
import { ConnectionClosedError, InvalidParamsError } from '../src/protocols/rpc/index.js'
import { eventually, RpcTestbed } from './rpc-fixtures.js'

const bed = new RpcTestbed()
afterEach(() => bed.cleanup())

/** Read `n` events from an iterator. */
async function take<T>(iterator: AsyncIterator<T>, n: number): Promise<T[]> {
  const out: T[] = []
  while (out.length < n) {
    const next = await iterator.next()
    if (next.done === true) break
    out.push(next.value)
  }
  return out
}

describe('subscriptions over a session stream', () => {
  it('delivers events in order, the first even when emitted before the subscribe answer', async () => {
    const { probe, server, client } = await bed.pair()
    const sub = client.subscribe<number>('test.ticks', { from: 100 })
    const id = await sub.id
    expect(id).toMatch(/^sub-/)
    const emit = probe.emitters.get(id)
    expect(emit).toBeDefined()
    for (let i = 1; i <= 200; i++) await emit?.(100 + i)
    const iterator = sub[Symbol.asyncIterator]()
    const events = await take(iterator, 201)
    expect(events).toEqual(Array.from({ length: 201 }, (_, i) => 100 + i))
    expect(server.subscriptionCount).toBe(1)
    await sub.unsubscribe()
    await eventually(() => server.subscriptionCount === 0, 'the server to drop the subscription')
    expect(probe.teardowns).toBe(1)
    expect(probe.emitters.size).toBe(0)
    // A late emit by a handler that kept its notify function sends nothing and does not throw.
    await emit?.(999)
    expect(await iterator.next()).toEqual({ value: undefined, done: true })
  })

  it('keeps concurrent subscriptions apart, and leaving a for-await loop unsubscribes', async () => {
    const { probe, server, client } = await bed.pair()
    const a = client.subscribe<number>('test.ticks.subscribe', { from: 0 })
    const b = client.subscribe<number>('test.ticks', { from: 1000 })
    const [idA, idB] = await Promise.all([a.id, b.id])
    expect(idA).not.toBe(idB)
    await probe.emitters.get(idA)?.(1)
    await probe.emitters.get(idB)?.(1001)
    await probe.emitters.get(idA)?.(2)
    const seen: number[] = []
    for await (const n of a) {
      seen.push(n)
      if (n === 2) break
    }
    expect(seen).toEqual([0, 1, 2])
    expect(await take(b[Symbol.asyncIterator](), 2)).toEqual([1000, 1001])
    await eventually(() => server.subscriptionCount === 1, 'only b to remain')
    await b.unsubscribe()
    await eventually(() => server.subscriptionCount === 0, 'no subscriptions left')
    expect(probe.teardowns).toBe(2)
  })

  it('ends every subscription and runs its teardown when the stream closes', async () => {
    const { probe, server, client } = await bed.pair()
    const subs = Array.from({ length: 5 }, (_, i) => client.subscribe<number>('test.ticks', { from: i }))
    await Promise.all(subs.map((s) => s.id))
    expect(server.subscriptionCount).toBe(5)
    await client.close()
    await eventually(() => server.subscriptionCount === 0 && server.sessionCount === 0, 'the session to end')
    expect(probe.teardowns).toBe(5)
    expect(probe.emitters.size).toBe(0)
    // Buffered events are still delivered, then the iterator ends with the close reason.
    const iterator = subs[0]?.[Symbol.asyncIterator]() as AsyncIterator<number>
    expect(await iterator.next()).toEqual({ value: 0, done: false })
    await expect(iterator.next()).rejects.toBeInstanceOf(ConnectionClosedError)
  })

  it('ends subscriptions when the connection drops and after the server stops', async () => {
    const { probe, server, client, clientNode, serverNode } = await bed.pair()
    const sub = client.subscribe<number>('test.ticks', { from: 0 })
    await sub.id
    await clientNode.hangUp(serverNode.peerId)
    await eventually(() => server.subscriptionCount === 0, 'the server to notice the dropped connection')
    expect(probe.teardowns).toBe(1)
    const events = sub[Symbol.asyncIterator]()
    expect(await events.next()).toEqual({ value: 0, done: false })
    await expect(events.next()).rejects.toBeInstanceOf(ConnectionClosedError)
  })

  it('rejects invalid subscribe params without creating anything, and unknown unsubscribe ids are false', async () => {
    const { server, client } = await bed.pair()
    const sub = client.subscribe('test.ticks', { from: 'zero' })
    await expect(sub.id).rejects.toBeInstanceOf(InvalidParamsError)
    await expect(sub[Symbol.asyncIterator]().next()).rejects.toBeInstanceOf(InvalidParamsError)
    expect(await client.call('test.ticks.unsubscribe', { subscription: 'sub-999' })).toBe(false)
    expect(server.subscriptionCount).toBe(0)
  })

  it('stops a subscription when its signal aborts', async () => {
    const { server, client } = await bed.pair()
    const controller = new AbortController()
    const sub = client.subscribe('test.ticks', {}, { signal: controller.signal })
    await sub.id
    expect(server.subscriptionCount).toBe(1)
    controller.abort()
    await eventually(() => server.subscriptionCount === 0, 'the abort to unsubscribe')
  })
})
