import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { SpanExporter } from '@opentelemetry/sdk-trace'
import { createLogger } from '../core/logger.js'
import { resolveConfig } from '../node/config/load.js'
import type { NodeConfig } from '../node/config/types.js'
import { createNode, type HorusNode } from '../node/node.js'
import { type AttachRolesOptions, attachRoles, type NodeRoles } from '../node/roles.js'
import { TRUST_ROLES } from '../protocols/jobs/trust-policy.js'

export interface TestNodeOptions {
  /** Reuse a data dir (restart tests); a fresh temporary one otherwise. */
  dataDir?: string
  bootstrap?: string[]
  roles?: NodeConfig['roles']
  swarmKeyFile?: string
  /**
   * Extra raw config sections (trust, runner, …). Without a `trust` section the node trusts every
   * other node of this mesh (and they it) in every role and capability, as a cluster of your own does.
   */
  extra?: Record<string, unknown>
  /** Prefix for this node's log lines. */
  name?: string
  /** Trace the node, exporting each span as it ends to this exporter (`InMemorySpanExporter`). */
  spanExporter?: SpanExporter
}

/** A node started by `TestMesh.start`, its roles running. */
export interface TestMember {
  node: HorusNode
  /** The role services (`roles.coordinator`, `roles.runner`, …), started. */
  roles: NodeRoles
  /** The node's first address, with `/p2p/<id>`: a bootstrap address for the next node or a client. */
  addr: string
}

/**
 * Builds real mesh nodes on loopback TCP and removes everything they created. Users test their
 * own workflows with it the same way the project's tests do:
 *
 * ```ts
 * const mesh = new TestMesh()
 * const { node, roles } = await mesh.start({ roles: ['coordinator', 'supervisor', 'runner'] })
 * // … then mesh.cleanup() in afterEach
 * ```
 *
 * `start()` attaches and starts the node's roles (`attachRoles`); `node()` gives a bare node whose
 * roles are only announced, for tests of the mesh layer itself. Nodes trust each other (every role,
 * every capability) unless given a `trust` section of their own.
 */
export class TestMesh {
  private readonly nodes = new Set<HorusNode>()
  private readonly roles = new Map<HorusNode, NodeRoles>()
  /** Nodes whose trust policy this mesh keeps: every member of the mesh. */
  private readonly mutual = new Set<HorusNode>()
  private readonly dirs = new Set<string>()

  async tempDir(prefix = 'horus-test-'): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix))
    this.dirs.add(dir)
    return dir
  }

  async node(options: TestNodeOptions = {}): Promise<HorusNode> {
    const dataDir = options.dataDir ?? (await this.tempDir())
    const config = resolveConfig({
      dataDir,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: options.bootstrap ?? [],
      roles: options.roles ?? [],
      ...(options.swarmKeyFile === undefined ? {} : { swarmKey: options.swarmKeyFile }),
      ...options.extra,
    })
    const node = await createNode(config, {
      logger: createLogger(options.name ?? `node${this.nodes.size}`),
      ...(options.spanExporter === undefined ? {} : { spanExporter: options.spanExporter }),
    })
    this.nodes.add(node)
    if (options.extra?.trust === undefined) this.mutual.add(node)
    this.shareTrust()
    return node
  }

  /** Every node of the mesh trusts every other (those without a policy of their own). */
  private shareTrust(): void {
    const keys = [...this.nodes].map((n) => ({
      key: n.identity.publicKeyHex,
      roles: [...TRUST_ROLES],
      capabilities: ['*'],
    }))
    for (const node of this.mutual) node.trust.update({ keys })
  }

  /**
   * A node with its roles attached and started: `attach` passes custom kinds, script functions
   * (`{ runner: { functions: { process_data } } }`) and limits to `attachRoles`.
   */
  async start(options: TestNodeOptions & { attach?: AttachRolesOptions } = {}): Promise<TestMember> {
    const { attach, ...nodeOptions } = options
    const node = await this.node(nodeOptions)
    const roles = attachRoles(node, attach)
    try {
      await roles.start()
    } catch (err) {
      await this.stopNode(node)
      throw err
    }
    this.roles.set(node, roles)
    return { node, roles, addr: node.multiaddrs()[0] as string }
  }

  /** Stops one node and its roles (to restart it from the same data dir). */
  async stopNode(node: HorusNode): Promise<void> {
    this.nodes.delete(node)
    const roles = this.roles.get(node)
    this.roles.delete(node)
    await roles?.stop()
    this.mutual.delete(node)
    await node.stop()
  }

  /** Stops every node (roles first) and deletes every temporary dir; call in `afterEach`. */
  async cleanup(): Promise<void> {
    const nodes = [...this.nodes]
    this.mutual.clear()
    await Promise.allSettled(nodes.map((node) => this.stopNode(node)))
    const dirs = [...this.dirs]
    this.dirs.clear()
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })))
  }
}
