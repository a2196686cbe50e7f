/**
 * A job mesh for the supervisor/runner tests: real nodes on loopback, every node's identity made
 * first so each config can carry a trust policy naming the others, a client node that signs jobs
 * and calls the supervisor over libp2p.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ConnectionGater } from '@libp2p/interface'
import type { SpanExporter } from '@opentelemetry/sdk-trace'
import { stringify } from 'yaml'
import { createLogger } from '../src/core/logger.js'
import { resolveConfig } from '../src/node/config/load.js'
import type { Role } from '../src/node/config/types.js'
import { generateIdentity } from '../src/node/identity.js'
import { createNode, type HorusNode } from '../src/node/node.js'
import { type AttachRolesOptions, attachRoles, type NodeRoles } from '../src/node/roles.js'
import { createJob, type JobEnvelope, type JobFields, JobRejectedError } from '../src/protocols/jobs/index.js'
import { Libp2pRpcClient } from '../src/protocols/rpc/index.js'
import { RUNNER_ERRORS } from '../src/roles/runner/index.js'
import type { RunnerStreamEvent } from '../src/roles/runner/service/wire.js'
import { type JobResultView, type JobStatusView, SUPERVISOR_ERRORS } from '../src/roles/supervisor/index.js'
import { waitFor } from '../src/testing/index.js'

export interface MeshMember {
  name: string
  dataDir: string
  peerId: string
}

export interface RunningMember extends MeshMember {
  node: HorusNode
  roles: NodeRoles
}

export class JobMesh {
  private readonly dirs: string[] = []
  private readonly running = new Set<RunningMember>()
  private readonly clients: Libp2pRpcClient[] = []
  readonly members: MeshMember[] = []

  /** Creates the identity of a member; call for every member before starting any. */
  async member(name: string, dataDir?: string): Promise<MeshMember> {
    const dir = dataDir ?? (await mkdtemp(join(tmpdir(), `horus-${name}-`)))
    if (dataDir === undefined) this.dirs.push(dir)
    const { identity } = await generateIdentity(dir)
    const member = { name, dataDir: dir, peerId: identity.peerId.toString() }
    this.members.push(member)
    return member
  }

  /** The trust section every member uses: everyone trusted in every role and capability. */
  trust(): { keys: Array<{ key: string; name: string; roles: string[]; capabilities: string[] }> } {
    return {
      keys: this.members.map((m) => ({
        key: m.peerId,
        name: m.name,
        roles: ['client', 'coordinator', 'supervisor', 'runner'],
        capabilities: ['*'],
      })),
    }
  }

  async start(
    member: MeshMember,
    init: {
      roles: Role[]
      bootstrap?: RunningMember | string
      extra?: Record<string, unknown>
      options?: AttachRolesOptions
      /** Write the config to `<dataDir>/node.yaml` and load it from there (the policy is then watched). */
      file?: boolean
      /** Trace the node, exporting every span to this exporter. */
      spanExporter?: SpanExporter
      /** Extra connection rules (a partition, `Partition.gater`). */
      connectionGater?: ConnectionGater
      /** `false`: the node listens but its roles are not started (the caller starts them). */
      startRoles?: boolean
    },
  ): Promise<RunningMember> {
    const raw = {
      dataDir: member.dataDir,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: bootstrapOf(init.bootstrap),
      roles: init.roles,
      trust: this.trust(),
      ...init.extra,
    }
    let file: string | undefined
    if (init.file === true) {
      file = join(member.dataDir, 'node.yaml')
      await writeFile(file, stringify(raw))
    }
    const config = resolveConfig(raw, file)
    const node = await createNode(config, {
      logger: createLogger(member.name),
      ...(init.spanExporter === undefined ? {} : { spanExporter: init.spanExporter }),
      ...(init.connectionGater === undefined ? {} : { connectionGater: init.connectionGater }),
    })
    const roles = attachRoles(node, init.options)
    if (init.startRoles !== false) await roles.start()
    const running: RunningMember = { ...member, node, roles }
    this.running.add(running)
    return running
  }

  /** Stops a member's roles and node (the data dir stays, for restarts). */
  async stop(member: RunningMember): Promise<void> {
    this.running.delete(member)
    await member.roles.stop()
    await member.node.stop()
  }

  /** An RPC client from `from`'s node to a member (or a multiaddr, for CLI processes). */
  client(from: RunningMember, to: RunningMember | string): Libp2pRpcClient {
    const client = new Libp2pRpcClient({
      libp2p: from.node.libp2p,
      target: typeof to === 'string' ? to : (to.node.multiaddrs()[0] as string),
      errors: [JobRejectedError, ...SUPERVISOR_ERRORS, ...RUNNER_ERRORS],
    })
    this.clients.push(client)
    return client
  }

  async cleanup(): Promise<void> {
    await Promise.allSettled(this.clients.splice(0).map((c) => c.close()))
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

function bootstrapOf(target: RunningMember | string | undefined): string[] {
  if (target === undefined) return []
  return [typeof target === 'string' ? target : (target.node.multiaddrs()[0] as string)]
}

/** A job signed by `signer` (the client node's own key). */
export function job(client: RunningMember, fields: JobFields): JobEnvelope {
  return createJob(fields, client.node.trust.signer)
}

/** Subscribes to the runner's `runner.logs` stream of the caller's own jobs; its events, as they come. */
export async function dispatcherStream(client: Libp2pRpcClient): Promise<RunnerStreamEvent[]> {
  const events: RunnerStreamEvent[] = []
  const sub = client.subscribe<RunnerStreamEvent>('runner.logs', {})
  await sub.id
  void (async () => {
    for await (const event of sub) events.push(event)
  })().catch(() => {})
  return events
}

/** Waits until `supervisor` sees a runner serving `capability` (heartbeats arrived). */
export async function runnerVisible(
  supervisor: RunningMember,
  capability: string,
  runner?: RunningMember,
  timeoutMs = 15_000,
): Promise<void> {
  await waitFor(
    () =>
      supervisor.roles.supervisor
        ?.runners()
        .some(
          (r) => r.capabilities.includes(capability) && (runner === undefined || r.peerId === runner.peerId),
        ),
    { timeoutMs, what: `a runner for "${capability}" to be visible to the supervisor` },
  )
}

export async function submit(
  client: Libp2pRpcClient,
  envelope: JobEnvelope,
  options: { waitForRunner?: boolean } = {},
): Promise<JobStatusView> {
  return client.call<JobStatusView>('supervisor.create_job', { job: envelope, ...options })
}

export async function result(
  client: Libp2pRpcClient,
  jobId: string,
  timeoutMs = 20_000,
): Promise<JobResultView> {
  return client.call<JobResultView>(
    'supervisor.get_job_result',
    { jobId, wait: true, timeoutMs },
    { timeoutMs: timeoutMs + 5_000 },
  )
}

/**
 * A supervisor, a runner of `work` that records each job it executes, a trusted client and a
 * rogue created after them (its key is in no trust policy), with the runner visible.
 */
export async function startRogueMesh(
  mesh: JobMesh,
  traced: { spanExporter?: SpanExporter } = {},
): Promise<{
  sup: RunningMember
  run: RunningMember
  cli: RunningMember
  rogue: RunningMember
  executed: string[]
}> {
  const executed: string[] = []
  const [s, r, c] = [await mesh.member('sup'), await mesh.member('run'), await mesh.member('cli')]
  const sup = await mesh.start(s, { roles: ['supervisor'], ...traced })
  const run = await mesh.start(r, {
    roles: ['runner'],
    bootstrap: sup,
    ...traced,
    options: {
      runner: {
        builtins: false,
        kinds: {
          work: async (j) => {
            executed.push(j.id)
            return 'done'
          },
        },
      },
    },
  })
  const cli = await mesh.start(c, { roles: [], bootstrap: sup })
  // Created after the others started: its key is in no trust policy.
  const rogue = await mesh.start(await mesh.member('rogue'), { roles: [], bootstrap: sup })
  await runnerVisible(sup, 'work', run)
  return { sup, run, cli, rogue, executed }
}

/**
 * A network partition between in-process nodes: each node's connection gater refuses dials to,
 * and connections from, the peers cut off from it, and `split` closes the connections already
 * open; `heal` lifts the rules. Real cuts, not forgotten addresses: a dial already under way (an
 * anti-entropy round, a redial) fails at once instead of finding its way around.
 */
export class Partition {
  /** peer → the peers it may not reach. */
  private readonly cut = new Map<string, Set<string>>()

  /** The gater of `member`'s node (pass it to `JobMesh.start`). */
  gater(member: MeshMember): ConnectionGater {
    const denied = (peer: { toString(): string }): boolean =>
      this.cut.get(member.peerId)?.has(peer.toString()) === true
    return {
      denyDialPeer: denied,
      denyInboundEncryptedConnection: denied,
      denyOutboundEncryptedConnection: denied,
    }
  }

  /** Cuts every node of `side` off from every node of `rest`, both ways, and hangs up between them. */
  async split(side: RunningMember[], rest: RunningMember[]): Promise<void> {
    for (const a of side)
      for (const b of rest) {
        this.deny(a.peerId, b.peerId)
        this.deny(b.peerId, a.peerId)
      }
    for (const a of side)
      for (const b of rest) {
        await a.node.libp2p.hangUp(b.node.libp2p.peerId)
        await b.node.libp2p.hangUp(a.node.libp2p.peerId)
      }
  }

  heal(): void {
    this.cut.clear()
  }

  private deny(from: string, to: string): void {
    const set = this.cut.get(from) ?? new Set<string>()
    set.add(to)
    this.cut.set(from, set)
  }
}
