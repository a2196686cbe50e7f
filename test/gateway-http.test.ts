import { Agent, request } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { GatewayConfigError, HttpGateway, type HttpGatewayInit } from '../src/node/gateway/index.js'
import {
  CancelledError,
  HttpRpcClient,
  InvalidParamsError,
  TooManyRequestsError,
  UnauthorizedError,
} from '../src/protocols/rpc/index.js'
import { eventually, JobNotFoundError, Probe, testRegistry } from './rpc-fixtures.js'

const TOKEN = 'correct-horse-battery-staple'
const running: HttpGateway[] = []
afterEach(async () => {
  for (const g of running.splice(0)) await g.stop()
})

async function gateway(init: Partial<HttpGatewayInit> = {}, probe = new Probe()): Promise<HttpGateway> {
  const g = new HttpGateway({ registry: testRegistry(probe), listen: '127.0.0.1:0', ...init })
  await g.start()
  running.push(g)
  return g
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

describe('the HTTP gateway', () => {
  it('serves JSON-RPC calls and batches with the same validation as the libp2p protocol', async () => {
    const g = await gateway()
    expect(g.port).toBeGreaterThan(0)
    expect(g.url).toBe(`http://127.0.0.1:${g.port}`)
    const one = await post(`${g.url}/rpc`, {
      jsonrpc: '2.0',
      id: 1,
      method: 'test.add',
      params: { a: 1, b: 2 },
    })
    expect(one.status).toBe(200)
    expect(await one.json()).toEqual({ jsonrpc: '2.0', id: 1, result: 3 })

    const batch = await post(`${g.url}/rpc`, [
      { jsonrpc: '2.0', id: 'x', method: 'test.add', params: [2, 2] },
      { jsonrpc: '2.0', id: 'y', method: 'test.add', params: { a: 'two', b: 2 } },
      { jsonrpc: '2.0', id: 'z', method: 'test.private' },
      { jsonrpc: '2.0', method: 'test.add', params: [1, 1] },
    ])
    expect(await batch.json()).toEqual([
      { jsonrpc: '2.0', id: 'x', result: 4 },
      {
        jsonrpc: '2.0',
        id: 'y',
        error: expect.objectContaining({
          code: -32602,
          data: expect.objectContaining({ errors: [{ path: '/a', message: 'must be integer' }] }),
        }),
      },
      { jsonrpc: '2.0', id: 'z', error: expect.objectContaining({ code: -32001 }) },
    ])

    const onlyNotifications = await post(`${g.url}/rpc`, {
      jsonrpc: '2.0',
      method: 'test.add',
      params: [1, 1],
    })
    expect(onlyNotifications.status).toBe(204)

    const parse = await post(`${g.url}/rpc`, '{"jsonrpc": "2.0", "method"')
    expect(await parse.json()).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: expect.objectContaining({ code: -32700 }),
    })

    const subscribeOverPost = await post(`${g.url}/rpc`, {
      jsonrpc: '2.0',
      id: 3,
      method: 'test.ticks.subscribe',
    })
    expect(await subscribeOverPost.json()).toMatchObject({ id: 3, error: { code: -32008 } })
  })

  it('serves the OpenRPC document and health', async () => {
    let status: 'ok' | 'degraded' = 'ok'
    const g = await gateway({ health: () => ({ status, checks: { datastore: status } }) })
    const doc = (await (await fetch(`${g.url}/openrpc.json`)).json()) as {
      openrpc: string
      methods: { name: string }[]
    }
    expect(doc.openrpc).toBe('1.3.2')
    expect(doc.methods.map((m) => m.name)).toContain('test.add')
    const viaRpc = (await (
      await post(`${g.url}/rpc`, { jsonrpc: '2.0', id: 1, method: 'rpc.discover' })
    ).json()) as {
      result: unknown
    }
    expect(viaRpc.result).toEqual(doc)

    const healthy = await fetch(`${g.url}/healthz`)
    expect(healthy.status).toBe(200)
    expect(await healthy.json()).toEqual({ status: 'ok', checks: { datastore: 'ok' } })
    status = 'degraded'
    expect((await fetch(`${g.url}/healthz`)).status).toBe(503)
  })

  it('refuses oversized bodies (413), other media types (415), unknown paths (404) and wrong methods (405)', async () => {
    const g = await gateway({ maxBodyBytes: 1024 })
    const big = await post(`${g.url}/rpc`, {
      jsonrpc: '2.0',
      id: 1,
      method: 'test.echo',
      params: { value: 'x'.repeat(2000) },
    })
    expect(big.status).toBe(413)
    expect(await big.json()).toMatchObject({ error: { code: -32005 } })
    const text = await fetch(`${g.url}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '{}',
    })
    expect(text.status).toBe(415)
    expect((await fetch(`${g.url}/nothing`)).status).toBe(404)
    expect((await fetch(`${g.url}/rpc/deeper`, { method: 'POST' })).status).toBe(404)
    const wrong = await fetch(`${g.url}/rpc`)
    expect(wrong.status).toBe(405)
    expect(wrong.headers.get('allow')).toBe('POST')
    // The gateway still serves after all that.
    expect(
      (await post(`${g.url}/rpc`, { jsonrpc: '2.0', id: 1, method: 'test.add', params: [1, 2] })).status,
    ).toBe(200)
  })

  it('requires a bearer token to bind beyond loopback, and checks it on every request', async () => {
    expect(() => new HttpGateway({ registry: testRegistry(new Probe()), listen: '0.0.0.0:0' })).toThrow(
      GatewayConfigError,
    )
    expect(
      () => new HttpGateway({ registry: testRegistry(new Probe()), listen: '192.168.1.10:8080' }),
    ).toThrow(/gateway\.token: required when listening on 192\.168\.1\.10:8080/)
    expect(() => new HttpGateway({ registry: testRegistry(new Probe()), listen: 'nonsense' })).toThrow(
      GatewayConfigError,
    )
    const g = await gateway({ listen: '0.0.0.0:0', token: TOKEN })
    const url = `http://127.0.0.1:${g.port}`
    const call = { jsonrpc: '2.0', id: 1, method: 'test.add', params: [1, 2] }
    expect((await post(`${url}/rpc`, call)).status).toBe(401)
    expect((await post(`${url}/rpc`, call, { authorization: 'Bearer wrong-token-wrong-token' })).status).toBe(
      401,
    )
    expect((await fetch(`${url}/healthz`)).status).toBe(401)
    const ok = await post(`${url}/rpc`, call, { authorization: `Bearer ${TOKEN}` })
    expect(await ok.json()).toEqual({ jsonrpc: '2.0', id: 1, result: 3 })
    const client = new HttpRpcClient({ url, token: TOKEN })
    expect(await client.call('test.add', [5, 5])).toBe(10)
    await expect(new HttpRpcClient({ url }).call('test.add', [5, 5])).rejects.toBeInstanceOf(
      UnauthorizedError,
    )
  })

  it('without a token answers only requests addressed to a loopback host (no DNS rebinding)', async () => {
    const g = await gateway()
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${g.url}/healthz`, { headers: { host: 'attacker.example:80' } }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', reject)
      req.end()
    })
    expect(status).toBe(403)
    expect((await fetch(`http://localhost:${g.port}/healthz`)).status).toBe(200)
  })

  it('passes the HTTP caller to the authorize hook before validating params', async () => {
    const seen: unknown[] = []
    const g = new HttpGateway({
      registry: testRegistry(new Probe(), async (caller, method) => {
        seen.push({ ...caller, method })
        return method !== 'test.add'
      }),
      listen: '127.0.0.1:0',
      token: TOKEN,
    })
    await g.start()
    running.push(g)
    const client = new HttpRpcClient({ url: g.url, token: TOKEN })
    // Refused before validation: the bad params are never looked at.
    await expect(client.call('test.add', { a: 'bad' })).rejects.toBeInstanceOf(UnauthorizedError)
    expect(await client.call('test.echo', { value: 1 })).toBe(1)
    expect(seen).toEqual([
      { via: 'http', authenticated: true, remoteAddress: '127.0.0.1', method: 'test.add' },
      { via: 'http', authenticated: true, remoteAddress: '127.0.0.1', method: 'test.echo' },
    ])
  })

  it('lets later code mount and unmount routes, behind the same token check', async () => {
    const g = await gateway({ token: TOKEN })
    const unmount = g.route('POST', '/hooks', (req, res, ctx) => {
      res
        .writeHead(202, { 'content-type': 'text/plain' })
        .end(`hook ${ctx.url.pathname} via ${ctx.caller.via} ${req.method}`)
    })
    const auth = { authorization: `Bearer ${TOKEN}` }
    const hit = await fetch(`${g.url}/hooks/deploy`, { method: 'POST', headers: auth })
    expect(hit.status).toBe(202)
    expect(await hit.text()).toBe('hook /hooks/deploy via http POST')
    expect((await fetch(`${g.url}/hooks/deploy`, { method: 'POST' })).status).toBe(401)
    expect((await fetch(`${g.url}/hooksx`, { method: 'POST', headers: auth })).status).toBe(404)
    unmount()
    expect((await fetch(`${g.url}/hooks/deploy`, { method: 'POST', headers: auth })).status).toBe(404)
  })

  it('closes keep-alive sockets on stop, leaving nothing open', async () => {
    const g = await gateway()
    const agent = new Agent({ keepAlive: true })
    // Wrapped in an object: resolving with a bare promise would wait for it.
    const { socketClosed } = await new Promise<{ socketClosed: Promise<void> }>((resolve, reject) => {
      const req = request(`${g.url}/healthz`, { agent }, (res) => {
        res.resume()
        res.on('end', () => {
          const socket = req.socket
          resolve({ socketClosed: new Promise((done) => socket?.once('close', () => done())) })
        })
      })
      req.on('error', reject)
      req.end()
    })
    expect(agent.freeSockets).not.toEqual({}) // the socket is idle in the pool, kept alive
    const started = Date.now()
    await g.stop()
    await socketClosed
    expect(Date.now() - started).toBeLessThan(1_000)
    await expect(fetch(`${g.url}/healthz`)).rejects.toThrow()
    agent.destroy()
  })
})

describe('HttpRpcClient', () => {
  it('calls through the gateway and rebuilds typed errors', async () => {
    const g = await gateway()
    const client = new HttpRpcClient({ url: g.url, errors: [JobNotFoundError] })
    expect(await client.call('test.add', { a: 20, b: 22 })).toBe(42)
    await expect(client.call('test.add', { a: 'x', b: 1 })).rejects.toBeInstanceOf(InvalidParamsError)
    const app = await client.call('test.fail', { kind: 'horus' }).catch((e: unknown) => e)
    expect(app).toBeInstanceOf(JobNotFoundError)
    expect(app).toMatchObject({ code: 'JOB_NOT_FOUND', message: 'job 42 not found' })
  })

  it('cancels a call: closing the request aborts the handler', async () => {
    const probe = new Probe()
    const g = await gateway({}, probe)
    const client = new HttpRpcClient({ url: g.url })
    const controller = new AbortController()
    const call = client.call('test.wait', {}, { signal: controller.signal })
    await eventually(() => g.dispatcher.inFlightCount() === 1, 'the call to reach the handler')
    controller.abort()
    await expect(call).rejects.toBeInstanceOf(CancelledError)
    await eventually(() => probe.aborts.length === 1, 'the handler to see the abort')
    await eventually(() => g.dispatcher.inFlightCount() === 0, 'the slot to be freed')
  })

  it('caps calls in flight per HTTP client', async () => {
    const probe = new Probe()
    const g = await gateway({ maxInFlightPerClient: 2 }, probe)
    const client = new HttpRpcClient({ url: g.url })
    const blocked = [client.call('test.block'), client.call('test.block')]
    await eventually(() => probe.blocked.length === 2, 'two handlers running')
    await expect(client.call('test.add', [1, 1])).rejects.toBeInstanceOf(TooManyRequestsError)
    for (const release of probe.blocked) release()
    expect(await Promise.all(blocked)).toEqual(['released', 'released'])
  })

  it('subscribes over server-sent events: ordered events, teardown on unsubscribe and on stop', async () => {
    const probe = new Probe()
    const g = await gateway({}, probe)
    const client = new HttpRpcClient({ url: g.url })
    const sub = client.subscribe<number>('test.ticks', { from: 10 })
    const id = await sub.id
    for (let i = 11; i <= 60; i++) await probe.emitters.get(id)?.(i)
    const seen: number[] = []
    for await (const n of sub) {
      seen.push(n)
      if (n === 60) break
    }
    expect(seen).toEqual(Array.from({ length: 51 }, (_, i) => 10 + i))
    await eventually(() => probe.teardowns === 1, 'leaving the loop to tear the subscription down')

    const second = client.subscribe<number>('test.ticks', {})
    await second.id
    await g.stop()
    await eventually(() => probe.teardowns === 2, 'stop to tear the second subscription down')
    const rest: number[] = []
    await expect(
      (async () => {
        for await (const n of second) rest.push(n)
      })(),
    ).rejects.toThrow(/event stream/)
    expect(rest).toEqual([0])
    await client.close()
  })
})
