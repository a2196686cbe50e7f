import { validateOpenRPCDocument } from '@open-rpc/schema-utils-js'
import { describe, expect, it } from 'vitest'
import {
  MethodRegistry,
  nodeMethods,
  type OpenRpcDocument,
  RpcDefinitionError,
} from '../src/protocols/rpc/index.js'
import { Probe, testRegistry } from './rpc-fixtures.js'

function nodeInfo() {
  return {
    peerId: '12D3KooWtest',
    publicKeyHex: 'ab'.repeat(32),
    roles: ['coordinator', 'runner'],
    version: '0.1.0',
    startedAt: Date.now() - 5_000,
    getMultiaddrs: () => ['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWtest'],
    getPeers: () => [{ peerId: '12D3KooWother', addrs: ['/ip4/10.0.0.2/tcp/4001'], latencyMs: 3 }],
    health: () => ({ status: 'ok' as const, checks: { datastore: 'ok' } }),
  }
}

describe('the OpenRPC document generated from the registry', () => {
  it('validates against the OpenRPC meta-schema', () => {
    const registry = testRegistry(new Probe()).add(...nodeMethods(nodeInfo()))
    const doc = registry.openrpc()
    const verdict = validateOpenRPCDocument(doc as never)
    expect(verdict === true ? true : verdict.message).toBe(true)
    // The validator is live: a document with a broken method is refused.
    const broken = { ...doc, methods: [{ ...doc.methods[0], errors: [{ code: 'x' }] }] }
    expect(validateOpenRPCDocument(broken as never)).not.toBe(true)
  })

  it('describes every method once, with params, result, role and errors', () => {
    const registry = testRegistry(new Probe()).add(...nodeMethods(nodeInfo()))
    const doc: OpenRpcDocument = registry.openrpc()
    const names = doc.methods.map((m) => m.name)
    expect(new Set(names).size).toBe(names.length)
    expect(names).toEqual(
      expect.arrayContaining([
        'rpc.discover',
        'node.info',
        'node.peers',
        'node.health',
        'test.add',
        'test.ticks.subscribe',
        'test.ticks.unsubscribe',
      ]),
    )
    expect(doc.info).toEqual({ title: 'rpc test node', version: '1.2.3' })
    const add = doc.methods.find((m) => m.name === 'test.add')
    expect(add?.params).toEqual([
      { name: 'a', schema: { type: 'integer' }, required: true },
      { name: 'b', schema: { type: 'integer' }, required: true },
    ])
    expect(add?.['x-role']).toBe('runner')
    const codes = add?.errors.map((e) => e.code)
    expect(codes).toEqual(expect.arrayContaining([-32602, -32001, -32002, -32003, -32004, -32603]))
    const fail = doc.methods.find((m) => m.name === 'test.fail')
    expect(fail?.errors[0]).toEqual({
      code: -32011,
      message: 'no such job',
      data: { name: 'JobNotFoundError' },
    })
    const ticks = doc.methods.find((m) => m.name === 'test.ticks.subscribe')
    expect(ticks?.['x-notification']?.method).toBe('test.ticks.event')
  })

  it('serves the document through rpc.discover, the same as the registry holds', async () => {
    const registry = testRegistry(new Probe())
    const entry = registry.get('rpc.discover')
    if (entry?.kind !== 'call') throw new Error('rpc.discover missing')
    const doc = await entry.def.handler({} as never, {
      signal: new AbortController().signal,
      caller: { via: 'http' },
    })
    expect(doc).toBe(registry.openrpc())
  })

  it('refuses duplicate names, bad schemas and out-of-range error codes when declared', () => {
    const registry = new MethodRegistry()
    const method = {
      name: 'x.y',
      summary: 's',
      role: 'node' as const,
      params: { type: 'object' as const, properties: {} },
      result: {},
      handler: () => null,
    }
    registry.add(method)
    expect(() => registry.add(method)).toThrow(RpcDefinitionError)
    expect(() =>
      registry.add({
        ...method,
        name: 'x.z',
        params: { type: 'object', properties: { a: { type: 'nope' } } },
      }),
    ).toThrow(/x\.z: invalid params schema/)
    expect(() =>
      registry.add({ ...method, name: 'x.w', errors: [{ name: 'E', code: -32700, message: 'm' }] }),
    ).toThrow(/expected a code in -32099..-32010, got -32700/)
  })
})
