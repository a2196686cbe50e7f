/**
 * The supervisors a coordinator sends step jobs to: the one in its own node, those listed in the
 * config (`coordinator.supervisors`), those heard on the liveness topic with role `supervisor`,
 * and — while none of those is known — those found in the DHT under the supervisor role record.
 * Jobs go to the supervisor in this node while it has at most LOCAL_SUPERVISOR_MARGIN more of this
 * coordinator's jobs in flight than the least loaded other (a function call instead of an RPC; it
 * hands them to any runner of the mesh, so capacity is not lost), else to the least loaded; one
 * that fails a call is skipped for a while, and one whose event stream breaks is reported down so
 * its jobs are re-sent (same job id) to another. Whatever the source, a peer is used only while
 * the trust policy in force holds its key as a `supervisor` (checked at each pick, so a policy
 * reload applies at once); configured addresses are no exception. This node's own supervisor is
 * trusted by this node.
 */
import type { ComponentLogger, Libp2p, Logger } from '@libp2p/interface'
import { anySignal } from 'any-signal'
import { findProviders } from '../../../protocols/capabilities/find.js'
import { roleCid } from '../../../protocols/capabilities/keys.js'
import type { TrustPolicy } from '../../../protocols/jobs/index.js'
import type { LivenessService } from '../../../protocols/liveness/index.js'
import type { SupervisorService } from '../../supervisor/index.js'
import { LOCAL_SUPERVISOR_MARGIN, SUPERVISOR_BACKOFF_MS, SUPERVISOR_LOOKUP_INTERVAL_MS } from './constants.js'
import {
  type LinkHandlers,
  LocalSupervisorLink,
  RemoteSupervisorLink,
  type SupervisorLink,
} from './supervisor-link.js'

export interface SupervisorPoolInit {
  libp2p: Libp2p
  liveness: Pick<LivenessService, 'alive'>
  logger: ComponentLogger
  self: string
  local: SupervisorService | undefined
  /** Multiaddrs ending in `/p2p/<peer id>`. */
  configured: readonly string[]
  handlers: LinkHandlers
  /** The trust policy in force. */
  policy: () => TrustPolicy
}

export class SupervisorPool {
  private readonly init: SupervisorPoolInit
  private readonly log: Logger
  private readonly links = new Map<string, SupervisorLink>()
  private readonly configured = new Map<string, string>()
  private readonly failedUntil = new Map<string, number>()
  private readonly load = new Map<string, number>()
  private discovered: string[] = []
  private lastLookup = 0
  private lookup: Promise<void> | undefined
  private readonly controller = new AbortController()

  constructor(init: SupervisorPoolInit) {
    this.init = init
    this.log = init.logger.forComponent('horus:coordinator:supervisors')
    for (const addr of init.configured) {
      const peer = addr.slice(addr.lastIndexOf('/p2p/') + 5)
      if (peer !== '') this.configured.set(peer, addr)
    }
  }

  /** Peer IDs of every supervisor known now that the policy trusts as one. */
  candidates(): string[] {
    const out = new Set<string>()
    if (this.init.local !== undefined) out.add(this.init.self)
    const policy = this.init.policy()
    const trusted = (peer: string): boolean => policy.admitsPeer(peer, { role: 'supervisor' })
    for (const peer of this.configured.keys()) if (trusted(peer)) out.add(peer)
    // Liveness already believes the role only where the policy grants it.
    for (const peer of this.init.liveness.alive()) if (peer.roles.includes('supervisor')) out.add(peer.peerId)
    for (const peer of this.discovered) if (trusted(peer)) out.add(peer)
    if (out.size === 0) this.discover()
    return [...out]
  }

  /**
   * The supervisor for the next job, not in `exclude` and not backing off: this node's own while
   * it is usable and at most LOCAL_SUPERVISOR_MARGIN jobs more loaded than the least loaded other,
   * else the least loaded; undefined when none is usable.
   */
  pick(exclude: ReadonlySet<string>): string | undefined {
    const now = Date.now()
    let best: string | undefined
    let bestLoad = Number.POSITIVE_INFINITY
    let localLoad: number | undefined
    for (const peer of this.candidates()) {
      if (exclude.has(peer) || (this.failedUntil.get(peer) ?? 0) > now) continue
      const load = this.load.get(peer) ?? 0
      if (peer === this.init.self) {
        localLoad = load
        continue
      }
      if (load < bestLoad) {
        best = peer
        bestLoad = load
      }
    }
    if (localLoad !== undefined && localLoad <= bestLoad + LOCAL_SUPERVISOR_MARGIN) return this.init.self
    return best
  }

  link(peer: string): SupervisorLink {
    const known = this.links.get(peer)
    if (known !== undefined) return known
    const { init } = this
    const link =
      peer === init.self && init.local !== undefined
        ? new LocalSupervisorLink(peer, init.local, init.handlers)
        : new RemoteSupervisorLink(
            {
              libp2p: init.libp2p,
              peerId: peer,
              target: this.configured.get(peer) ?? peer,
              logger: init.logger,
            },
            {
              onEvent: init.handlers.onEvent,
              onDown: (p, err) => {
                this.drop(p)
                init.handlers.onDown(p, err)
              },
            },
          )
    this.links.set(peer, link)
    return link
  }

  /** The supervisor failed a call: skip it for a while and reopen its link next time. */
  markFailed(peer: string): void {
    this.failedUntil.set(peer, Date.now() + SUPERVISOR_BACKOFF_MS)
    this.drop(peer)
  }

  assign(peer: string): void {
    this.load.set(peer, (this.load.get(peer) ?? 0) + 1)
  }

  release(peer: string): void {
    const n = (this.load.get(peer) ?? 0) - 1
    if (n <= 0) this.load.delete(peer)
    else this.load.set(peer, n)
  }

  async close(): Promise<void> {
    this.controller.abort()
    const links = [...this.links.values()]
    this.links.clear()
    await Promise.allSettled(links.map((link) => link.close()))
    await this.lookup
  }

  private drop(peer: string): void {
    const link = this.links.get(peer)
    if (link === undefined) return
    this.links.delete(peer)
    link.close().catch(() => {})
  }

  private discover(): void {
    const now = Date.now()
    if (this.lookup !== undefined || now - this.lastLookup < SUPERVISOR_LOOKUP_INTERVAL_MS) return
    this.lastLookup = now
    const signal = anySignal([this.controller.signal, AbortSignal.timeout(5_000)])
    this.lookup = (async () => {
      try {
        const found = await findProviders(this.init.libp2p, await roleCid('supervisor'), {
          signal,
          limit: 20,
        })
        const policy = this.init.policy()
        this.discovered = found
          .map((p) => p.id.toString())
          .filter((id) => id !== this.init.self && policy.admitsPeer(id, { role: 'supervisor' }))
        if (this.discovered.length > 0) this.log('found %d supervisor(s) in the DHT', this.discovered.length)
      } catch (err) {
        if (!signal.aborted) this.log('supervisor look-up failed: %s', (err as Error).message)
      } finally {
        signal.clear()
        this.lookup = undefined
      }
    })()
  }
}
