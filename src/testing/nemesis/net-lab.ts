/**
 * Hosts on a private network made of Linux network namespaces: each host is a namespace with one
 * leg (a veth pair) per subnet it sits on; every subnet is a bridge inside one "switch" namespace.
 * Subnets are not routed to each other, so a host with legs in two subnets is the only way across
 * (a relay). Nothing is created in the root namespace except, when asked, one leg for the test
 * process itself (`attachSelf`), so it can reach the hosts. Every name starts with the lab's
 * prefix (`hf-<random>`), `close()` removes everything, and `sweepStaleLabs()` removes what an
 * interrupted run left behind. Needs root and `ip` (iproute2); one-way cuts need `nft`.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import { NetLabError } from './errors.js'

const exec = promisify(execFile)

/** Addresses every lab uses: 10.213.<subnet>.<host>/24, reachable only inside its namespaces. */
export const LAB_NETWORK = '10.213'
/** The address the test process gets on a subnet it attaches to. */
const SELF_HOST = 254

export interface LabHost {
  readonly name: string
  /** Its network namespace (`ip netns exec <ns> …`). */
  readonly ns: string
  /** Its address on each subnet it sits on, by subnet name. */
  readonly addrs: ReadonlyMap<string, string>
}

interface Subnet {
  name: string
  index: number
  bridge: string
  next: number
}

interface Leg {
  host: string
  subnet: string
  /** The switch-side end of the veth pair (in the switch namespace). */
  port: string
}

/** Runs `ip`/`nft`/… and turns a failure into a NetLabError quoting the command and its stderr. */
export async function run(cmd: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await exec(cmd, args, { maxBuffer: 4 * 1024 * 1024 })
    return stdout
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim()
    throw new NetLabError(`${cmd} ${args.join(' ')} failed: ${stderr || (err as Error).message}`, {
      cause: err,
    })
  }
}

export class NetLab {
  /**
   * `hf-<owner pid, base 36>-<4 hex>`: the prefix of every namespace and interface of this lab;
   * the sweep leaves labs whose owner process is alive.
   */
  readonly id: string
  private readonly switchNs: string
  private readonly subnets = new Map<string, Subnet>()
  private readonly hosts = new Map<string, LabHost>()
  private readonly legs: Leg[] = []
  private selfLeg: string | undefined
  private created = false

  constructor(prefix = 'hf') {
    this.id = `${prefix}-${process.pid.toString(36)}-${randomBytes(2).toString('hex')}`
    this.switchNs = `${this.id}-sw`
  }

  /** Creates the switch namespace. */
  async open(): Promise<void> {
    await run('ip', ['netns', 'add', this.switchNs])
    this.created = true
    await run('ip', ['-n', this.switchNs, 'link', 'set', 'lo', 'up'])
  }

  /**
   * A subnet `10.213.<index>.0/24`: a bridge in the switch namespace. The index is one no other
   * lab's test-process leg uses in the root namespace now (labs of tests that run at once would
   * otherwise both route the same /24 from the root namespace, and dial each other's nodes),
   * picked at random so two labs choosing at the same moment rarely meet.
   */
  async subnet(name: string): Promise<void> {
    if (this.subnets.has(name)) return
    const index = await this.freeIndex()
    const bridge = `br${this.subnets.size + 1}`
    await run('ip', ['-n', this.switchNs, 'link', 'add', bridge, 'type', 'bridge'])
    await run('ip', ['-n', this.switchNs, 'link', 'set', bridge, 'up'])
    this.subnets.set(name, { name, index, bridge, next: 2 })
  }

  private async freeIndex(): Promise<number> {
    const taken = new Set([...this.subnets.values()].map((s) => s.index))
    const routes = await run('ip', ['-4', '-o', 'route', 'show'])
    const prefix = `${LAB_NETWORK}.`
    for (const line of routes.split('\n')) {
      if (!line.startsWith(prefix)) continue
      taken.add(Number(line.slice(prefix.length).split('.')[0]))
    }
    const free = Array.from({ length: 253 }, (_, i) => i + 1).filter((i) => !taken.has(i))
    const index = free[randomBytes(2).readUInt16BE(0) % Math.max(1, free.length)]
    if (index === undefined) throw new NetLabError(`no free subnet left in ${LAB_NETWORK}.0.0/16`)
    return index
  }

  /** A host (its own namespace) with a leg on each of `subnets` (created when new). */
  async host(name: string, subnets: string[] = ['lan']): Promise<LabHost> {
    if (!/^[a-z0-9]{1,8}$/.test(name))
      throw new NetLabError(`host name: expected 1-8 of [a-z0-9], got "${name}"`)
    const ns = `${this.id}-${name}`
    await run('ip', ['netns', 'add', ns])
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
    const addrs = new Map<string, string>()
    for (const [i, subnetName] of subnets.entries()) {
      await this.subnet(subnetName)
      const subnet = this.subnets.get(subnetName) as Subnet
      const addr = `${LAB_NETWORK}.${subnet.index}.${subnet.next++}`
      const port = `${name}-${i}`
      const inner = `eth${i}`
      // Both ends are made in the switch namespace (the host's end under a unique name), then one
      // moves and takes its usual name: nothing touches the root namespace.
      await run('ip', ['-n', this.switchNs, 'link', 'add', port, 'type', 'veth', 'peer', 'name', `${port}h`])
      await run('ip', ['-n', this.switchNs, 'link', 'set', `${port}h`, 'netns', ns])
      await run('ip', ['-n', ns, 'link', 'set', `${port}h`, 'name', inner])
      await run('ip', ['-n', this.switchNs, 'link', 'set', port, 'master', subnet.bridge, 'up'])
      await run('ip', ['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', inner])
      await run('ip', ['-n', ns, 'link', 'set', inner, 'up'])
      addrs.set(subnetName, addr)
      this.legs.push({ host: name, subnet: subnetName, port })
    }
    const host: LabHost = { name, ns, addrs }
    this.hosts.set(name, host)
    return host
  }

  /**
   * Gives the test process (root namespace) a leg on `subnet`, so it can reach the hosts there.
   * Returns its address. The leg is named `<lab id>-s`, removed by `close()` and by the sweep.
   */
  async attachSelf(subnetName = 'lan'): Promise<string> {
    await this.subnet(subnetName)
    const subnet = this.subnets.get(subnetName) as Subnet
    const outer = `${this.id}-s`
    const port = 'self-0'
    await run('ip', ['-n', this.switchNs, 'link', 'add', port, 'type', 'veth', 'peer', 'name', outer])
    await run('ip', ['-n', this.switchNs, 'link', 'set', outer, 'netns', '1'])
    this.selfLeg = outer
    await run('ip', ['-n', this.switchNs, 'link', 'set', port, 'master', subnet.bridge, 'up'])
    const addr = `${LAB_NETWORK}.${subnet.index}.${SELF_HOST}`
    await run('ip', ['addr', 'add', `${addr}/24`, 'dev', outer])
    await run('ip', ['link', 'set', outer, 'up'])
    return addr
  }

  hostNamed(name: string): LabHost {
    const host = this.hosts.get(name)
    if (host === undefined) throw new NetLabError(`no host "${name}" in lab ${this.id}`)
    return host
  }

  /** Cuts (`up: false`) or restores every leg of a host: its cable pulled out of the switch. */
  async setLinks(name: string, up: boolean): Promise<void> {
    for (const leg of this.legs.filter((l) => l.host === name))
      await run('ip', ['-n', this.switchNs, 'link', 'set', leg.port, up ? 'up' : 'down'])
  }

  /**
   * Drops traffic between host `from` and the addresses `to` (both ways, or only what `from`
   * sends when `oneWay`). One nftables table per host, `hf_cut`, rebuilt on every call.
   */
  async cut(from: string, to: readonly string[], options: { oneWay?: boolean } = {}): Promise<void> {
    const host = this.hostNamed(from)
    const set = to.join(', ')
    const rules = [
      'table inet hf_cut {',
      '  chain out { type filter hook output priority 0; policy accept;',
      `    ip daddr { ${set} } drop`,
      '  }',
      '  chain in { type filter hook input priority 0; policy accept;',
      options.oneWay === true ? '' : `    ip saddr { ${set} } drop`,
      '  }',
      '}',
    ].join('\n')
    await this.uncut(from)
    await nftApply(host.ns, rules)
  }

  /** Removes the cuts of a host. */
  async uncut(name: string): Promise<void> {
    const host = this.hostNamed(name)
    await run('ip', ['netns', 'exec', host.ns, 'nft', 'delete', 'table', 'inet', 'hf_cut']).catch(
      () => undefined,
    )
  }

  /** Removes every namespace (and with them every interface) of the lab, and the test's own leg. */
  async close(): Promise<void> {
    // Deleting a namespace kills nothing: processes still inside would keep it (and its veths) alive.
    for (const host of this.hosts.values()) {
      const pids = (await run('ip', ['netns', 'pids', host.ns]).catch(() => '')).split('\n').filter(Boolean)
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL')
        } catch {}
      }
    }
    if (this.selfLeg !== undefined) await run('ip', ['link', 'del', this.selfLeg]).catch(() => undefined)
    for (const host of this.hosts.values()) await run('ip', ['netns', 'del', host.ns]).catch(() => undefined)
    if (this.created) await run('ip', ['netns', 'del', this.switchNs]).catch(() => undefined)
    this.hosts.clear()
    this.created = false
  }
}

async function nftApply(ns: string, rules: string): Promise<void> {
  const { spawn } = await import('node:child_process')
  await new Promise<void>((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.on('error', reject)
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new NetLabError(`nft in ${ns} failed (${code}): ${stderr.trim()}`)),
    )
    child.stdin.end(rules)
  })
}

/** `<prefix>-<pid, base 36>-<4 hex>`…: true when that owner process is gone. */
export function ownerGone(name: string, prefix: string): boolean {
  const match = new RegExp(`^${prefix}-([0-9a-z]+)-[0-9a-f]{4}`).exec(name)
  if (match === null) return false
  try {
    process.kill(Number.parseInt(match[1] as string, 36), 0)
    return false
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH'
  }
}

/**
 * Removes namespaces and root-namespace interfaces named `<prefix>-<pid>-…` whose owner process
 * is gone: what a killed or interrupted run left. Returns what it removed.
 */
export async function sweepStaleLabs(prefix = 'hf'): Promise<string[]> {
  const removed: string[] = []
  const stale = (name: string): boolean => ownerGone(name, prefix)
  const namespaces = (await run('ip', ['netns', 'list'])).split('\n').map((line) => line.split(' ')[0] ?? '')
  for (const ns of namespaces.filter(stale)) {
    // Processes a killed run left inside (its nodes) go first, or the namespace lingers.
    const pids = (await run('ip', ['netns', 'pids', ns]).catch(() => '')).split('\n').filter(Boolean)
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL')
      } catch {}
    }
    await run('ip', ['netns', 'del', ns]).catch(() => undefined)
    removed.push(ns)
  }
  const links = (await run('ip', ['-o', 'link', 'show']))
    .split('\n')
    .map((line) => /^\d+: ([^:@]+)/.exec(line)?.[1] ?? '')
  for (const link of links.filter(stale)) {
    await run('ip', ['link', 'del', link]).catch(() => undefined)
    removed.push(link)
  }
  return removed
}
