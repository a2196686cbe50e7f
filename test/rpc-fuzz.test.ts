/**
 * Hostile input at a real node over raw protocol streams: random bytes, truncated frames, huge
 * length prefixes, invalid JSON, wrong types and unknown methods. The node must never crash,
 * must answer with the right code wherever an answer is possible, and must keep answering a
 * well-behaved peer on another connection the whole time.
 */
import type { Libp2p, Stream } from '@libp2p/interface'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  encodeFrame,
  FrameDecoder,
  frameSkipBound,
  Libp2pRpcClient,
  RPC_CODES,
  RPC_PROTOCOL,
  type RpcServer,
} from '../src/protocols/rpc/index.js'
import { Probe, RpcTestbed, testRegistry } from './rpc-fixtures.js'

const MAX_FRAME = 4096
const KNOWN_CODES = new Set<number>(Object.values(RPC_CODES))

const bed = new RpcTestbed()
let serverNode: Libp2p
let attacker: Libp2p
let server: RpcServer
let good: Libp2pRpcClient
let goodCalls = 0
const goodFailures: unknown[] = []
let stopGood = false
let goodLoop: Promise<void>

beforeAll(async () => {
  serverNode = await bed.node()
  attacker = await bed.node()
  const friend = await bed.node()
  server = await bed.server(serverNode, {
    registry: testRegistry(new Probe()),
    maxFrameBytes: MAX_FRAME,
    maxInboundStreams: 64,
  })
  good = new Libp2pRpcClient({ libp2p: friend, target: serverNode.getMultiaddrs()[0] as never })
  bed.defer(() => good.close())
  goodLoop = (async () => {
    while (!stopGood) {
      try {
        const n = goodCalls
        const result = await good.call<number>('test.add', { a: n, b: 1 }, { timeoutMs: 5_000 })
        if (result !== n + 1) goodFailures.push(new Error(`wrong answer ${result} for ${n}`))
        goodCalls++
      } catch (err) {
        goodFailures.push(err)
      }
    }
  })()
})

afterAll(async () => {
  stopGood = true
  await goodLoop
  await bed.cleanup()
})

interface RawAnswer {
  messages: unknown[]
  /** The server ended the stream (close or reset). */
  ended: boolean
}

/** Open a protocol stream, write `bytes`, close our side, and read every frame the node sends. */
async function raw(bytes: Uint8Array, { closeWrite = true } = {}): Promise<RawAnswer> {
  const stream: Stream = await attacker.dialProtocol(serverNode.getMultiaddrs()[0] as never, RPC_PROTOCOL, {
    signal: AbortSignal.timeout(5_000),
  })
  const frames = new FrameDecoder(10 * 1024 * 1024)
  const messages: unknown[] = []
  const done = new Promise<boolean>((resolve) => {
    stream.addEventListener('message', (evt) => {
      const chunk = evt.data instanceof Uint8Array ? evt.data : evt.data.subarray()
      for (const frame of frames.push(chunk)) messages.push(JSON.parse(new TextDecoder().decode(frame)))
    })
    stream.addEventListener('remoteCloseWrite', () => resolve(true))
    stream.addEventListener('close', () => resolve(true))
  })
  if (bytes.byteLength > 0) stream.send(bytes)
  if (closeWrite) await stream.close().catch(() => {})
  const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3_000).unref())
  const ended = await Promise.race([done, timeout])
  stream.abort(new Error('test done'))
  return { messages, ended }
}

function frames(...bodies: string[]): Uint8Array {
  const parts = bodies.map((b) => encodeFrame(b))
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.byteLength
  }
  return out
}

function codes(answer: RawAnswer): number[] {
  return answer.messages
    .flatMap((m) => (Array.isArray(m) ? m : [m]))
    .map((r) => (r as { error?: { code: number } }).error?.code ?? 0)
}

function varint(value: number): number[] {
  const out: number[] = []
  while (value >= 0x80) {
    out.push((value % 128) | 0x80)
    value = Math.floor(value / 128)
  }
  out.push(value)
  return out
}

const RUNS = { numRuns: 40 }

/** The answer to a frame over the limit: id null (its id was never read), -32005 and `data`. */
function frameTooLarge(data: unknown): unknown {
  return { jsonrpc: '2.0', id: null, error: expect.objectContaining({ code: -32005, data }) }
}

describe('fuzzing a node over raw rpc streams', () => {
  it('answers random bytes only with well-formed JSON-RPC errors, never crashing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), async (bytes) => {
        const answer = await raw(bytes)
        expect(answer.ended).toBe(true)
        for (const message of answer.messages.flatMap((m) => (Array.isArray(m) ? m : [m]))) {
          expect(message).toMatchObject({
            jsonrpc: '2.0',
            error: { code: expect.any(Number), message: expect.any(String) },
          })
          expect(KNOWN_CODES.has((message as { error: { code: number } }).error.code)).toBe(true)
          expect(JSON.stringify(message)).not.toMatch(/at .*\.(js|ts):\d+/)
        }
      }),
      RUNS,
    )
  })

  it('answers -32700 with id null to frames that are not JSON, and keeps the stream usable', async () => {
    const notJson = fc.string({ maxLength: 200 }).filter((s) => {
      try {
        JSON.parse(s)
        return false
      } catch {
        return true
      }
    })
    await fc.assert(
      fc.asyncProperty(notJson, async (text) => {
        const answer = await raw(frames(text, '{"jsonrpc":"2.0","id":7,"method":"test.add","params":[1,2]}'))
        expect(answer.messages).toEqual([
          { jsonrpc: '2.0', id: null, error: expect.objectContaining({ code: -32700 }) },
          { jsonrpc: '2.0', id: 7, result: 3 },
        ])
      }),
      RUNS,
    )
  })

  it('answers -32600 to JSON that is not a request object', async () => {
    const notRequest = fc.oneof(
      fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.constant(null)),
      fc.record({
        jsonrpc: fc.constantFrom('1.0', 2, null),
        id: fc.integer(),
        method: fc.constant('test.add'),
      }),
      fc.record({
        jsonrpc: fc.constant('2.0'),
        id: fc.integer(),
        method: fc.oneof(fc.integer(), fc.constant('')),
      }),
      fc.record({
        jsonrpc: fc.constant('2.0'),
        id: fc.integer(),
        method: fc.constant('test.add'),
        params: fc.oneof(fc.string(), fc.integer()),
      }),
      fc.record({
        jsonrpc: fc.constant('2.0'),
        id: fc.record({ x: fc.integer() }),
        method: fc.constant('test.add'),
      }),
      fc.constant([]),
    )
    await fc.assert(
      fc.asyncProperty(notRequest, async (value) => {
        const answer = await raw(frames(JSON.stringify(value)))
        expect(codes(answer)).toEqual([-32600])
      }),
      RUNS,
    )
  })

  it('answers -32601 to unknown methods and -32602 to wrong param types, with the caller id', async () => {
    const unknown = fc
      .string({ minLength: 1, maxLength: 40 })
      .filter((m) => !m.startsWith('test.') && !m.startsWith('rpc.'))
    const badA = fc.oneof(
      fc.string(),
      fc.double({ noInteger: true }),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.integer()),
    )
    await fc.assert(
      fc.asyncProperty(unknown, badA, fc.integer(), async (method, a, id) => {
        const answer = await raw(
          frames(
            JSON.stringify({ jsonrpc: '2.0', id, method, params: {} }),
            JSON.stringify({ jsonrpc: '2.0', id: `p${id}`, method: 'test.add', params: { a, b: 1 } }),
            JSON.stringify({ jsonrpc: '2.0', method, params: {} }), // a notification: never answered
          ),
        )
        const byId = new Map(answer.messages.map((m) => [(m as { id: unknown }).id, m]))
        expect(answer.messages).toHaveLength(2)
        expect(byId.get(id)).toMatchObject({ error: { code: -32601 } })
        expect(byId.get(`p${id}`)).toMatchObject({
          error: { code: -32602, data: { name: 'InvalidParamsError' } },
        })
      }),
      RUNS,
    )
  })

  it('answers a batch with one array of responses, omitting notifications', async () => {
    const answer = await raw(
      frames(
        JSON.stringify([
          { jsonrpc: '2.0', id: 1, method: 'test.add', params: [1, 1] },
          { jsonrpc: '2.0', method: 'test.add', params: [1, 1] },
          { jsonrpc: '2.0', id: 2, method: 'nope' },
          5,
        ]),
      ),
    )
    expect(answer.messages).toEqual([
      [
        { jsonrpc: '2.0', id: 1, result: 2 },
        { jsonrpc: '2.0', id: 2, error: expect.objectContaining({ code: -32601 }) },
        { jsonrpc: '2.0', id: null, error: expect.objectContaining({ code: -32600 }) },
      ],
    ])
  })

  it('answers a frame over the limit with -32005 naming its size, skips its body and serves the stream on', async () => {
    const request = '{"jsonrpc":"2.0","id":7,"method":"test.add","params":[1,2]}'
    const over = fc.oneof(
      fc.integer({ min: MAX_FRAME + 1, max: 64 * 1024 }),
      fc.constant(frameSkipBound(MAX_FRAME)),
    )
    await fc.assert(
      fc.asyncProperty(over, fc.integer({ min: 0, max: 255 }), async (length, fill) => {
        // The body could be read as frames of its own (0xff... is a malformed prefix): it must not be.
        const body = new Uint8Array(length).fill(fill)
        const answer = await raw(Buffer.concat([Uint8Array.from(varint(length)), body, frames(request)]))
        expect(answer.ended).toBe(true)
        expect(answer.messages).toEqual([
          frameTooLarge({
            name: 'FrameTooLargeError',
            retryable: false,
            bytes: length,
            maxFrameBytes: MAX_FRAME,
          }),
          { jsonrpc: '2.0', id: 7, result: 3 },
        ])
      }),
      { numRuns: 15 },
    )
  })

  it('answers a length prefix beyond what it skips with -32005, then resets that stream only', async () => {
    const bound = frameSkipBound(MAX_FRAME)
    const huge = fc.oneof(fc.integer({ min: bound + 1, max: 2 ** 31 }), fc.constant(2 ** 40))
    await fc.assert(
      fc.asyncProperty(huge, fc.uint8Array({ maxLength: 64 }), async (length, tail) => {
        const answer = await raw(new Uint8Array([...varint(length), ...tail]), { closeWrite: false })
        expect(answer.ended).toBe(true)
        expect(answer.messages).toEqual([
          frameTooLarge(expect.objectContaining({ name: 'FrameTooLargeError' })),
        ])
      }),
      { numRuns: 25 },
    )
    // A frame of exactly the limit is still accepted (and answered: it is not valid JSON).
    const atLimit = await raw(new Uint8Array([...varint(MAX_FRAME), ...new Uint8Array(MAX_FRAME).fill(0x20)]))
    expect(codes(atLimit)).toEqual([-32700])
  })

  it('drops truncated frames silently when the peer closes mid-frame', async () => {
    const request = encodeFrame('{"jsonrpc":"2.0","id":1,"method":"test.add","params":[1,2]}')
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: request.byteLength - 1 }), async (cut) => {
        const answer = await raw(request.subarray(0, cut))
        expect(answer.ended).toBe(true)
        expect(answer.messages).toEqual([])
      }),
      { numRuns: 30 },
    )
  })

  it('kept answering the well-behaved peer throughout, and holds no session or call afterwards', async () => {
    expect(goodFailures).toEqual([])
    expect(goodCalls).toBeGreaterThan(50)
    const before = goodCalls
    await expect(good.call('test.add', [20, 22])).resolves.toBe(42)
    expect(goodCalls).toBeGreaterThanOrEqual(before)
    expect(server.sessionCount).toBe(1) // only the good peer's
    expect(server.dispatcher.inFlightCount()).toBeLessThanOrEqual(1)
  })
})
