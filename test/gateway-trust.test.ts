/**
 * The gateway's side of the trust model, on real nodes: a request from another origin is refused
 * on every route (so `POST /hooks/<name>` cannot be forged from a web page), and HTTP callers act
 * with the node's own key, narrowed by `gateway.grant` when one is configured.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigError } from '../src/core/errors.js'
import { resolveConfig } from '../src/node/config/load.js'
import { trustAuthorizer } from '../src/node/rpc-access.js'
import { TrustPolicy } from '../src/protocols/jobs/index.js'
import { HttpRpcClient, Libp2pRpcClient, type MethodRegistry } from '../src/protocols/rpc/index.js'
import type { RunSummary } from '../src/roles/coordinator/index.js'
import { waitFor } from '../src/testing/index.js'
import { Executions, Gates, hookHeaders, registerParams, testKinds } from './coordinator-fixtures.js'
import { startCliNode, stopCliNode } from './helpers/cli.js'
import { JobMesh, job, type RunningMember, runnerVisible } from './jobs-flow-fixtures.js'

const mesh = new JobMesh()
const closers: Array<() => Promise<unknown>> = []
afterEach(async () => {
  await Promise.allSettled(closers.splice(0).map((close) => close()))
  await mesh.cleanup()
})

const HOOKED = {
  workflow: { name: 'hooked', steps: [{ id: 'greet', runner: 'echo', payload: 'hello' }] },
}

async function hub(
  gateway: Record<string, unknown> = {},
): Promise<{ hub: RunningMember; cli: RunningMember }> {
  const [h, c] = [await mesh.member('hub'), await mesh.member('cli')]
  const node = await mesh.start(h, {
    roles: ['coordinator', 'supervisor', 'runner'],
    extra: { gateway: { listen: '127.0.0.1:0', ...gateway } },
    options: { runner: { builtins: false, kinds: testKinds(new Gates(), new Executions()) } },
  })
  const cli = await mesh.start(c, { roles: [], bootstrap: node })
  await runnerVisible(node, 'echo')
  return { hub: node, cli }
}

function http(member: RunningMember): HttpRpcClient {
  const client = new HttpRpcClient({ url: member.node.gateway?.url as string })
  closers.push(async () => client.close())
  return client
}

describe('cross-origin requests', () => {
  it('are refused on every route; a forged hook starts no run, the same origin and no origin are served', async () => {
    const { hub: node, cli } = await hub()
    const rpc = new Libp2pRpcClient({ libp2p: cli.node.libp2p, target: node.node.multiaddrs()[0] as string })
    closers.push(() => rpc.close())
    const secret = 'greet-hook-secret-0123'
    await rpc.call(
      'coordinator.register_trigger',
      registerParams(cli, { name: 'greet', kind: 'http', workflow: HOOKED, secret }),
    )
    const url = node.node.gateway?.url as string

    for (const origin of [
      'http://evil.example',
      'null',
      'http://127.0.0.1:1',
      url.replace('http:', 'ftp:'),
    ]) {
      for (const [path, init] of [
        ['/hooks/greet', { method: 'POST' }],
        ['/hooks/greet', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' }],
        ['/rpc', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }],
        ['/healthz', { method: 'GET' }],
      ] as const) {
        const res = await fetch(`${url}${path}`, {
          ...init,
          headers: { ...('headers' in init ? init.headers : {}), origin },
        })
        expect(res.status, `${origin} ${path}`).toBe(403)
        const body = (await res.json()) as { error: { name: string; message: string } }
        expect(body.error.message).toMatch(/^cross-origin request refused: Origin ".*" is not this gateway/)
      }
    }
    expect(await rpc.call<RunSummary[]>('coordinator.list_workflows', {})).toEqual([])

    const own = await fetch(`${url}/hooks/greet`, {
      method: 'POST',
      headers: { ...hookHeaders(secret, '{}'), origin: url },
      body: '{}',
    })
    expect(own.status).toBe(200)
    expect((await fetch(`${url}/healthz`)).status).toBe(200)
    expect(await rpc.call<RunSummary[]>('coordinator.list_workflows', {})).toHaveLength(1)
  })
})

describe('the identity of HTTP callers', () => {
  it("is the node's key by default: every role its self entry holds", async () => {
    const { hub: node } = await hub()
    const client = http(node)
    expect(await client.call<{ peerId: string }>('runner.describe', {})).toMatchObject({
      peerId: node.peerId,
    })
    expect(node.node.gatewayIdentity()).toBe(
      `HTTP callers act as this node's key ${node.peerId}, every role and capability its trust entry (self) holds; set gateway.grant to narrow it`,
    )
  })

  it('is narrowed by gateway.grant: roles decide the methods, capabilities the jobs and runs', async () => {
    const { hub: node, cli } = await hub({ grant: { roles: ['client'], capabilities: ['echo'] } })
    const client = http(node)
    await expect(client.call('runner.describe', {})).rejects.toMatchObject({ code: -32001 })
    expect(await client.call<unknown[]>('supervisor.list_runners', {})).not.toHaveLength(0)

    const echo = job(cli, { runner: 'echo', payload: 'over http' })
    expect(await client.call('supervisor.create_job', { job: echo })).toMatchObject({ jobId: echo.id })
    const fail = job(cli, { runner: 'fail', payload: 'x' })
    await expect(client.call('supervisor.create_job', { job: fail })).rejects.toThrow(
      /this gateway's grant does not include capability "fail" \(gateway\.grant\.capabilities: echo\)/,
    )
    const mixed = {
      workflow: {
        name: 'mixed',
        steps: [
          { id: 'a', runner: 'echo', payload: 'a' },
          { id: 'b', runner: 'fail', payload: 'b', depends_on: ['a'] },
        ],
      },
    }
    await expect(client.call('coordinator.submit_workflow', { workflow: mixed })).rejects.toThrow(
      /does not include capability "fail"/,
    )
    const { runId } = await client.call<{ runId: string }>('coordinator.submit_workflow', {
      workflow: HOOKED,
    })
    await waitFor(
      async () =>
        (await client.call<{ status: string }>('coordinator.get_workflow_status', { runId })).status ===
        'completed',
      {
        what: 'the granted run to complete',
      },
    )
    expect(node.node.gatewayIdentity()).toMatch(
      /restricted by gateway\.grant to roles client and capabilities echo$/,
    )
  })

  it('must be a key: without one the trust authorizer refuses every role method', () => {
    const policy = TrustPolicy.parse({ keys: [] }, { self: 'a'.repeat(64) })
    const registry = { get: () => ({ def: { role: 'supervisor' } }) } as unknown as MethodRegistry
    const authorize = trustAuthorizer(
      () => policy,
      () => registry,
    )
    expect(authorize({ via: 'http' }, 'supervisor.list_jobs')).toBe(false)
    expect(authorize({ via: 'http', peerId: 'a'.repeat(64) }, 'supervisor.list_jobs')).toBe(false)
    expect(authorize({ via: 'http', publicKeyHex: 'a'.repeat(64) }, 'supervisor.list_jobs')).toBe(true)
    expect(
      authorize(
        { via: 'http', publicKeyHex: 'a'.repeat(64), grant: { roles: ['supervisor'], capabilities: [] } },
        'supervisor.list_jobs',
      ),
    ).toBe(false)
  })

  it('is said in the start-up lines of `horus node start`', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'horus-gw-line-'))
    closers.push(() => rm(dir, { recursive: true, force: true }))
    const node = await startCliNode([
      '--data-dir',
      dir,
      '--listen',
      '/ip4/127.0.0.1/tcp/0',
      '--gateway',
      '127.0.0.1:0',
    ])
    closers.unshift(() => stopCliNode(node))
    await waitFor(() => node.stderr().includes("gateway: HTTP callers act as this node's key"), {
      timeoutMs: 10_000,
      what: 'the gateway identity line',
    })
    expect(node.stderr()).toContain(`gateway: HTTP callers act as this node's key ${node.peerId}, every role`)
  })
})

describe('gateway.grant in the config', () => {
  it('is validated with the rest of the config, every problem named', () => {
    expect(
      resolveConfig({
        gateway: { listen: '127.0.0.1:0', grant: { roles: ['client'], capabilities: ['hero', '*'] } },
      }).gateway,
    ).toEqual({ listen: '127.0.0.1:0', grant: { roles: ['client'], capabilities: ['hero', '*'] } })
    const issues = (grant: unknown): readonly string[] => {
      try {
        resolveConfig({ gateway: { listen: '127.0.0.1:0', grant } })
      } catch (err) {
        return (err as ConfigError).issues
      }
      return []
    }
    expect(issues({ roles: ['boss'], capabilities: ['Bad!'], extra: 1 })).toEqual([
      'gateway.grant.extra: unknown setting (known: roles, capabilities)',
      'gateway.grant.roles[0]: expected one of client, coordinator, supervisor, runner, admin, got "boss"',
      'gateway.grant.capabilities[0]: expected a capability name matching /^[a-z][a-z0-9_-]{0,63}$/ or "*", got "Bad!"',
    ])
    expect(issues({ capabilities: [] })).toEqual(['gateway.grant.roles: required in a grant'])
    expect(issues({ roles: [] })).toEqual(['gateway.grant.roles: expected at least one role'])
    expect(issues('all')).toEqual([
      'gateway.grant: expected a mapping with roles and capabilities, got "all"',
    ])
    expect(() => resolveConfig({ gateway: { listen: '127.0.0.1:0', grant: 'all' } })).toThrow(ConfigError)
  })
})
