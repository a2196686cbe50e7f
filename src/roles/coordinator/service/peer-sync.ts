/**
 * When this coordinator runs anti-entropy (`coordinator.sync`, ../../../protocols/state/sync/) and
 * with whom: with a coordinator as soon as it is connected or heard alive (a partition healing,
 * a node joining), with every live coordinator periodically, and with all of them before answering
 * "no such run" (a run submitted elsewhere a moment ago). One round per peer at a time.
 */
import { type ComponentLogger, isPeerId, type Logger } from '@libp2p/interface'
import { boundedCall } from '../../../core/bounded-call.js'
import type { MeshLibp2p } from '../../../node/node.js'
import type { LivenessService, LivePeer } from '../../../protocols/liveness/index.js'
import { ConnectionClosedError, Libp2pRpcClient } from '../../../protocols/rpc/index.js'
import { RunState } from '../../../protocols/state/run-state.js'
import {
  SYNC_METHOD,
  type SyncAnswer,
  type SyncHost,
  type SyncStats,
  syncWith,
} from '../../../protocols/state/sync/index.js'

export interface PeerSyncInit {
  libp2p: MeshLibp2p
  liveness: LivenessService
  logger: ComponentLogger
  host: SyncHost
  /** Live coordinators other than this node, trusted as such. */
  coordinators(): string[]
  isCoordinator(peer: string): boolean
  /** Another replica to repair in the same round (the triggers), over the same session. */
  alsoSync?(client: Libp2pRpcClient, signal: AbortSignal): Promise<void>
  /**
   * A round with `peer` ended well: which runs it now holds everything of (replica hand-off);
   * `complete` when every run the two hold was compared (not a confirmation of a few runs).
   */
  onRound?(peer: string, stats: SyncStats, round: { complete: boolean }): void
}

/** How long one round may take. @default 15_000 */
const ROUND_TIMEOUT_MS = 15_000
/** How long runs to confirm with a peer are collected before one call asks about them all. @default 50 */
const CONFIRM_DELAY_MS = 50
/** How long a lookup of an unknown run waits for the other coordinators. @default 3_000 */
const PULL_TIMEOUT_MS = 3_000

/** Anti-entropy rounds this node started, and the state entries they moved. */
export interface PeerSyncStats {
  rounds: { ok: number; failed: number }
  received: number
  sent: number
}

export class PeerSync {
  readonly stats: PeerSyncStats = { rounds: { ok: 0, failed: 0 }, received: 0, sent: 0 }
  private readonly init: PeerSyncInit
  private readonly log: Logger
  private readonly clients = new Map<string, Libp2pRpcClient>()
  private readonly connectedClients = new Map<string, Libp2pRpcClient>()
  private readonly rounds = new Map<string, Promise<void>>()
  private readonly confirming = new Map<string, Set<string>>()
  private running = false

  constructor(init: PeerSyncInit) {
    this.init = init
    this.log = init.logger.forComponent('horus:coordinator:sync')
  }

  start(): void {
    this.running = true
    this.init.liveness.addEventListener('peer:alive', this.onPeerAlive)
    this.init.libp2p.addEventListener('peer:connect', this.onPeerConnect)
  }

  async stop(): Promise<void> {
    this.running = false
    this.init.liveness.removeEventListener('peer:alive', this.onPeerAlive)
    this.init.libp2p.removeEventListener('peer:connect', this.onPeerConnect)
    await Promise.allSettled([...this.rounds.values()])
    await Promise.allSettled(
      [...this.clients.values(), ...this.connectedClients.values()].map((c) => c.close()),
    )
    this.clients.clear()
    this.connectedClients.clear()
  }

  syncAll(): void {
    for (const peer of this.init.coordinators()) this.inBackground(peer)
  }

  /** One round with every live coordinator, bounded in time. */
  async pull(signal?: AbortSignal): Promise<void> {
    const peers = this.init.coordinators()
    if (peers.length === 0) return
    await boundedCall(signal, PULL_TIMEOUT_MS, (stop) =>
      Promise.allSettled(peers.map((peer) => this.round(peer, stop))),
    )
  }

  /** One anti-entropy round with `peer` (joins the one under way, if any). */
  round(peer: string, signal?: AbortSignal): Promise<void> {
    const current = this.rounds.get(peer)
    if (current !== undefined) return current
    if (!this.running || !this.init.isCoordinator(peer)) return Promise.resolve()
    const session = this.client(peer)
    const stop = signal ?? AbortSignal.timeout(ROUND_TIMEOUT_MS)
    const round = syncWith(session, this.init.host, peer, { signal: stop })
      .then(async (stats) => {
        this.stats.rounds.ok++
        this.stats.received += stats.received
        this.stats.sent += stats.sent
        if (stats.received + stats.sent > 0)
          this.log('synced with %s: %d in, %d out', peer, stats.received, stats.sent)
        this.init.onRound?.(peer, stats, { complete: true })
        await this.init.alsoSync?.(session, stop)
      })
      .catch((err: Error) => {
        this.stats.rounds.failed++
        this.log('sync with %s failed: %s', peer, err.message)
      })
      .finally(() => this.rounds.delete(peer))
    this.rounds.set(peer, round)
    return round
  }

  /**
   * Soon, one round with `peer` over `runs` only (batched per peer): how a coordinator holding
   * runs outside their replica set learns quickly that the members hold them, without comparing
   * every run they share.
   */
  confirmSoon(peer: string, runs: Iterable<string>): void {
    let pending = this.confirming.get(peer)
    if (pending === undefined) {
      pending = new Set()
      this.confirming.set(peer, pending)
      setTimeout(() => this.confirm(peer), CONFIRM_DELAY_MS).unref()
    }
    for (const run of runs) pending.add(run)
  }

  private confirm(peer: string): void {
    const runs = this.confirming.get(peer)
    this.confirming.delete(peer)
    if (runs === undefined || !this.running || !this.init.isCoordinator(peer)) return
    const host = this.init.host
    const only: SyncHost = { ...host, runs: () => [...runs].filter((run) => host.state(run) !== undefined) }
    // Not `complete`: the peer must not answer with every other run the two share.
    syncWith(this.client(peer), only, peer, {
      signal: AbortSignal.timeout(ROUND_TIMEOUT_MS),
      complete: false,
    })
      .then((stats) => this.init.onRound?.(peer, stats, { complete: false }))
      .catch((err: Error) =>
        this.log('confirming %d run(s) with %s failed: %s', runs.size, peer, err.message),
      )
  }

  /**
   * Asks `peer` for everything it holds of `run` (an empty replica's digest differs in every
   * bucket) and merges it; true when the peer answered. Bounded by PULL_TIMEOUT_MS.
   */
  async fetch(peer: string, run: string): Promise<boolean> {
    if (!this.running || !this.init.isCoordinator(peer)) return false
    try {
      const answer = await this.client(peer).call<SyncAnswer>(
        SYNC_METHOD,
        { digests: [new RunState(run).digest()] },
        { timeoutMs: PULL_TIMEOUT_MS },
      )
      for (const raw of answer.deltas ?? []) {
        try {
          this.init.host.apply(RunState.fromJSON(raw), peer)
        } catch {
          // A malformed answer is ignored, like in a round.
        }
      }
      return true
    } catch (err) {
      this.log('fetching run %s from %s failed: %s', run, peer, (err as Error).message)
      return false
    }
  }

  /** The RPC session with another coordinator, shared by sync rounds, pushes and forwarded calls. */
  client(peer: string): Libp2pRpcClient {
    let client = this.clients.get(peer)
    if (client === undefined) {
      client = new Libp2pRpcClient({ libp2p: this.init.libp2p, target: peer, logger: this.init.logger })
      this.clients.set(peer, client)
    }
    return client
  }

  /**
   * An RPC session with another coordinator that only ever rides a connection already open, and
   * never dials (replica pushes): a connection closing under a push (a partition, a hang-up) must
   * not be redialled at the addresses still in the peer store, or through a relay, which would
   * carry state across the partition and join (and fail) the dial that heals it.
   */
  connectedClient(peer: string): Libp2pRpcClient {
    let client = this.connectedClients.get(peer)
    if (client === undefined) {
      const libp2p = this.init.libp2p
      client = new Libp2pRpcClient({
        libp2p: {
          dialProtocol: async (target, protocol, options) => {
            const conn = isPeerId(target)
              ? libp2p.getConnections(target).find((c) => c.status === 'open')
              : undefined
            if (conn === undefined) throw new ConnectionClosedError(`no open connection to ${peer}`)
            return conn.newStream(protocol, options)
          },
        },
        target: peer,
        logger: this.init.logger,
      })
      this.connectedClients.set(peer, client)
    }
    return client
  }

  /** A round nobody waits for (failures are logged by `round`). */
  private inBackground(peer: string): void {
    this.round(peer).catch(() => {})
  }

  private readonly onPeerAlive = (evt: CustomEvent<LivePeer>): void => {
    if (evt.detail.roles.includes('coordinator')) this.inBackground(evt.detail.peerId)
  }

  private readonly onPeerConnect = (evt: CustomEvent<{ toString(): string }>): void => {
    const peer = evt.detail.toString()
    if (this.init.liveness.get(peer)?.roles.includes('coordinator') === true) this.inBackground(peer)
  }
}
