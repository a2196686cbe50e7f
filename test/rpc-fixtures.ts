/**
 * Real libp2p nodes (TCP on 127.0.0.1, noise, yamux, identify) and a registry of test methods
 * whose handlers record what they saw, for the rpc-* and gateway-* tests.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { HorusError } from '../src/core/errors.js'
import { createLogger } from '../src/core/logger.js'
import {
  type Authorize,
  Libp2pRpcClient,
  type Libp2pRpcClientInit,
  MethodRegistry,
  RpcServer,
  type RpcServerInit,
} from '../src/protocols/rpc/index.js'

export class JobNotFoundError extends HorusError {
  static override readonly code = 'JOB_NOT_FOUND'
}

/** What handlers observed, so tests can assert on the server side. */
export class Probe {
  aborts: { method: string; reason: string }[] = []
  /** Resolvers for calls to `test.block`, released by tests. */
  blocked: Array<() => void> = []
  /** Emit functions of live `test.ticks` subscriptions. */
  emitters = new Map<string, (n: number) => Promise<void>>()
  teardowns = 0
}

export function testRegistry(probe: Probe, authorize?: Authorize): MethodRegistry {
  const registry = new MethodRegistry({
    info: { title: 'rpc test node', version: '1.2.3' },
    ...(authorize === undefined ? {} : { authorize }),
  })
  registry.add(
    {
      name: 'test.echo',
      summary: 'Return the value sent.',
      role: 'node',
      params: { type: 'object', properties: { value: {} }, required: ['value'], additionalProperties: false },
      result: {},
      handler: (params: { value: unknown }) => params.value,
    },
    {
      name: 'test.add',
      summary: 'Add two integers.',
      role: 'runner',
      params: {
        type: 'object',
        properties: { a: { type: 'integer' }, b: { type: 'integer' } },
        required: ['a', 'b'],
        additionalProperties: false,
      },
      result: { type: 'integer' },
      handler: (p: { a: number; b: number }) => p.a + p.b,
    },
    {
      name: 'test.wait',
      summary: 'Wait until aborted; records the abort reason.',
      role: 'node',
      params: { type: 'object', properties: {}, additionalProperties: false },
      result: { type: 'null' },
      timeoutMs: 60_000,
      handler: (_p: object, ctx) =>
        new Promise<null>((_, reject) => {
          ctx.signal.addEventListener('abort', () => {
            const reason = ctx.signal.reason as Error
            probe.aborts.push({ method: 'test.wait', reason: reason.name })
            reject(reason)
          })
        }),
    },
    {
      name: 'test.slow',
      summary: 'Like test.wait, with a short timeout of its own.',
      role: 'node',
      params: { type: 'object', properties: {}, additionalProperties: false },
      result: { type: 'null' },
      timeoutMs: 150,
      handler: (_p: object, ctx) =>
        new Promise<null>((_, reject) => {
          ctx.signal.addEventListener('abort', () => {
            probe.aborts.push({ method: 'test.slow', reason: (ctx.signal.reason as Error).name })
            reject(ctx.signal.reason)
          })
        }),
    },
    {
      name: 'test.block',
      summary: 'Resolve only when the test releases it.',
      role: 'node',
      params: { type: 'object', properties: {}, additionalProperties: false },
      result: { type: 'string' },
      handler: () =>
        new Promise<string>((resolve) => {
          probe.blocked.push(() => resolve('released'))
        }),
    },
    {
      name: 'test.block_grouped',
      summary: 'Like test.block, counted against its own in-flight budget per peer.',
      role: 'node',
      params: { type: 'object', properties: {}, additionalProperties: false },
      result: { type: 'string' },
      limitGroup: 'grouped',
      handler: () =>
        new Promise<string>((resolve) => {
          probe.blocked.push(() => resolve('released'))
        }),
    },
    {
      name: 'test.fail',
      summary: 'Throw the kind of error asked for.',
      role: 'node',
      params: { type: 'object', properties: { kind: { enum: ['horus', 'plain'] } }, required: ['kind'] },
      result: { type: 'null' },
      errors: [{ name: 'JobNotFoundError', code: -32011, message: 'no such job' }],
      handler: (p: { kind: string }) => {
        if (p.kind === 'horus') throw new JobNotFoundError('job 42 not found')
        throw new Error('secret internal detail at /home/user/app.js:12')
      },
    },
    {
      name: 'test.private',
      summary: 'Refused to everyone.',
      role: 'coordinator',
      params: { type: 'object', properties: {} },
      result: { type: 'null' },
      authorize: () => false,
      handler: () => null,
    },
  )
  registry.addSubscription({
    name: 'test.ticks',
    summary: 'Numbers pushed by the test through the probe.',
    role: 'node',
    params: {
      type: 'object',
      properties: { from: { type: 'integer', default: 0 } },
      additionalProperties: false,
    },
    event: { type: 'integer' },
    subscribe: async (p: { from: number }, ctx) => {
      // One event before the subscribe answer: it must still arrive after the id, first in order.
      await ctx.notify(p.from)
      probe.emitters.set(ctx.subscription, (n) => ctx.notify(n))
      return () => {
        probe.emitters.delete(ctx.subscription)
        probe.teardowns++
      }
    },
  })
  return registry
}

export async function createTestNode(): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
  })
}

/** A server node serving `testRegistry`, and a client node calling it. */
export interface RpcPair {
  probe: Probe
  server: RpcServer
  client: Libp2pRpcClient
  serverNode: Libp2p
  clientNode: Libp2p
}

/** Tracks nodes and servers so `cleanup()` in afterEach stops everything. */
export class RpcTestbed {
  private readonly stops: Array<() => Promise<void>> = []

  async node(): Promise<Libp2p> {
    const node = await createTestNode()
    this.stops.push(async () => {
      await node.stop()
    })
    return node
  }

  async server(node: Libp2p, init: RpcServerInit): Promise<RpcServer> {
    const server = new RpcServer({ registrar: node, logger: createLogger('rpc-server') }, init)
    await server.start()
    this.stops.push(() => server.stop())
    return server
  }

  /** Two nodes: one serving `testRegistry` (with `server` options), one with a client to it. */
  async pair(
    server: Partial<RpcServerInit> = {},
    client: Partial<Omit<Libp2pRpcClientInit, 'libp2p' | 'target'>> = {},
  ): Promise<RpcPair> {
    const probe = new Probe()
    const serverNode = await this.node()
    const clientNode = await this.node()
    const rpcServer = await this.server(serverNode, { registry: testRegistry(probe), ...server })
    const rpcClient = new Libp2pRpcClient({
      ...client,
      libp2p: clientNode,
      target: serverNode.getMultiaddrs()[0]?.toString() as string,
    })
    this.defer(() => rpcClient.close())
    return { probe, server: rpcServer, client: rpcClient, serverNode, clientNode }
  }

  defer(stop: () => Promise<void>): void {
    this.stops.push(stop)
  }

  async cleanup(): Promise<void> {
    for (const stop of this.stops.splice(0).reverse()) await stop()
  }
}

/** Params for `test.echo` whose request body is exactly `bytes` long, for a call with a one-digit id. */
export function echoOfBytes(bytes: number): { value: string } {
  const overhead = JSON.stringify({
    jsonrpc: '2.0',
    id: 9,
    method: 'test.echo',
    params: { value: '' },
  }).length
  return { value: 'x'.repeat(bytes - overhead) }
}

/** Poll `check` until it returns true, failing after `timeoutMs`. */
export async function eventually(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
