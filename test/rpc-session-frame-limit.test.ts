/**
 * A server whose frame limit is below its caller's: the caller cannot know it, so an oversized
 * request reaches the server. Real libp2p nodes on loopback; the server skips that frame and
 * answers it alone, the session (shared by every call of the client) serves on, and the client
 * learns the limit for the session.
 */
import type { Libp2p } from '@libp2p/interface'
import { afterEach, describe, expect, it } from 'vitest'
import {
  ConnectionClosedError,
  encodeFrame,
  FrameDecoder,
  FrameTooLargeError,
  frameSkipBound,
  Libp2pRpcClient,
  RPC_PROTOCOL,
} from '../src/protocols/rpc/index.js'
import { echoOfBytes, eventually, type RpcPair, RpcTestbed } from './rpc-fixtures.js'

const SERVER_LIMIT = 4096
const bed = new RpcTestbed()
afterEach(() => bed.cleanup())

function setup(clientLimit?: number): Promise<RpcPair> {
  return bed.pair(
    { maxFrameBytes: SERVER_LIMIT },
    clientLimit === undefined ? {} : { maxFrameBytes: clientLimit },
  )
}

function expectRefusedByServer(err: unknown, bytes: number): void {
  expect(err).toBeInstanceOf(FrameTooLargeError)
  expect((err as FrameTooLargeError).message).toBe(
    `request of ${bytes} bytes exceeds the server's ${SERVER_LIMIT}-byte frame limit`,
  )
  expect((err as FrameTooLargeError).data).toMatchObject({ bytes, maxFrameBytes: SERVER_LIMIT })
}

function rpcStreams(clientNode: Libp2p, serverNode: Libp2p, protocol = RPC_PROTOCOL): number {
  return clientNode
    .getConnections(serverNode.peerId)
    .flatMap((c) => c.streams)
    .filter((s) => s.protocol === protocol).length
}

describe('a request over the server frame limit, which the client does not know', () => {
  it('fails that call alone with the server limit named, while calls in flight and a subscription on the session go on; the next one that large fails unsent', async () => {
    const { probe, server, client, clientNode, serverNode } = await setup()
    const sub = client.subscribe<number>('test.ticks', { from: 0 }) // id 1
    const subscription = await sub.id
    const events = sub[Symbol.asyncIterator]()
    expect(await events.next()).toEqual({ value: 0, done: false })
    const first = client.call('test.block') // id 2
    const second = client.call('test.block') // id 3
    await eventually(() => probe.blocked.length === 2, 'both calls to reach the handler')

    const over = SERVER_LIMIT + 1000 // id 4
    expectRefusedByServer(await client.call('test.echo', echoOfBytes(over)).catch((e: unknown) => e), over)
    expect(server.oversizedFrameCount).toBe(1)

    // Same session: the calls in flight are answered on it, and the subscription still delivers.
    for (const release of probe.blocked) release()
    await expect(first).resolves.toBe('released')
    await expect(second).resolves.toBe('released')
    await probe.emitters.get(subscription)?.(1)
    expect(await events.next()).toEqual({ value: 1, done: false })
    expect(server.sessionCount).toBe(1)
    expect(server.subscriptionCount).toBe(1)
    expect(rpcStreams(clientNode, serverNode)).toBe(1)

    // Learned: a request one byte over fails before it is sent (id 5 is spent on it)...
    const again = await client.call('test.echo', echoOfBytes(SERVER_LIMIT + 1)).catch((e: unknown) => e)
    expectRefusedByServer(again, SERVER_LIMIT + 1)
    // ...and one of exactly the limit is sent and answered. The server reads a stream's frames in
    // order, so had the refused one been sent it would have been counted by now.
    const atLimit = echoOfBytes(SERVER_LIMIT) // id 6
    expect(await client.call('test.echo', atLimit)).toBe(atLimit.value)
    expect(server.oversizedFrameCount).toBe(1)
    expect(rpcStreams(clientNode, serverNode)).toBe(1)

    await sub.unsubscribe()
    await eventually(() => server.subscriptionCount === 0, 'the subscription to end')
  })

  it('resets the stream for a request beyond what the server skips, failing that call by name and the others as closed', async () => {
    const skipBound = frameSkipBound(SERVER_LIMIT)
    const { probe, server, client } = await setup(2 * skipBound)
    const waiting = client.call('test.block') // id 1
    await eventually(() => probe.blocked.length === 1, 'the handler to run')

    const over = skipBound + 1 // id 2
    expectRefusedByServer(await client.call('test.echo', echoOfBytes(over)).catch((e: unknown) => e), over)
    await expect(waiting).rejects.toBeInstanceOf(ConnectionClosedError)
    expect(server.oversizedFrameCount).toBe(1)
    probe.blocked[0]?.()
    // A new session serves the next call.
    expect(await client.call('test.add', [2, 2])).toBe(4)
  })
})

describe('id-null errors from a server, matched by size', () => {
  it('ignores (and logs) one that matches no waiting call, and does not learn a limit that would not refuse the frame', async () => {
    const serverNode = await bed.node()
    const clientNode = await bed.node()
    const protocol = '/horus/rpc-test-liar/1.0.0'
    // A server that, before answering each call, claims to have refused frames: first one of a
    // size nobody sent, then the call's own size with a "limit" at least that size.
    await serverNode.handle(protocol, (stream) => {
      const frames = new FrameDecoder(1024 * 1024)
      stream.addEventListener('message', (evt) => {
        const chunk = evt.data instanceof Uint8Array ? evt.data : evt.data.subarray()
        for (const frame of frames.push(chunk)) {
          const request = JSON.parse(new TextDecoder().decode(frame)) as { id: number; params: unknown }
          const refused = (bytes: number, data: Record<string, unknown>): Uint8Array =>
            encodeFrame(
              JSON.stringify({
                jsonrpc: '2.0',
                id: null,
                error: { code: -32005, message: 'too large', data: { bytes, ...data } },
              }),
            )
          stream.send(refused(frame.byteLength + 1, { maxFrameBytes: 10 }))
          stream.send(
            encodeFrame(
              JSON.stringify({
                jsonrpc: '2.0',
                id: null,
                error: { code: -32005, message: 'x', data: 'junk' },
              }),
            ),
          )
          if (request.id === 1) stream.send(refused(frame.byteLength, { maxFrameBytes: frame.byteLength }))
          else
            stream.send(
              encodeFrame(JSON.stringify({ jsonrpc: '2.0', id: request.id, result: request.params })),
            )
        }
      })
    })
    bed.defer(() => serverNode.unhandle(protocol))
    const client = new Libp2pRpcClient({
      libp2p: clientNode,
      target: serverNode.getMultiaddrs()[0]?.toString() as string,
      protocol,
    })
    bed.defer(() => client.close())
    const first = await client.call('test.echo', { value: 'a' }).catch((e: unknown) => e) // id 1
    expect(first).toBeInstanceOf(FrameTooLargeError)
    expect((first as FrameTooLargeError).message).toMatch(
      /^request of \d+ bytes exceeds the server's frame limit$/,
    )
    expect((first as FrameTooLargeError).data.maxFrameBytes).toBeUndefined()
    // The same size again is sent (no limit was learned) and answered on the same session.
    expect(await client.call('test.echo', { value: 'b' })).toEqual({ value: 'b' })
    expect(rpcStreams(clientNode, serverNode, protocol)).toBe(1)
  })
})
