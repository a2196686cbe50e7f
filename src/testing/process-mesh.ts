import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { stringify } from 'yaml'
import type { Role } from '../node/config/types.js'
import { loadOrCreateIdentity } from '../node/identity.js'

/** One node of a process mesh, as its spec describes it. */
export interface ProcessNodeSpec {
  name: string
  roles: Role[]
  /** Serve the HTTP gateway on a free loopback port. */
  gateway?: boolean
  /** Extra config sections (runner plugins, coordinator limits…). */
  extra?: Record<string, unknown>
}

export interface ProcessNode {
  name: string
  peerId: string
  multiaddrs: string[]
  gatewayUrl?: string
  dataDir: string
  child: ChildProcess
  /** Everything the process wrote to stderr so far. */
  stderr(): string
}

export interface ProcessMeshInit {
  /** Where data dirs and config files go. */
  dir: string
  /** The `horus` entry point. @default this package's built CLI */
  bin?: string
  /** Extra environment for every node. */
  env?: Record<string, string>
  /** Node.js flags for every node (e.g. `--cpu-prof`, which NODE_OPTIONS does not take). */
  nodeArgs?: readonly string[]
  /** How long a node may take to print its addresses. @default 30_000 */
  startTimeoutMs?: number
}

const DEFAULT_BIN = fileURLToPath(new URL('../cli/bin.js', import.meta.url))

/**
 * A local mesh of real `horus node start` processes on loopback: keys generated up front so every
 * node's trust policy names every other node (and the client key) with its roles, the first node
 * as everyone's bootstrap. `horus demo` and the multi-process tests use it.
 */
export class ProcessMesh {
  readonly nodes: ProcessNode[] = []
  /** Data dir holding the client identity every node trusts with role `client`. */
  readonly clientDir: string
  private readonly init: ProcessMeshInit

  constructor(init: ProcessMeshInit) {
    this.init = init
    this.clientDir = join(init.dir, 'client')
  }

  async start(specs: ProcessNodeSpec[]): Promise<ProcessNode[]> {
    const trust = await meshTrust(this.clientDir, this.init.dir, specs)
    let bootstrap: string[] = []
    for (const spec of specs) {
      const node = await this.startNode(spec, trust, bootstrap)
      if (bootstrap.length === 0) bootstrap = [node.multiaddrs[0] as string]
    }
    return this.nodes
  }

  private async startNode(spec: ProcessNodeSpec, trust: unknown, bootstrap: string[]): Promise<ProcessNode> {
    const dataDir = join(this.init.dir, spec.name)
    await mkdir(dataDir, { recursive: true })
    const config = {
      dataDir,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap,
      roles: spec.roles,
      ...(spec.gateway === true ? { gateway: { listen: '127.0.0.1:0' } } : {}),
      trust,
      ...spec.extra,
    }
    const file = join(this.init.dir, `${spec.name}.yaml`)
    await writeFile(file, stringify(config))
    const node = await spawnHorusNode({
      name: spec.name,
      configFile: file,
      dataDir,
      bin: this.init.bin ?? DEFAULT_BIN,
      env: { ...process.env, ...this.init.env },
      ...(this.init.nodeArgs === undefined ? {} : { nodeArgs: this.init.nodeArgs }),
      startTimeoutMs: this.init.startTimeoutMs ?? 30_000,
    })
    this.nodes.push(node)
    return node
  }

  /** Stops every node gracefully (SIGTERM, then SIGKILL after 10 s); returns their exit codes. */
  async stop(): Promise<(number | null)[]> {
    const nodes = this.nodes.splice(0)
    return Promise.all(nodes.map((node) => stopProcess(node.child)))
  }
}

/**
 * Identities for the client and every node (created in `<dir>/<name>` when new), and the trust
 * policy every node of the mesh gets: each node with its roles, the client as `client`.
 */
export async function meshTrust(
  clientDir: string,
  dir: string,
  specs: ReadonlyArray<{ name: string; roles: readonly Role[] }>,
): Promise<{ keys: Array<Record<string, unknown>> }> {
  const client = await loadOrCreateIdentity(clientDir)
  const identities = await Promise.all(specs.map((spec) => loadOrCreateIdentity(join(dir, spec.name))))
  return {
    keys: [
      { key: client.peerId.toString(), name: 'client', roles: ['client'], capabilities: ['*'] },
      ...specs.map((spec, i) => ({
        key: identities[i]?.peerId.toString(),
        name: spec.name,
        roles: spec.roles.length > 0 ? [...spec.roles] : ['client'],
        capabilities: ['*'],
      })),
    ],
  }
}

export interface SpawnNodeInit {
  name: string
  configFile: string
  dataDir: string
  /** The `horus` entry point. */
  bin: string
  env: NodeJS.ProcessEnv
  startTimeoutMs: number
  /** Node.js flags before the entry point. */
  nodeArgs?: readonly string[]
  /** Runs the node through this command, e.g. `['ip', 'netns', 'exec', ns]` (it must exec). */
  wrap?: readonly string[]
  /** Every chunk the process writes to stderr, from its first (a log file). */
  onStderr?: (chunk: Buffer) => void
}

/** Starts `horus node start --config F --json` and resolves once it printed its addresses. */
export async function spawnHorusNode(init: SpawnNodeInit): Promise<ProcessNode> {
  const args = [...(init.nodeArgs ?? []), init.bin, 'node', 'start', '--config', init.configFile, '--json']
  const [command, ...prefix] = init.wrap ?? []
  const child =
    command === undefined
      ? spawn(process.execPath, args, { env: init.env, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(command, [...prefix, process.execPath, ...args], {
          env: init.env,
          stdio: ['ignore', 'pipe', 'pipe'],
        })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    init.onStderr?.(chunk)
    stderr += chunk.toString()
    // Keep the tail only: a long-lived node with DEBUG on must not grow the test's memory.
    if (stderr.length > 2_000_000) stderr = stderr.slice(-1_000_000)
  })
  const lines = createInterface({ input: child.stdout as NonNullable<typeof child.stdout> })
  const signal = AbortSignal.timeout(init.startTimeoutMs)
  try {
    const exited = once(child, 'exit', { signal }).then(([code]) => {
      throw new Error(`node ${init.name} exited with ${String(code)} before starting:\n${stderr}`)
    })
    const [line] = (await Promise.race([once(lines, 'line', { signal }), exited])) as [string]
    const info = JSON.parse(line) as { peerId: string; multiaddrs: string[]; gateway?: string }
    return {
      name: init.name,
      peerId: info.peerId,
      multiaddrs: info.multiaddrs,
      dataDir: init.dataDir,
      child,
      stderr: () => stderr,
      ...(info.gateway === undefined ? {} : { gatewayUrl: info.gateway }),
    }
  } catch (err) {
    child.kill('SIGKILL')
    if (!signal.aborted) throw err
    throw new Error(
      `node ${init.name} did not print its addresses within ${init.startTimeoutMs} ms; its stderr ends:\n${stderr.slice(-4_000)}`,
      { cause: err },
    )
  }
}

export async function stopProcess(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
  const exited = once(child, 'exit')
  child.kill(signal)
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  const [code] = (await exited) as [number | null]
  clearTimeout(timer)
  return code
}
