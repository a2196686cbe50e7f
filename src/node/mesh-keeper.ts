import type { Libp2p, Logger } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import type { Datastore } from 'interface-datastore'
import { TypedEventEmitter } from 'main-event'
import { boundedCall } from '../core/bounded-call.js'
import { ConnectionFloor, type ConnectionFloorInit } from './connection-floor.js'
import {
  BOOTSTRAP_RETRY_MAX_MS,
  BOOTSTRAP_RETRY_MIN_MS,
  DEFAULT_CONNECTION_FLOOR,
  KEEPER_SATISFIED_CONNECTIONS,
  MESH_KEEPER_TICK_MS,
  RECONNECT_DIAL_TIMEOUT_MS,
} from './constants.js'
import { KnownPeers } from './known-peers.js'
import { reconnectKnownPeers } from './reconnect.js'

/** What the keeper knows about the node's place in the mesh (shown in `node.health`). */
export interface MeshStatus {
  /** No connection to any peer. */
  alone: boolean
  /** Since when (ms epoch) the node is alone; undefined while connected. */
  aloneSince: number | undefined
  bootstrap: Array<{ peerId: string; connected: boolean; failures: number; nextAttemptAt?: number }>
}

export interface MeshKeeperEvents {
  /** The node has no connection left (or never got one): it keeps retrying its bootstrap and known peers. */
  'mesh:alone': CustomEvent<MeshStatus>
  /** The node has a connection again after being alone. */
  'mesh:joined': CustomEvent<MeshStatus>
}

interface BootstrapPeer {
  peerId: string
  addr: Multiaddr
  failures: number
  nextAttemptAt: number
  dialing: boolean
  /** Connected at least once since start. */
  reached: boolean
}

/**
 * Keeps a node in the mesh: it remembers the peers it meets (with their listen addresses), on
 * start it redials them, and while it has no connection at all it keeps retrying them. Bootstrap
 * peers are dialled until they answer and again whenever they are not connected, with a backoff
 * that doubles from BOOTSTRAP_RETRY_MIN_MS up to BOOTSTRAP_RETRY_MAX_MS and never gives up: a
 * node started before its bootstrap peer joins as soon as that peer is up. Once a bootstrap peer
 * was reached, it is redialled only while it matters: the node has fewer than
 * KEEPER_SATISFIED_CONNECTIONS connections, or no longer hears the peer's heartbeats (a
 * partition). A node well inside the mesh does not hold a connection to its bootstrap peer, so a
 * bootstrap node can trim idle connections without every node it introduced dialling straight
 * back. Being alone is an event (`mesh:alone`, logged) and part of `status()`. Beyond the
 * bootstrap peers, it keeps the node connected to at least DEFAULT_CONNECTION_FLOOR peers it hears
 * (`ConnectionFloor`), so gossip does not hang on the bootstrap peers alone.
 */
export class MeshKeeper extends TypedEventEmitter<MeshKeeperEvents> {
  private readonly known: KnownPeers
  private readonly bootstrap: BootstrapPeer[]
  private controller?: AbortController
  private timer: NodeJS.Timeout | undefined
  private rejoining: Promise<unknown> | undefined
  private readonly dials = new Set<Promise<void>>()
  private unfollow: (() => void) | undefined
  private aloneSince: number | undefined
  private startedAt = 0
  private readonly floor: ConnectionFloor

  constructor(
    private readonly libp2p: Libp2p,
    datastore: Datastore,
    private readonly log: Logger,
    bootstrap: readonly string[] = [],
    /** Whether this node hears the peer's heartbeats (through any path). @default never */
    private readonly hears: (peerId: string) => boolean = () => false,
    floor: Pick<ConnectionFloorInit, 'peers'> & { floor?: number } = { peers: () => [] },
  ) {
    super()
    this.known = new KnownPeers(datastore, log)
    this.bootstrap = bootstrap.flatMap((text) => {
      const addr = multiaddr(text)
      const peerId = addr.getComponents().findLast((c) => c.name === 'p2p')?.value
      return peerId === undefined
        ? []
        : [{ peerId, addr, failures: 0, nextAttemptAt: 0, dialing: false, reached: false }]
    })
    const bootstrapIds = new Set(this.bootstrap.map((p) => p.peerId))
    this.floor = new ConnectionFloor({
      libp2p,
      log,
      floor: floor.floor ?? DEFAULT_CONNECTION_FLOOR,
      peers: floor.peers,
      skip: () => bootstrapIds,
    })
  }

  /** Starts recording peers; call before libp2p starts, so the bootstrap connections are seen. */
  follow(): void {
    this.unfollow ??= this.known.follow(this.libp2p)
  }

  async start(): Promise<void> {
    this.follow()
    this.controller = new AbortController()
    const signal = this.controller.signal
    // Reconnection runs in the background: a node must start even when every known peer is gone.
    this.rejoining = this.rejoin(signal)
    this.startedAt = Date.now()
    this.timer = setInterval(() => this.tick(signal), MESH_KEEPER_TICK_MS)
    this.timer.unref()
    this.tick(signal)
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.unfollow?.()
    this.unfollow = undefined
    this.controller?.abort()
    await this.rejoining
    await Promise.allSettled([...this.dials])
    await this.floor.settled()
  }

  status(): MeshStatus {
    return {
      alone: this.aloneSince !== undefined,
      aloneSince: this.aloneSince,
      bootstrap: this.bootstrap.map((peer) => {
        const connected = this.connected(peer.peerId)
        const failures = connected ? 0 : peer.failures
        return {
          peerId: peer.peerId,
          connected,
          failures,
          ...(failures > 0 ? { nextAttemptAt: peer.nextAttemptAt } : {}),
        }
      }),
    }
  }

  private tick(signal: AbortSignal): void {
    if (signal.aborted) return
    const connections = this.libp2p.getConnections().length
    const alone = connections === 0
    if (alone && this.rejoining === undefined) this.rejoining = this.rejoin(signal)
    const now = Date.now()
    for (const peer of this.bootstrap) {
      if (this.connected(peer.peerId)) {
        // Reached some other way (it dialled us, a known-peers redial): its backoff starts over.
        peer.failures = 0
        peer.nextAttemptAt = 0
        peer.reached = true
        continue
      }
      const needed = !peer.reached || connections < KEEPER_SATISFIED_CONNECTIONS || !this.hears(peer.peerId)
      if (!needed || peer.dialing || now < peer.nextAttemptAt) continue
      this.dialBootstrap(peer, signal)
    }
    this.noteAlone(alone, now)
    this.fillFloor(signal)
  }

  private fillFloor(signal: AbortSignal): void {
    const started = this.floor.fill(signal)
    if (started > 0) this.log('dialling %d peer(s) to keep the connection floor', started)
  }

  private noteAlone(alone: boolean, now: number): void {
    // The first dials are still under way right after start: not alone yet, unless one failed.
    const settling =
      now - this.startedAt < MESH_KEEPER_TICK_MS && this.bootstrap.every((p) => p.failures === 0)
    if (alone && this.aloneSince === undefined && !settling) {
      this.aloneSince = now
      if (this.bootstrap.length > 0)
        this.log.error(
          'alone: no connection to any peer; retrying %d bootstrap peer(s)',
          this.bootstrap.length,
        )
      else this.log('alone: no connection to any peer and no bootstrap peer configured')
      this.safeDispatchEvent('mesh:alone', { detail: this.status() })
    } else if (!alone && this.aloneSince !== undefined) {
      this.log('joined the mesh after %d ms alone', now - this.aloneSince)
      this.aloneSince = undefined
      this.safeDispatchEvent('mesh:joined', { detail: this.status() })
    }
  }

  private dialBootstrap(peer: BootstrapPeer, signal: AbortSignal): void {
    peer.dialing = true
    const dial = boundedCall(signal, RECONNECT_DIAL_TIMEOUT_MS, (bounded) =>
      this.libp2p.dial(peer.addr, { signal: bounded }),
    )
      .then(
        () => {
          if (peer.failures > 0)
            this.log('reached bootstrap peer %s after %d attempt(s)', peer.peerId, peer.failures)
          peer.failures = 0
          peer.nextAttemptAt = 0
          peer.reached = true
        },
        (err: Error) => {
          if (signal.aborted) return
          peer.failures++
          const backoff = Math.min(BOOTSTRAP_RETRY_MAX_MS, BOOTSTRAP_RETRY_MIN_MS * 2 ** (peer.failures - 1))
          peer.nextAttemptAt = Date.now() + backoff
          this.log(
            'bootstrap peer %s not reached (%d): %s; next attempt in %d ms',
            peer.peerId,
            peer.failures,
            err.message,
            backoff,
          )
        },
      )
      .finally(() => {
        peer.dialing = false
        this.dials.delete(dial)
        this.noteAlone(this.libp2p.getConnections().length === 0, Date.now())
      })
    this.dials.add(dial)
  }

  private connected(peerId: string): boolean {
    return this.libp2p.getConnections(peerIdFromString(peerId)).length > 0
  }

  private async rejoin(signal: AbortSignal): Promise<void> {
    try {
      const n = await reconnectKnownPeers(this.libp2p, this.known, this.log, { signal })
      if (n > 0) this.log('reconnected to %d known peer(s)', n)
    } catch (err) {
      if (!signal.aborted) this.log.error('reconnecting to known peers failed: %e', err)
    } finally {
      this.rejoining = undefined
    }
  }
}
