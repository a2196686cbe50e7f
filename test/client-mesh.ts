/**
 * Real in-process mesh nodes for the SDK, CLI and dashboard tests: identities made first so every
 * config's trust policy can name every member (the SDK client included), roles attached with
 * `attachRoles`, everything stopped and deleted by `cleanup()`.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger } from '../src/core/logger.js'
import { resolveConfig } from '../src/node/config/load.js'
import type { Role } from '../src/node/config/types.js'
import { generateIdentity } from '../src/node/identity.js'
import { createNode, type HorusNode } from '../src/node/node.js'
import { type AttachRolesOptions, attachRoles, type NodeRoles } from '../src/node/roles.js'
import { waitFor } from '../src/testing/index.js'

export interface Member {
  name: string
  dataDir: string
  peerId: string
}

export interface Running extends Member {
  node: HorusNode
  roles: NodeRoles
  /** The node's first dialable address, with `/p2p/<id>`. */
  addr: string
}

export interface StartInit {
  roles: Role[]
  bootstrap?: Running[]
  /** Serve the HTTP gateway on a free loopback port. */
  gateway?: boolean
  options?: AttachRolesOptions
  extra?: Record<string, unknown>
}

export class ClientMesh {
  private readonly dirs: string[] = []
  private readonly running = new Set<Running>()
  readonly members: Member[] = []

  /** A member's identity (nodes and SDK clients alike); create them all before starting nodes. */
  async member(name: string): Promise<Member> {
    const dataDir = await mkdtemp(join(tmpdir(), `horus-${name}-`))
    this.dirs.push(dataDir)
    const { identity } = await generateIdentity(dataDir)
    const member = { name, dataDir, peerId: identity.peerId.toString() }
    this.members.push(member)
    return member
  }

  /** A directory that is removed at cleanup. */
  async tempDir(prefix = 'horus-client-test-'): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix))
    this.dirs.push(dir)
    return dir
  }

  /** Starts a node whose trust policy admits every member made so far in every role. */
  async start(member: Member, init: StartInit): Promise<Running> {
    const config = resolveConfig({
      dataDir: member.dataDir,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: (init.bootstrap ?? []).map((b) => b.addr),
      roles: init.roles,
      trust: {
        keys: this.members.map((m) => ({
          key: m.peerId,
          name: m.name,
          roles: ['client', 'coordinator', 'supervisor', 'runner'],
          capabilities: ['*'],
        })),
      },
      ...(init.gateway === true ? { gateway: { listen: '127.0.0.1:0' } } : {}),
      ...init.extra,
    })
    const node = await createNode(config, { logger: createLogger(member.name) })
    const roles = attachRoles(node, init.options)
    await roles.start()
    const running: Running = { ...member, node, roles, addr: node.multiaddrs()[0] as string }
    this.running.add(running)
    return running
  }

  async stop(member: Running): Promise<void> {
    this.running.delete(member)
    await member.roles.stop()
    await member.node.stop()
  }

  async cleanup(): Promise<void> {
    const running = [...this.running]
    this.running.clear()
    await Promise.allSettled(
      running.map(async (m) => {
        await m.roles.stop()
        await m.node.stop()
      }),
    )
    await Promise.all(this.dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
    this.members.length = 0
  }
}

/** Until `observer` has heard `peers`' heartbeats (liveness is how the SDK finds roles first). */
export async function hears(observer: Running, peers: Running[], timeoutMs = 15_000): Promise<void> {
  await waitFor(
    () => {
      const alive = new Set(observer.node.liveness.alive().map((p) => p.peerId))
      return peers.every((p) => alive.has(p.peerId))
    },
    { timeoutMs, what: `${observer.name} to hear ${peers.map((p) => p.name).join(', ')}` },
  )
}

/** Until the supervisor can dispatch `capability`. */
export async function runnerVisible(
  supervisor: Running,
  capability: string,
  timeoutMs = 15_000,
): Promise<void> {
  await waitFor(
    () => supervisor.roles.supervisor?.runners().some((r) => r.capabilities.includes(capability)),
    {
      timeoutMs,
      what: `a runner for "${capability}" visible to ${supervisor.name}`,
    },
  )
}

/** A custom runner kind for tests: echoes its input and payload, logs a line. */
export const ECHO_RUNNER: AttachRolesOptions = {
  runner: {
    builtins: false,
    kinds: {
      echo: async (job, ctx) => {
        ctx.log(`echo ${job.payload}`)
        return { payload: job.payload, input: job.input }
      },
    },
  },
}

/** The seed's data-pipeline shape with a parallel fan-out, runnable by the built-in kinds. */
export function pipelineYaml(fetchUrl: string, name = 'data-pipeline'): string {
  return `workflow:
  name: "${name}"
  steps:
    - id: "fetch"
      runner: "hero"
      payload: "!!http.get url:'${fetchUrl}'"
    - id: "count"
      runner: "sal"
      depends_on: ["fetch"]
      payload: |
        let items = input.fetch.items;
        ({ count: items.length })
    - id: "total"
      runner: "sal"
      depends_on: ["fetch"]
      payload: |
        let items = input.fetch.items;
        ({ sum: items.reduce((a, b) => a + b, 0) })
    - id: "store"
      runner: "osiris"
      depends_on: ["count", "total"]
      payload: |
        let model = osiris.model("results");
        model.create({ count: input.count.count, sum: input.total.sum });
`
}

/** A local HTTP fixture answering `{ items }` as JSON. */
export async function serveItems(items: number[]): Promise<{ url: string; close(): Promise<void> }> {
  const { createServer } = await import('node:http')
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ items }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}/data`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
