/** A JSON-RPC client this project did not write (@open-rpc/client-js) against the HTTP gateway. */
import { Client, HTTPTransport, JSONRPCError, RequestManager } from '@open-rpc/client-js'
import { afterEach, describe, expect, it } from 'vitest'
import { HttpGateway } from '../src/node/gateway/index.js'
import { nodeMethods } from '../src/protocols/rpc/index.js'
import { Probe, testRegistry } from './rpc-fixtures.js'

let gateway: HttpGateway | undefined
afterEach(async () => {
  await gateway?.stop()
  gateway = undefined
})

async function start(token?: string): Promise<HttpGateway> {
  const registry = testRegistry(new Probe()).add(
    ...nodeMethods({
      peerId: '12D3KooWgateway',
      publicKeyHex: 'cd'.repeat(32),
      roles: ['supervisor'],
      version: '0.1.0',
      startedAt: Date.now() - 1_000,
      getMultiaddrs: () => ['/ip4/127.0.0.1/tcp/4001'],
      getPeers: () => [],
      health: () => ({ status: 'ok' }),
    }),
  )
  gateway = new HttpGateway({ registry, listen: '127.0.0.1:0', ...(token === undefined ? {} : { token }) })
  await gateway.start()
  return gateway
}

describe('@open-rpc/client-js against the gateway', () => {
  it('calls methods by name and by position, and receives JSON-RPC errors', async () => {
    const g = await start()
    const transport = new HTTPTransport(`${g.url}/rpc`)
    const client = new Client(new RequestManager([transport]))
    expect(await client.request({ method: 'test.add', params: { a: 3, b: 4 } })).toBe(7)
    expect(await client.request({ method: 'test.add', params: [3, 4] })).toBe(7)
    const info = await client.request({ method: 'node.info', params: [] })
    expect(info).toMatchObject({ peerId: '12D3KooWgateway', roles: ['supervisor'], version: '0.1.0' })
    expect(info.uptimeMs).toBeGreaterThanOrEqual(1_000)
    const doc = await client.request({ method: 'rpc.discover', params: [] })
    expect(doc.methods.map((m: { name: string }) => m.name)).toContain('node.health')

    const err = await client
      .request({ method: 'test.add', params: { a: 'x', b: 1 } })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(JSONRPCError)
    expect((err as JSONRPCError).code).toBe(-32602)
    const missing = await client.request({ method: 'no.such.method', params: [] }).catch((e: unknown) => e)
    expect((missing as JSONRPCError).code).toBe(-32601)
    client.close()
  })

  it('sends the bearer token the gateway requires', async () => {
    const token = 'a-long-enough-test-token'
    const g = await start(token)
    const client = new Client(
      new RequestManager([
        new HTTPTransport(`${g.url}/rpc`, { headers: { authorization: `Bearer ${token}` } }),
      ]),
    )
    expect(await client.request({ method: 'test.echo', params: { value: 'hi' } })).toBe('hi')
    client.close()
  })
})
