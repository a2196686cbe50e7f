import type { Libp2p } from '@libp2p/interface'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createLogger } from '../src/core/logger.js'
import {
  CallTimeoutError,
  CancelledError,
  ConnectionClosedError,
  FrameTooLargeError,
  InternalError,
  InvalidParamsError,
  Libp2pRpcClient,
  MethodNotFoundError,
  nodeMethods,
  type RpcServer,
  TooManyRequestsError,
  UnauthorizedError,
} from '../src/protocols/rpc/index.js'
import { echoOfBytes, eventually, JobNotFoundError, Probe, RpcTestbed, testRegistry } from './rpc-fixtures.js'

const bed = new RpcTestbed()
let probe: Probe
let serverNode: Libp2p
let clientNode: Libp2p
let server: RpcServer

async function setup(
  limits: { maxInFlightPerPeer?: number; callTimeoutMs?: number } = {},
): Promise<Libp2pRpcClient> {
  probe = new Probe()
  serverNode = await bed.node()
  clientNode = await bed.node()
  server = await bed.server(serverNode, { registry: testRegistry(probe), ...limits })
  const client = new Libp2pRpcClient({
    libp2p: clientNode,
    target: serverNode.getMultiaddrs()[0]?.toString() as string,
    errors: [JobNotFoundError],
    logger: createLogger('rpc-client'),
  })
  bed.defer(() => client.close())
  return client
}

beforeEach(() => {
  probe = new Probe()
})
afterEach(() => bed.cleanup())

describe('RPC over noise-encrypted libp2p streams between two nodes', () => {
  it('answers calls by name and by position, and knows who called', async () => {
    const client = await setup()
    expect(await client.call('test.add', { a: 2, b: 3 })).toBe(5)
    expect(await client.call('test.add', [40, 2])).toBe(42)
    expect(await client.call('test.echo', { value: { nested: ['ü', 1, null] } })).toEqual({
      nested: ['ü', 1, null],
    })
    const connection = serverNode.getConnections(clientNode.peerId)[0]
    expect(connection?.encryption).toBe('/noise')
    expect(server.sessionCount).toBe(1)
  })

  it('answers 1,000 pipelined calls on one session stream, each with its own result', async () => {
    const client = await setup()
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => client.call<number>('test.add', { a: i, b: 1_000_000 })),
    )
    results.forEach((value, i) => {
      expect(value).toBe(i + 1_000_000)
    })
    const streams = clientNode
      .getConnections(serverNode.peerId)
      .flatMap((c) => c.streams)
      .filter((s) => s.protocol === '/horus/rpc/1.0.0')
    expect(streams).toHaveLength(1)
    expect(server.sessionCount).toBe(1)
  })

  it('maps failures to typed errors with stable codes and never leaks internals', async () => {
    const client = await setup()
    await expect(client.call('test.nope')).rejects.toBeInstanceOf(MethodNotFoundError)

    const invalid = await client.call('test.add', { a: 'x', b: 1 }).catch((e: unknown) => e)
    expect(invalid).toBeInstanceOf(InvalidParamsError)
    expect((invalid as InvalidParamsError).code).toBe(-32602)
    expect((invalid as InvalidParamsError).data.errors).toEqual([{ path: '/a', message: 'must be integer' }])

    const extra = await client.call('test.add', { a: 1, b: 2, c: 3 }).catch((e: unknown) => e)
    expect((extra as InvalidParamsError).data.errors).toEqual([
      { path: '/', message: 'must NOT have additional properties', property: 'c' },
    ])
    await expect(client.call('test.add', [1, 2, 3])).rejects.toBeInstanceOf(InvalidParamsError)

    const app = await client.call('test.fail', { kind: 'horus' }).catch((e: unknown) => e)
    expect(app).toBeInstanceOf(JobNotFoundError)
    expect(app).toMatchObject({ message: 'job 42 not found', code: 'JOB_NOT_FOUND', retryable: false })

    const internal = await client.call('test.fail', { kind: 'plain' }).catch((e: unknown) => e)
    expect(internal).toBeInstanceOf(InternalError)
    expect((internal as InternalError).code).toBe(-32603)
    expect((internal as InternalError).message).toBe('internal error')
    expect(JSON.stringify((internal as InternalError).data)).not.toContain('secret')

    const refused = await client.call('test.private').catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(UnauthorizedError)
    expect((refused as UnauthorizedError).code).toBe(-32001)
  })

  it('cancels a call: the handler sees its signal abort and the caller gets CancelledError', async () => {
    const client = await setup()
    const controller = new AbortController()
    const call = client.call('test.wait', {}, { signal: controller.signal })
    await eventually(() => server.dispatcher.inFlightCount() === 1, 'the call to reach the handler')
    controller.abort()
    await expect(call).rejects.toBeInstanceOf(CancelledError)
    await eventually(() => probe.aborts.length === 1, 'the handler to see the abort')
    expect(probe.aborts[0]).toEqual({ method: 'test.wait', reason: 'CancelledError' })
    await eventually(() => server.dispatcher.inFlightCount() === 0, 'the slot to be freed')
    // The session survives a cancellation.
    expect(await client.call('test.add', [1, 1])).toBe(2)
  })

  it('times a call out on the server: handler aborted, caller gets -32002', async () => {
    const client = await setup()
    const err = await client.call('test.slow').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CallTimeoutError)
    expect((err as CallTimeoutError).code).toBe(-32002)
    expect((err as CallTimeoutError).retryable).toBe(true)
    expect(probe.aborts).toEqual([{ method: 'test.slow', reason: 'CallTimeoutError' }])
  })

  it('times a call out on the client and tells the server to stop', async () => {
    const client = await setup()
    await expect(client.call('test.wait', {}, { timeoutMs: 100 })).rejects.toBeInstanceOf(CallTimeoutError)
    await eventually(() => probe.aborts.length === 1, 'the server handler to be cancelled')
  })

  it('caps calls in flight per peer with -32003 and frees the slots as calls finish', async () => {
    const client = await setup({ maxInFlightPerPeer: 4 })
    const blocked = Array.from({ length: 4 }, () => client.call('test.block'))
    await eventually(() => probe.blocked.length === 4, 'four handlers running')
    const over = await client.call('test.add', [1, 2]).catch((e: unknown) => e)
    expect(over).toBeInstanceOf(TooManyRequestsError)
    expect((over as TooManyRequestsError).code).toBe(-32003)
    for (const release of probe.blocked) release()
    expect(await Promise.all(blocked)).toEqual(['released', 'released', 'released', 'released'])
    expect(await client.call('test.add', [1, 2])).toBe(3)
  })

  it('counts a method with its own limit group apart: a full shared budget does not block it', async () => {
    const client = await setup({ maxInFlightPerPeer: 2 })
    const blocked = Array.from({ length: 2 }, () => client.call('test.block'))
    await eventually(() => probe.blocked.length === 2, 'the shared budget full')
    const grouped = Array.from({ length: 2 }, () => client.call('test.block_grouped'))
    await eventually(() => probe.blocked.length === 4, 'the grouped calls running too')
    const over = await client.call('test.block_grouped').catch((e: unknown) => e)
    expect(over).toBeInstanceOf(TooManyRequestsError)
    for (const release of probe.blocked) release()
    expect(await Promise.all([...blocked, ...grouped])).toHaveLength(4)
  })

  /** A client whose window of two calls is held by two blocked handlers (and the plain client). */
  async function narrowWindowHeld() {
    const client = await setup()
    const narrow = new Libp2pRpcClient({
      libp2p: clientNode,
      target: serverNode.getMultiaddrs()[0]?.toString() as string,
      maxInFlight: 2,
      logger: createLogger('rpc-narrow'),
    })
    bed.defer(() => narrow.close())
    const blocked = Array.from({ length: 2 }, () => narrow.call('test.block'))
    await eventually(() => probe.blocked.length === 2, 'two handlers holding the window')
    return { client, narrow, blocked }
  }

  it("starts a call's timeout when it goes on the wire: a call queued behind the window waits its turn", async () => {
    const { client, narrow, blocked } = await narrowWindowHeld()
    const queued = narrow.call('test.add', [1, 2], { timeoutMs: 200 })
    // Longer than the queued call's timeout passes (a call on another session times out)...
    await expect(client.call('test.wait', {}, { timeoutMs: 300 })).rejects.toBeInstanceOf(CallTimeoutError)
    // ...and the queued call, never sent so far, is still waiting: it runs once a slot frees.
    for (const release of probe.blocked) release()
    expect(await queued).toBe(3)
    expect(await Promise.all(blocked)).toEqual(['released', 'released'])
  })

  it('a call aborted while queued behind the window leaves the queue; the window still admits as many calls', async () => {
    const { client, narrow, blocked } = await narrowWindowHeld()
    const controller = new AbortController()
    const gaveUp = narrow.call('test.add', [1, 1], { signal: controller.signal })
    const next = narrow.call('test.add', [2, 2])
    controller.abort()
    await expect(gaveUp).rejects.toBeInstanceOf(CancelledError)
    for (const release of probe.blocked.splice(0)) release()
    expect(await next).toBe(4)
    expect(await Promise.all(blocked)).toEqual(['released', 'released'])
    // Two places again, no more: two calls run at once, a third waits for one of them.
    const again = Array.from({ length: 2 }, () => narrow.call('test.block'))
    await eventually(() => probe.blocked.length === 2, 'two handlers holding the window again')
    const third = narrow.call('test.block')
    // A call on the same connection, sent after the third: had the third gone out, the server would
    // have started it before answering this one.
    expect(await client.call('test.add', [1, 2])).toBe(3)
    expect(probe.blocked).toHaveLength(2)
    probe.blocked[0]?.()
    await eventually(() => probe.blocked.length === 3, 'the third call sent once a place freed')
    for (const release of probe.blocked.slice(1)) release()
    expect(await Promise.all([...again, third])).toEqual(['released', 'released', 'released'])
  })

  it('passes the authenticated peer to the authorize hook', async () => {
    probe = new Probe()
    serverNode = await bed.node()
    clientNode = await bed.node()
    const seen: unknown[] = []
    const registry = testRegistry(probe, (caller, method) => {
      seen.push({ ...caller, method })
      return caller.peerId === clientNode.peerId.toString()
    })
    await bed.server(serverNode, { registry })
    const client = new Libp2pRpcClient({ libp2p: clientNode, target: serverNode.getMultiaddrs()[0] as never })
    bed.defer(() => client.close())
    expect(await client.call('test.add', [1, 2])).toBe(3)
    expect(seen).toEqual([
      {
        peerId: clientNode.peerId.toString(),
        publicKeyHex: Buffer.from(clientNode.peerId.publicKey?.raw ?? []).toString('hex'),
        via: 'libp2p',
        authenticated: true,
        method: 'test.add',
      },
    ])
  })

  it('serves node.info, node.peers and node.health from the node it runs on', async () => {
    probe = new Probe()
    serverNode = await bed.node()
    clientNode = await bed.node()
    const startedAt = Date.now()
    const registry = testRegistry(probe).add(
      ...nodeMethods({
        peerId: serverNode.peerId.toString(),
        publicKeyHex: Buffer.from(serverNode.peerId.publicKey?.raw ?? []).toString('hex'),
        roles: ['runner'],
        version: '0.1.0',
        startedAt,
        getMultiaddrs: () => serverNode.getMultiaddrs().map((a) => a.toString()),
        getPeers: () =>
          serverNode
            .getConnections()
            .map((c) => ({ peerId: c.remotePeer.toString(), addrs: [c.remoteAddr.toString()] })),
        health: () => ({ status: 'ok' }),
      }),
    )
    await bed.server(serverNode, { registry })
    const client = new Libp2pRpcClient({ libp2p: clientNode, target: serverNode.peerId })
    bed.defer(() => client.close())
    await clientNode.dial(serverNode.getMultiaddrs()[0] as never)
    const info = await client.call<Record<string, unknown>>('node.info')
    expect(info).toMatchObject({
      peerId: serverNode.peerId.toString(),
      roles: ['runner'],
      version: '0.1.0',
      startedAt: new Date(startedAt).toISOString(),
      multiaddrs: serverNode.getMultiaddrs().map((a) => a.toString()),
    })
    expect(info.publicKey).toMatch(/^[0-9a-f]{64}$/)
    const peers = await client.call<{ peerId: string }[]>('node.peers')
    expect(peers.map((p) => p.peerId)).toEqual([clientNode.peerId.toString()])
    expect(await client.call('node.health')).toEqual({ status: 'ok' })
  })

  it('fails only the oversized call, naming its size and the limit, at the exact boundary; the session serves on', async () => {
    const limit = 4096
    probe = new Probe()
    serverNode = await bed.node()
    clientNode = await bed.node()
    server = await bed.server(serverNode, { registry: testRegistry(probe), maxFrameBytes: limit })
    const client = new Libp2pRpcClient({
      libp2p: clientNode,
      target: serverNode.getMultiaddrs()[0]?.toString() as string,
      maxFrameBytes: limit,
    })
    bed.defer(() => client.close())
    const waiting = client.call('test.block') // id 1: a call in flight on the same session
    await eventually(() => probe.blocked.length === 1, 'the handler to run')
    // Ids 2..9 here: one digit, as echoOfBytes counts.
    const atLimit = echoOfBytes(limit)
    expect(await client.call('test.echo', atLimit)).toBe(atLimit.value)
    for (const over of [limit + 1, limit + 4]) {
      const err = await client.call('test.echo', echoOfBytes(over)).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(FrameTooLargeError)
      expect((err as FrameTooLargeError).message).toBe(
        `request of ${over} bytes exceeds the ${limit}-byte frame limit`,
      )
      expect((err as FrameTooLargeError).data).toMatchObject({ bytes: over, maxFrameBytes: limit })
    }
    // The shared session was never reset: the call in flight is answered on it, and so is the next.
    probe.blocked[0]?.()
    await expect(waiting).resolves.toBe('released')
    expect(await client.call('test.add', [2, 2])).toBe(4)
    expect(server.sessionCount).toBe(1)
  })

  it('fails waiting calls when the session dies, then reopens a session for the next call', async () => {
    const client = await setup()
    const waiting = client.call('test.block')
    await eventually(() => probe.blocked.length === 1, 'the handler to run')
    await server.stop()
    await expect(waiting).rejects.toBeInstanceOf(ConnectionClosedError)
    await server.start()
    expect(await client.call('test.add', [2, 2])).toBe(4)
  })
})
