/**
 * A mesh of real `horus node start` processes, each in its own network namespace on a NetLab
 * (net-lab.ts), with the faults a real deployment meets: kill -9, SIGSTOP/SIGCONT, restart from
 * the same data dir, partitions (both ways or one way), a host's cable pulled, a full disk (the
 * data dir on a small tmpfs), a corrupted datastore file. Beside the nodes it runs the counter
 * service (counter-service.ts) in a namespace of its own. Users can test their own workflows
 * under faults with it, as the project's nemesis suite does.
 *
 * ```ts
 * await NemesisMesh.prepare()                 // root, ip, nft (installed with apt-get when missing)
 * const mesh = new NemesisMesh({ dir })
 * try {
 *   await mesh.start([{ name: 'c1', roles: ['coordinator'] }, { name: 'w1', roles: ['supervisor', 'runner'] }])
 *   await mesh.partition([['c1'], ['w1']]); await mesh.heal()
 * } finally { await mesh.close() }            // processes, namespaces, mounts: all gone
 * ```
 */
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createWriteStream, type WriteStream } from 'node:fs'
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { Libp2p } from '@libp2p/interface'
import { stringify } from 'yaml'
import { loadClientKey } from '../../client/identity.js'
import { createSdkHost } from '../../client/sdk-host.js'
import type { Role } from '../../node/config/types.js'
import { Libp2pRpcClient } from '../../protocols/rpc/libp2p-client.js'
import type { RpcParams } from '../../protocols/rpc/messages.js'
import { meshTrust, type ProcessNode, spawnHorusNode, stopProcess } from '../process-mesh.js'
import { NemesisSetupError, NetLabError } from './errors.js'
import { type LabHost, NetLab, ownerGone, run, sweepStaleLabs } from './net-lab.js'

/**
 * A built file of this package: the node processes run JavaScript, also when this module itself
 * is loaded from its TypeScript source (a test runner): then the file is looked up in `dist/`.
 */
function built(relative: string): string {
  const path = fileURLToPath(new URL(relative, import.meta.url))
  return import.meta.url.endsWith('.ts') ? path.replace(/\/src\//, '/dist/src/') : path
}

const DEFAULT_BIN = built('../../cli/bin.js')
const COUNTER_MAIN = built('./counter-main.js')
/** The effect kind's plugin, for `runner.plugins`. */
export const EFFECT_PLUGIN = built('./effect-plugin.js')
/** Every node listens on this port of its own address. */
const NODE_PORT = 4001
const COUNTER_PORT = 8080
const execFileAsync = promisify(execFile)

export interface NemesisNodeSpec {
  /** 1-8 of [a-z0-9]. */
  name: string
  roles: Role[]
  /** Subnets the node has a leg on (the first is where it listens). @default ['lan'] */
  subnets?: string[]
  /** Put the data dir on a tmpfs of this many MiB (for `fillDisk`). */
  tmpfsMb?: number
  /** Extra config sections (coordinator limits, runner plugins…). */
  extra?: Record<string, unknown>
}

export interface NemesisNode {
  readonly spec: NemesisNodeSpec
  readonly host: LabHost
  readonly peerId: string
  /** `/ip4/<its address>/tcp/4001/p2p/<peer id>`. */
  readonly addr: string
  readonly dataDir: string
  readonly configFile: string
  process: ProcessNode | undefined
  paused: boolean
  /** Largest resident set size seen, in MiB. */
  maxRssMb: number
}

export interface NemesisMeshInit {
  /** Parent of the mesh's temporary dir. @default os.tmpdir() */
  dir?: string
  /** The `horus` entry point. @default this package's built CLI */
  bin?: string
  /** Extra environment for every node (DEBUG…). */
  env?: Record<string, string>
  /** Prefix of every namespace, interface and dir. @default 'hf' */
  prefix?: string
  /** How long a node may take to start (a loaded 2-core machine, a datastore to recover). @default 90_000 */
  startTimeoutMs?: number
  /**
   * Keep each node's stderr (its log with `env.DEBUG`) in `<logDir>/<name>.log`, appended across
   * restarts, and the counter's executions in `<logDir>/executions.json` at close; the dir is
   * kept after `close()`.
   */
  logDir?: string
}

export class NemesisMesh {
  readonly lab: NetLab
  readonly nodes = new Map<string, NemesisNode>()
  /** Data dir of the identity every node trusts as `client`. */
  clientDir = ''
  /** The counter service's base URL (inside the lab). */
  counterUrl = ''
  /** This process's own address on the lab's `lan` subnet. */
  selfAddr = ''
  private dir = ''
  private readonly init: NemesisMeshInit
  private counter: ReturnType<typeof spawn> | undefined
  private readonly mounts: string[] = []
  private sampler: NodeJS.Timeout | undefined
  private rpcHost: Libp2p | undefined
  private readonly rpcClients = new Map<string, Libp2pRpcClient>()
  private closing: Promise<void> | undefined
  private readonly logs = new Map<string, WriteStream>()

  constructor(init: NemesisMeshInit = {}) {
    this.init = init
    this.lab = new NetLab(init.prefix ?? 'hf')
  }

  /**
   * Checks that this machine can run the harness, installing Debian's `iproute2` and `nftables`
   * when they are missing and we are root, and removes what interrupted runs left behind.
   * Throws NemesisSetupError saying exactly what is missing otherwise.
   */
  static async prepare(prefix = 'hf'): Promise<string[]> {
    if (process.platform !== 'linux')
      throw new NemesisSetupError(
        `the nemesis harness needs Linux network namespaces; this is ${process.platform}`,
      )
    if (process.getuid?.() !== 0)
      throw new NemesisSetupError(
        'the nemesis harness needs root: it creates network namespaces (ip netns), veth pairs, nftables rules and tmpfs mounts; run the tests as root',
      )
    const missing = async (): Promise<string[]> => {
      const out: string[] = []
      for (const [tool, pkg] of [
        ['ip', 'iproute2'],
        ['nft', 'nftables'],
      ] as const) {
        const found = await execFileAsync('sh', ['-c', `command -v ${tool}`]).then(
          () => true,
          () => false,
        )
        if (!found) out.push(pkg)
      }
      return out
    }
    let packages = await missing()
    if (packages.length > 0) {
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
      await execFileAsync('apt-get', ['install', '-y', '-qq', ...packages], { env })
        .catch(async () => {
          await execFileAsync('apt-get', ['update', '-qq'], { env })
          await execFileAsync('apt-get', ['install', '-y', '-qq', ...packages], { env })
        })
        .catch(() => undefined)
      packages = await missing()
      if (packages.length > 0)
        throw new NemesisSetupError(
          `the nemesis harness needs Debian packages ${packages.join(', ')}: apt-get install ${packages.join(' ')}`,
        )
    }
    return [
      ...(await sweepStaleLabs(prefix)),
      ...(await sweepStaleMounts(prefix)),
      ...(await sweepStaleDirs(prefix)),
    ]
  }

  async start(specs: NemesisNodeSpec[]): Promise<void> {
    this.dir = await mkdtemp(join(this.init.dir ?? tmpdir(), `${this.lab.id}-`))
    this.clientDir = join(this.dir, 'client')
    await this.lab.open()
    this.selfAddr = await this.lab.attachSelf('lan')
    await this.startCounter()
    for (const spec of specs) {
      const dataDir = join(this.dir, spec.name)
      await mkdir(dataDir, { recursive: true })
      if (spec.tmpfsMb !== undefined) {
        await run('mount', [
          '-t',
          'tmpfs',
          '-o',
          `size=${spec.tmpfsMb}m,mode=0700`,
          `${this.lab.id}-tmpfs`,
          dataDir,
        ])
        this.mounts.push(dataDir)
      }
    }
    const trust = await meshTrust(this.clientDir, this.dir, specs)
    // One after the other: addresses are handed out in spec order.
    const hosts: LabHost[] = []
    for (const spec of specs) hosts.push(await this.lab.host(spec.name, spec.subnets ?? ['lan']))
    const keys = trust.keys.slice(1)
    for (const [i, spec] of specs.entries()) {
      const host = hosts[i] as LabHost
      const ip = host.addrs.get((spec.subnets ?? ['lan'])[0] as string) as string
      const peerId = String(keys[i]?.key)
      const dataDir = join(this.dir, spec.name)
      this.nodes.set(spec.name, {
        spec,
        host,
        peerId,
        addr: `/ip4/${ip}/tcp/${NODE_PORT}/p2p/${peerId}`,
        dataDir,
        configFile: join(this.dir, `${spec.name}.yaml`),
        process: undefined,
        paused: false,
        maxRssMb: 0,
      })
    }
    for (const node of this.nodes.values()) {
      const config = {
        dataDir: node.dataDir,
        // On every leg: a host on two subnets (a relay) serves both.
        listen: [...node.host.addrs.values()].map((ip) => `/ip4/${ip}/tcp/${NODE_PORT}`),
        // Every other node it shares a subnet with is a bootstrap peer, at its address there
        // (retried until it answers): any start order works.
        bootstrap: this.neighbours(node),
        roles: node.spec.roles,
        trust,
        ...node.spec.extra,
      }
      await writeFile(node.configFile, stringify(config))
    }
    await Promise.all([...this.nodes.keys()].map((name) => this.startNode(name)))
    this.sampler = setInterval(() => void this.sampleMemory(), 1_000)
    this.sampler.unref()
  }

  /** `/ip4/<ip>/tcp/4001/p2p/<id>` of every other node, on the first subnet it shares with `node`. */
  private neighbours(node: NemesisNode): string[] {
    return [...this.nodes.values()].flatMap((other) => {
      if (other === node) return []
      const shared = [...node.host.addrs.keys()].find((subnet) => other.host.addrs.has(subnet))
      if (shared === undefined) return []
      return [`/ip4/${other.host.addrs.get(shared)}/tcp/${NODE_PORT}/p2p/${other.peerId}`]
    })
  }

  node(name: string): NemesisNode {
    const node = this.nodes.get(name)
    if (node === undefined) throw new NetLabError(`no node "${name}" in this mesh`)
    return node
  }

  /** Names of the nodes with `role`. */
  withRole(role: Role): string[] {
    return [...this.nodes.values()].filter((n) => n.spec.roles.includes(role)).map((n) => n.spec.name)
  }

  running(name: string): boolean {
    const child = this.node(name).process?.child
    return child !== undefined && child.exitCode === null && child.signalCode === null
  }

  /** Starts (or restarts, from the same data dir and address) one node. */
  async startNode(name: string): Promise<void> {
    const node = this.node(name)
    if (this.running(name)) return
    node.process = await spawnHorusNode({
      name,
      configFile: node.configFile,
      dataDir: node.dataDir,
      bin: this.init.bin ?? DEFAULT_BIN,
      env: { ...process.env, ...this.init.env, HORUS_NEMESIS_NODE: name },
      startTimeoutMs: this.init.startTimeoutMs ?? 90_000,
      wrap: ['ip', 'netns', 'exec', node.host.ns],
      ...(this.init.logDir === undefined ? {} : { onStderr: this.logTo(name, this.init.logDir) }),
    })
    node.paused = false
  }

  private logTo(name: string, dir: string): (chunk: Buffer) => void {
    let stream = this.logs.get(name)
    if (stream === undefined) {
      stream = createWriteStream(join(dir, `${name}.log`), { flags: 'a' })
      this.logs.set(name, stream)
    }
    const to = stream
    to.write(`--- ${new Date().toISOString()} node ${name} starting\n`)
    return (chunk) => {
      to.write(chunk)
    }
  }

  /** kill -9. */
  async kill(name: string): Promise<void> {
    const child = this.node(name).process?.child
    if (child === undefined || !this.running(name)) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
    this.node(name).paused = false
  }

  /** SIGTERM (then SIGKILL after 10 s): a clean stop. */
  async stopNode(name: string): Promise<void> {
    const node = this.node(name)
    if (node.process === undefined || !this.running(name)) return
    if (node.paused) await this.resume(name)
    await stopProcess(node.process.child)
  }

  async pause(name: string): Promise<void> {
    if (!this.running(name)) return
    this.node(name).process?.child.kill('SIGSTOP')
    this.node(name).paused = true
  }

  async resume(name: string): Promise<void> {
    if (!this.running(name)) return
    this.node(name).process?.child.kill('SIGCONT')
    this.node(name).paused = false
  }

  /**
   * Cuts traffic between the groups (each node of a group reaches only its own group). With
   * `oneWay`, only what the first group sends to the others is dropped.
   */
  async partition(groups: string[][], options: { oneWay?: boolean } = {}): Promise<void> {
    for (const [i, group] of groups.entries()) {
      if (options.oneWay === true && i > 0) break
      const others = groups.filter((_, j) => j !== i).flat()
      const addrs = others.flatMap((name) => [...this.node(name).host.addrs.values()])
      for (const name of group) await this.lab.cut(name, addrs, options)
    }
  }

  /** Pulls a node's cables (or plugs them back). */
  async isolate(name: string, isolated = true): Promise<void> {
    await this.lab.setLinks(name, !isolated)
  }

  /** Every cut removed and every cable plugged back. */
  async heal(): Promise<void> {
    for (const name of this.nodes.keys()) {
      await this.lab.uncut(name)
      await this.lab.setLinks(name, true)
    }
  }

  /** Fills the node's tmpfs data dir until the disk is full; `freeDisk` undoes it. */
  async fillDisk(name: string): Promise<number> {
    const node = this.node(name)
    if (node.spec.tmpfsMb === undefined)
      throw new NetLabError(`node "${name}" has no tmpfs data dir (spec.tmpfsMb)`)
    const file = join(node.dataDir, 'hf-filler')
    const handle = await open(file, 'a')
    const chunk = Buffer.alloc(256 * 1024, 0x5a)
    let written = 0
    try {
      for (;;) {
        await handle.write(chunk)
        written += chunk.length
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
    } finally {
      await handle.close()
    }
    return written
  }

  async freeDisk(name: string): Promise<void> {
    await unlink(join(this.node(name).dataDir, 'hf-filler')).catch(() => undefined)
  }

  /**
   * Overwrites `bytes` bytes in the middle of the datastore's newest file (LevelDB's log or
   * table): the node must be stopped. `random` picks the offset and the garbage (seeded runs
   * corrupt the same way). Returns what it did.
   */
  async corruptDatastore(name: string, random: () => number, bytes = 64): Promise<string> {
    if (this.running(name)) throw new NetLabError(`stop node "${name}" before corrupting its datastore`)
    const dir = join(this.node(name).dataDir, 'datastore')
    const files = (await readdir(dir)).filter((f) => /\.(log|ldb)$/.test(f))
    const sized = await Promise.all(files.map(async (f) => ({ f, size: (await stat(join(dir, f))).size })))
    const target = sized.filter((x) => x.size > bytes * 2).sort((a, b) => (a.f < b.f ? 1 : -1))[0]
    if (target === undefined) return 'no datastore file large enough to corrupt'
    const offset = Math.floor(random() * (target.size - bytes))
    const garbage = Buffer.from(Array.from({ length: bytes }, () => Math.floor(random() * 256)))
    const handle = await open(join(dir, target.f), 'r+')
    await handle.write(garbage, 0, bytes, offset)
    await handle.close()
    return `${bytes} bytes at ${offset} of ${target.f} (${target.size} bytes)`
  }

  /** One JSON-RPC call to one node (this process's own SDK host, the client identity). */
  async rpc<T>(name: string, method: string, params?: RpcParams, timeoutMs = 5_000): Promise<T> {
    return this.rpcAt(this.node(name).addr, method, params, timeoutMs)
  }

  /**
   * One JSON-RPC call to the node at `addr`: another of its addresses than the one `rpc` uses, e.g.
   * a `/p2p-circuit` address through a relay, for a node on a subnet this process is not on.
   */
  async rpcAt<T>(addr: string, method: string, params?: RpcParams, timeoutMs = 5_000): Promise<T> {
    let client = this.rpcClients.get(addr)
    if (client === undefined) {
      this.rpcHost ??= await createSdkHost({ privateKey: await loadClientKey(this.clientDir) })
      client = new Libp2pRpcClient({ libp2p: this.rpcHost, target: addr, openTimeoutMs: timeoutMs })
      this.rpcClients.set(addr, client)
    }
    return client.call<T>(method, params, { timeoutMs })
  }

  /** What the counter service recorded. */
  async executions(): Promise<Array<{ jobId: string; node: string; at: number }>> {
    const response = await fetch(new URL('/executions', this.counterUrl), {
      signal: AbortSignal.timeout(5_000),
    })
    return (await response.json()) as Array<{ jobId: string; node: string; at: number }>
  }

  /** Work dirs runners left in their data dirs (`<dataDir>/work/*`). */
  async leftoverWorkDirs(): Promise<string[]> {
    const out: string[] = []
    for (const node of this.nodes.values()) {
      const dir = join(node.dataDir, 'work')
      const names = await readdir(dir).catch(() => [] as string[])
      out.push(...names.map((n) => join(dir, n)))
    }
    return out
  }

  /**
   * Everything stopped and removed: processes, RPC host, mounts, namespaces, the temporary dir.
   * Each step runs even when an earlier one failed; calling it again joins the first call.
   */
  close(): Promise<void> {
    this.closing ??= this.closeAll()
    return this.closing
  }

  private async closeAll(): Promise<void> {
    clearInterval(this.sampler)
    const failures: unknown[] = []
    const step = async (fn: () => Promise<unknown>): Promise<void> => {
      try {
        await fn()
      } catch (err) {
        failures.push(err)
      }
    }
    await step(() => Promise.allSettled([...this.rpcClients.values()].map((c) => c.close())))
    this.rpcClients.clear()
    await step(async () => this.rpcHost?.stop())
    const logDir = this.init.logDir
    if (logDir !== undefined && this.counterUrl !== '')
      await step(async () =>
        writeFile(join(logDir, 'executions.json'), JSON.stringify(await this.executions(), null, 1)),
      )
    const children = [...this.nodes.values()].map((n) => n.process?.child)
    if (this.counter !== undefined) children.push(this.counter)
    await step(() => Promise.all(children.map((child) => killAndWait(child))))
    for (const stream of this.logs.values()) await step(() => new Promise((resolve) => stream.end(resolve)))
    this.logs.clear()
    for (const dir of this.mounts.splice(0)) await step(() => run('umount', ['-l', dir]))
    await step(() => this.lab.close())
    if (this.dir !== '') await step(() => rm(this.dir, { recursive: true, force: true }))
    if (failures.length > 0) throw new AggregateError(failures, `closing nemesis mesh ${this.lab.id}`)
  }

  private async startCounter(): Promise<void> {
    const host = await this.lab.host('counter', ['lan'])
    const ip = host.addrs.get('lan') as string
    const child = spawn(
      'ip',
      ['netns', 'exec', host.ns, process.execPath, COUNTER_MAIN, ip, String(COUNTER_PORT)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    this.counter = child
    const lines = createInterface({ input: child.stdout as NonNullable<typeof child.stdout> })
    const signal = AbortSignal.timeout(15_000)
    const exited = once(child, 'exit', { signal }).then(([code]) => {
      throw new NetLabError(`the counter service exited with ${String(code)} before listening`)
    })
    const [line] = (await Promise.race([once(lines, 'line', { signal }), exited])) as [string]
    this.counterUrl = (JSON.parse(line) as { url: string }).url
  }

  private async sampleMemory(): Promise<void> {
    for (const node of this.nodes.values()) {
      const pid = node.process?.child.pid
      if (pid === undefined || !this.running(node.spec.name)) continue
      const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
      node.maxRssMb = Math.max(node.maxRssMb, Math.round(kb / 1024))
    }
  }
}

async function killAndWait(child: ReturnType<typeof spawn> | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGKILL')
  await exited
}

/** Removes the temporary dirs (data dirs, configs) of meshes whose owner process is gone. */
async function sweepStaleDirs(prefix: string): Promise<string[]> {
  const names = await readdir(tmpdir()).catch(() => [] as string[])
  const stale = names.filter((name) => ownerGone(name, prefix)).map((name) => join(tmpdir(), name))
  await Promise.all(stale.map((dir) => rm(dir, { recursive: true, force: true })))
  return stale
}

/** Unmounts tmpfs data dirs (`<tmp>/<prefix>-<pid>-…`) whose owner process is gone. */
async function sweepStaleMounts(prefix: string): Promise<string[]> {
  const mounts = await readFile('/proc/mounts', 'utf8').catch(() => '')
  const removed: string[] = []
  for (const line of mounts.split('\n')) {
    const [source, target] = line.split(' ')
    if (source === undefined || target === undefined) continue
    if (!source.endsWith('-tmpfs') || !ownerGone(source, prefix)) continue
    await run('umount', ['-l', target]).catch(() => undefined)
    removed.push(target)
  }
  return removed
}
