/**
 * RPC cost against its floor. Two libp2p nodes in this process (TCP on 127.0.0.1, noise, yamux as
 * every Horus host runs them: corked TCP, a turn's yamux frames sealed as one noise message):
 * - raw echo: length-prefixed frames of the same size as an RPC request, echoed back verbatim on
 *   one stream — transport, encryption and muxing only; also between two stock libp2p hosts
 *   (plain TCP and yamux), the baseline of Horus's transport settings;
 * - RPC: `bench.echo` on one session stream (JSON, dispatch, ajv validation, matching by id);
 * - the HTTP gateway on loopback, through fetch with keep-alive.
 * Each is measured sequentially (round-trip percentiles) and pipelined (throughput).
 */
import '../../src/node/polyfills.js'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import type { Libp2p, Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { createLogger } from '../../src/core/logger.js'
import { corkedTcp } from '../../src/node/corked-tcp.js'
import { HttpGateway } from '../../src/node/gateway/index.js'
import { horusYamux } from '../../src/node/stream-muxer.js'
import {
  encodeFrame,
  FrameDecoder,
  HttpRpcClient,
  Libp2pRpcClient,
  MethodRegistry,
  RpcServer,
} from '../../src/protocols/rpc/index.js'
import { type BenchTable, elapsedMs, formatTable, percentile } from './table.js'

const ECHO_PROTOCOL = '/horus/bench-echo/1.0.0'
const SEQUENTIAL = 3_000
const PIPELINED = 20_000
const WINDOW = 64
const HTTP_SEQUENTIAL = 1_000
const HTTP_CONCURRENT = 4_000
const HTTP_WINDOW = 16
const PAYLOAD = 'x'.repeat(32)

/** `horus`: the transport and muxer of every Horus host; `stock`: libp2p's own. */
async function createNode(stack: 'horus' | 'stock'): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [stack === 'horus' ? corkedTcp() : tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [stack === 'horus' ? horusYamux() : yamux()],
    services: { identify: identify() },
  })
}

async function handleEcho(node: Libp2p): Promise<void> {
  await node.handle(ECHO_PROTOCOL, (stream) => {
    stream.addEventListener('message', (evt) => {
      if (!stream.send(evt.data)) stream.pause()
    })
    stream.addEventListener('drain', () => stream.resume())
  })
}

function benchRegistry(): MethodRegistry {
  return new MethodRegistry().add({
    name: 'bench.echo',
    summary: 'Return the value sent.',
    role: 'node',
    params: { type: 'object', properties: { value: { type: 'string' } }, required: ['value'] },
    result: { type: 'string' },
    handler: (p: { value: string }) => p.value,
  })
}

/** Echo client over one raw stream: resolves each sent frame when its echo comes back (FIFO). */
class RawEcho {
  private readonly waiting: Array<() => void> = []
  private readonly frames = new FrameDecoder(1024 * 1024)

  constructor(private readonly stream: Stream) {
    stream.addEventListener('message', (evt) => {
      const chunk = evt.data instanceof Uint8Array ? evt.data : evt.data.subarray()
      for (const _ of this.frames.push(chunk)) this.waiting.shift()?.()
    })
  }

  async roundTrip(frame: Uint8Array): Promise<void> {
    const done = new Promise<void>((resolve) => this.waiting.push(resolve))
    if (!this.stream.send(frame)) await this.stream.onDrain()
    await done
  }
}

async function sequential(n: number, once: () => Promise<unknown>): Promise<number[]> {
  const samples: number[] = []
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint()
    await once()
    samples.push(elapsedMs(t))
  }
  return samples
}

interface Pipelined {
  /** Operations per second. */
  rate: number
  /** CPU time of this process (both ends, user + system) per operation, in microseconds. */
  cpuUs: number
}

/** `n` operations with at most `window` outstanding. */
async function pipelined(n: number, window: number, once: () => Promise<unknown>): Promise<Pipelined> {
  let next = 0
  const t = process.hrtime.bigint()
  const cpu = process.cpuUsage()
  await Promise.all(
    Array.from({ length: window }, async () => {
      while (next < n) {
        next++
        await once()
      }
    }),
  )
  const used = process.cpuUsage(cpu)
  return { rate: n / (elapsedMs(t) / 1000), cpuUs: (used.user + used.system) / n }
}

export async function runRpcBench(): Promise<BenchTable[]> {
  const server = await createNode('horus')
  const caller = await createNode('horus')
  const stockServer = await createNode('stock')
  const stockCaller = await createNode('stock')
  const rpc = new RpcServer(
    { registrar: server, logger: createLogger('bench') },
    { registry: benchRegistry() },
  )
  const gateway = new HttpGateway({ registry: rpc.registry, listen: '127.0.0.1:0' })
  const client = new Libp2pRpcClient({
    libp2p: caller,
    target: server.getMultiaddrs()[0] as never,
    maxInFlight: WINDOW,
  })
  try {
    await rpc.start()
    await gateway.start()
    await handleEcho(server)
    await handleEcho(stockServer)
    const echo = new RawEcho(await caller.dialProtocol(server.getMultiaddrs()[0] as never, ECHO_PROTOCOL))
    const stockEcho = new RawEcho(
      await stockCaller.dialProtocol(stockServer.getMultiaddrs()[0] as never, ECHO_PROTOCOL),
    )
    const params = { value: PAYLOAD }
    // The raw frame is as long as the RPC request would be, so both move the same bytes.
    const frame = encodeFrame(JSON.stringify({ jsonrpc: '2.0', id: 123456, method: 'bench.echo', params }))
    const rawOnce = () => echo.roundTrip(frame)
    const stockOnce = () => stockEcho.roundTrip(frame)
    const rpcOnce = () => client.call('bench.echo', params)

    await pipelined(2_000, WINDOW, rawOnce) // warm up JIT and connection windows
    await pipelined(2_000, WINDOW, stockOnce)
    await pipelined(2_000, WINDOW, rpcOnce)
    const rawSamples = await sequential(SEQUENTIAL, rawOnce)
    const stockSamples = await sequential(SEQUENTIAL, stockOnce)
    const rpcSamples = await sequential(SEQUENTIAL, rpcOnce)
    const rawRun = await pipelined(PIPELINED, WINDOW, rawOnce)
    const stockRun = await pipelined(PIPELINED, WINDOW, stockOnce)
    const rpcRun = await pipelined(PIPELINED, WINDOW, rpcOnce)

    const http = new HttpRpcClient({ url: gateway.url })
    const httpOnce = () => http.call('bench.echo', params)
    await pipelined(200, HTTP_WINDOW, httpOnce)
    const httpSamples = await sequential(HTTP_SEQUENTIAL, httpOnce)
    const httpRun = await pipelined(HTTP_CONCURRENT, HTTP_WINDOW, httpOnce)

    const row = (name: string, samples: number[], run: Pipelined): (string | number)[] => [
      name,
      percentile(samples, 50),
      percentile(samples, 99),
      1000 / (samples.reduce((a, b) => a + b, 0) / samples.length),
      run.rate,
      run.cpuUs,
    ]
    const rawP50 = percentile(rawSamples, 50)
    const rpcP50 = percentile(rpcSamples, 50)
    return [
      {
        title: `RPC on one session stream vs raw stream echo (TCP loopback + noise + yamux, ${frame.byteLength}-byte requests)`,
        columns: [
          'path',
          'p50 ms',
          'p99 ms',
          'sequential calls/s',
          `pipelined calls/s (window ${WINDOW})`,
          'pipelined CPU µs per call (both ends)',
        ],
        rows: [
          row('raw libp2p stream echo, stock hosts (plain TCP and yamux)', stockSamples, stockRun),
          row('raw libp2p stream echo, Horus hosts (floor)', rawSamples, rawRun),
          row('JSON-RPC bench.echo, Horus hosts', rpcSamples, rpcRun),
          [
            'RPC / raw',
            `${(rpcP50 / rawP50).toFixed(2)}x`,
            `${(percentile(rpcSamples, 99) / percentile(rawSamples, 99)).toFixed(2)}x`,
            '',
            `${(rawRun.rate / rpcRun.rate).toFixed(2)}x`,
            `${(rpcRun.cpuUs / rawRun.cpuUs).toFixed(2)}x`,
          ],
        ],
        note: `Goal: RPC round trip within 2x of the raw echo. Sequential: ${SEQUENTIAL} calls; pipelined: ${PIPELINED}.`,
      },
      {
        title: 'HTTP gateway (POST /rpc on loopback, fetch keep-alive)',
        columns: ['mode', 'p50 ms', 'p99 ms', 'calls/s'],
        rows: [
          [
            'sequential',
            percentile(httpSamples, 50),
            percentile(httpSamples, 99),
            1000 / (httpSamples.reduce((a, b) => a + b, 0) / httpSamples.length),
          ],
          [`concurrent (${HTTP_WINDOW} in flight)`, '', '', httpRun.rate],
        ],
      },
    ]
  } finally {
    await client.close()
    await gateway.stop()
    await rpc.stop()
    await caller.stop()
    await server.stop()
    await stockCaller.stop()
    await stockServer.stop()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const table of await runRpcBench()) process.stdout.write(`${formatTable(table)}\n`)
}
