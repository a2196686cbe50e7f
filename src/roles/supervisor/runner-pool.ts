/**
 * The runners this supervisor can dispatch to, and how busy each is with its jobs.
 *
 * Sources, merged: the liveness cache (heartbeats carry roles, capabilities and capacity — the
 * main source), runners found through DHT provider records and described over RPC (peers this node
 * hears no heartbeat from yet), and a runner in the same node. Selection: the runner in the same
 * node while it has a free execution slot (a function call where any other is an RPC); else, among
 * the live runners serving the capability that have a free dispatch slot, the least loaded (own
 * dispatches in flight per slot, then the load the runner reports); a runner whose link just failed is skipped for a
 * backoff period so a dead-but-not-yet-lost runner cannot swallow the queue.
 *
 * Membership follows the trust policy in force, read at each look: a runner is listed (and picked)
 * only for the capabilities its key is trusted to run as a `runner` — liveness already believes no
 * more than that, and DHT providers are cut the same way (and never even asked to describe
 * themselves when their key is not trusted as a runner of the capability looked up).
 */
import type { ComponentLogger, Libp2p, Logger } from '@libp2p/interface'
import { anySignal } from 'any-signal'
import { capabilityCid, findProviders } from '../../protocols/capabilities/index.js'
import { grantedClaims, type TrustPolicy } from '../../protocols/jobs/index.js'
import type { LivenessService } from '../../protocols/liveness/index.js'
import type { RunnerJobEvent } from '../runner/service/wire.js'
import {
  DEFAULT_UNKNOWN_CAPACITY,
  DHT_LOOKUP_INTERVAL_MS,
  DHT_LOOKUP_TIMEOUT_MS,
  DHT_RUNNER_TTL_MS,
} from './constants.js'
import { type LocalRunner, LocalRunnerLink, RemoteRunnerLink, type RunnerLink } from './runner-link.js'

export type RunnerSource = 'local' | 'liveness' | 'dht'

/** A runner as `supervisor.list_runners` reports it. */
export interface RunnerView {
  peerId: string
  source: RunnerSource
  capabilities: string[]
  /** Jobs the runner runs at once (from its heartbeat or `runner.describe`). */
  capacity: number
  /** Jobs running there, as it last reported. */
  running: number
  /** This supervisor's dispatches in flight there. */
  inFlight: number
  /** Most dispatches this supervisor keeps in flight there. */
  limit: number
  lastSeen: number
}

/**
 * `no_runner`: nobody serves the capability now (or all are backing off); `busy`: every eligible
 * runner is full; `refused`: every runner serving it refused this job.
 */
export type PickOutcome = { peerId: string } | { none: 'no_runner' | 'busy' | 'refused' }

export interface RunnerPoolInit {
  libp2p: Libp2p
  liveness: Pick<LivenessService, 'alive' | 'get'>
  logger: ComponentLogger
  self: string
  local: LocalRunner | undefined
  inFlightPerSlot: number
  maxInFlightPerRunner: number
  onEvent: (runner: string, event: RunnerJobEvent) => void
  /** The trust policy in force. */
  policy: () => TrustPolicy
}

export interface RunnerPoolStats {
  /** DHT providers of a capability skipped because their key is not trusted to run it. */
  untrustedProviders: number
  /** Executions runners sent for jobs they were not handed in a batch (dropped unread). */
  strayExecutions: number
}

interface DhtRunner {
  capabilities: string[]
  capacity: number
  expiresAt: number
}

export class RunnerPool {
  private readonly init: RunnerPoolInit
  private readonly log: Logger
  private readonly inFlight = new Map<string, number>()
  private readonly links = new Map<string, RunnerLink>()
  private strayExecutions = 0
  private readonly dht = new Map<string, DhtRunner>()
  private readonly failures = new Map<string, { count: number; until: number }>()
  private readonly lookups = new Map<string, number>()
  private untrustedProviders = 0

  constructor(init: RunnerPoolInit) {
    this.init = init
    this.log = init.logger.forComponent('horus:supervisor:runners')
  }

  /** Every runner known now, with this supervisor's view of its load. */
  list(): RunnerView[] {
    const now = Date.now()
    const out = new Map<string, RunnerView>()
    const add = (
      peerId: string,
      source: RunnerSource,
      capabilities: string[],
      capacity: number,
      running: number,
      lastSeen: number,
    ): void => {
      if (out.has(peerId)) return
      const inFlight = this.inFlight.get(peerId) ?? 0
      out.set(peerId, {
        peerId,
        source,
        capabilities,
        capacity,
        running,
        inFlight,
        limit: this.limitFor(capacity),
        lastSeen,
      })
    }
    const { local } = this.init
    if (local !== undefined) {
      const d = local.describe()
      add(local.peerId, 'local', d.capabilities, d.concurrency, d.load.running, now)
    }
    for (const peer of this.init.liveness.alive()) {
      if (!peer.roles.includes('runner')) continue
      const capacity = peer.load.capacity > 0 ? peer.load.capacity : DEFAULT_UNKNOWN_CAPACITY
      add(peer.peerId, 'liveness', peer.capabilities, capacity, peer.load.running, peer.lastSeen)
    }
    const policy = this.init.policy()
    for (const [peerId, entry] of this.dht) {
      if (entry.expiresAt <= now) {
        this.dht.delete(peerId)
        continue
      }
      const { capabilities } = grantedClaims(policy.lookupPeer(peerId), {
        roles: ['runner'],
        capabilities: entry.capabilities,
      })
      if (capabilities.length === 0) continue
      add(peerId, 'dht', capabilities, entry.capacity, 0, entry.expiresAt - DHT_RUNNER_TTL_MS)
    }
    return [...out.values()]
  }

  stats(): RunnerPoolStats {
    return { untrustedProviders: this.untrustedProviders, strayExecutions: this.strayExecutions }
  }

  /** Whether any live runner serves `capability` (ignoring load and exclusions). */
  serves(capability: string): boolean {
    return this.list().some((r) => r.capabilities.includes(capability))
  }

  /**
   * The runner for the next job of `capability`; `only` restricts the choice to one runner (a
   * resumed job waiting for its runner), `refused` lists runners never to ask again, `among` (peer
   * IDs) limits the choice to the runners able to open the job's secrets.
   */
  pick(
    capability: string,
    refused: readonly string[],
    only?: string,
    among?: ReadonlySet<string>,
  ): PickOutcome {
    const now = Date.now()
    let best: RunnerView | undefined
    let bestScore = Number.POSITIVE_INFINITY
    let eligible = 0
    let unrefused = 0
    for (const runner of this.list()) {
      if (!runner.capabilities.includes(capability) || refused.includes(runner.peerId)) continue
      if (among !== undefined && !among.has(runner.peerId)) continue
      unrefused++
      if (only !== undefined && runner.peerId !== only) continue
      const failure = this.failures.get(runner.peerId)
      if (failure !== undefined && failure.until > now) continue
      eligible++
      if (runner.inFlight >= runner.limit) continue
      // The runner in this node, with an execution slot free now: no network hop for the job.
      if (runner.source === 'local' && runner.inFlight < runner.capacity && runner.running < runner.capacity)
        return { peerId: runner.peerId }
      // Own in-flight share dominates (it is exact); the reported load breaks ties between runners
      // other supervisors also feed.
      const score = runner.inFlight / runner.limit + runner.running / (runner.capacity * 1000 + 1)
      if (score < bestScore || (score === bestScore && best !== undefined && runner.peerId < best.peerId)) {
        best = runner
        bestScore = score
      }
    }
    if (best !== undefined) return { peerId: best.peerId }
    if (eligible > 0) return { none: 'busy' }
    // Waiting is pointless once every runner that could take the job (serving the capability, among
    // its secrets' recipients) said no to it.
    const allRefused = only === undefined && unrefused === 0 && refused.length > 0
    return { none: allRefused ? 'refused' : 'no_runner' }
  }

  acquire(peerId: string): void {
    this.inFlight.set(peerId, (this.inFlight.get(peerId) ?? 0) + 1)
  }

  release(peerId: string): void {
    const left = (this.inFlight.get(peerId) ?? 1) - 1
    if (left <= 0) this.inFlight.delete(peerId)
    else this.inFlight.set(peerId, left)
  }

  /** The link to a runner, created on first use and reused for every dispatch. */
  link(peerId: string): RunnerLink {
    let link = this.links.get(peerId)
    if (link === undefined) {
      const onEvent = (event: RunnerJobEvent): void => this.init.onEvent(peerId, event)
      const { local } = this.init
      link =
        local !== undefined && local.peerId === peerId
          ? new LocalRunnerLink(local, this.init.self, onEvent)
          : new RemoteRunnerLink({
              libp2p: this.init.libp2p,
              peerId,
              logger: this.init.logger,
              onEvent,
              onStray: () => {
                this.strayExecutions++
              },
            })
      this.links.set(peerId, link)
    }
    return link
  }

  /** A dispatch reached the runner and came back: forget earlier link failures. */
  succeeded(peerId: string): void {
    this.failures.delete(peerId)
    const dht = this.dht.get(peerId)
    if (dht !== undefined) dht.expiresAt = Date.now() + DHT_RUNNER_TTL_MS
  }

  /** The link failed: skip the runner for 0.5 s, doubling per consecutive failure (max 8 s). */
  failed(peerId: string): void {
    const count = (this.failures.get(peerId)?.count ?? 0) + 1
    const backoff = Math.min(8_000, 500 * 2 ** (count - 1))
    this.failures.set(peerId, { count, until: Date.now() + backoff })
  }

  /** The runner is gone (heartbeats stopped): drop its link and DHT entry. */
  async lost(peerId: string): Promise<void> {
    this.dht.delete(peerId)
    const link = this.links.get(peerId)
    this.links.delete(peerId)
    await link?.close().catch(() => {})
  }

  /**
   * Looks for providers of `capability` in the DHT (at most every DHT_LOOKUP_INTERVAL_MS) and
   * describes the ones no heartbeat told us about. Resolves true when a new runner was added.
   */
  async discover(capability: string, signal: AbortSignal): Promise<boolean> {
    const now = Date.now()
    if ((this.lookups.get(capability) ?? 0) > now) return false
    this.lookups.set(capability, now + DHT_LOOKUP_INTERVAL_MS)
    const known = new Set(this.list().map((r) => r.peerId))
    const lookup = anySignal([signal, AbortSignal.timeout(DHT_LOOKUP_TIMEOUT_MS)])
    let added = false
    try {
      const providers = await findProviders(this.init.libp2p, await capabilityCid(capability), {
        signal: lookup,
      })
      for (const provider of providers) {
        const peerId = provider.id.toString()
        if (known.has(peerId) || peerId === this.init.self) continue
        if (!this.init.policy().admitsPeer(peerId, { role: 'runner', capability })) {
          this.untrustedProviders++
          this.log('DHT provider %s of "%s" is not trusted to run it: skipped', peerId, capability)
          continue
        }
        if (provider.multiaddrs.length > 0) {
          await this.init.libp2p.peerStore
            .merge(provider.id, { multiaddrs: provider.multiaddrs })
            .catch(() => {})
        }
        try {
          const description = await this.link(peerId).describe(lookup)
          this.dht.set(peerId, {
            capabilities: description.capabilities,
            capacity: Math.max(1, description.concurrency),
            expiresAt: Date.now() + DHT_RUNNER_TTL_MS,
          })
          added = true
          this.log('found runner %s for "%s" through the DHT', peerId, capability)
        } catch (err) {
          this.log(
            'DHT provider %s of "%s" did not describe itself: %s',
            peerId,
            capability,
            (err as Error).message,
          )
        }
      }
    } catch (err) {
      if (!signal.aborted) this.log('DHT look-up for "%s" failed: %s', capability, (err as Error).message)
    } finally {
      lookup.clear()
    }
    return added
  }

  async close(): Promise<void> {
    const links = [...this.links.values()]
    this.links.clear()
    await Promise.allSettled(links.map((link) => link.close()))
  }

  private limitFor(capacity: number): number {
    return Math.max(1, Math.min(this.init.maxInFlightPerRunner, capacity * this.init.inFlightPerSlot))
  }
}
