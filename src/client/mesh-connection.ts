/**
 * The client inside the mesh: its own libp2p host (own peer ID, dial-only) and RPC sessions to the
 * nodes it uses. A bootstrap node answers the mesh questions; coordinators and supervisors are
 * discovered through it, and a node that stops answering is set aside for a while and the call goes
 * to the next one — safely, see `failover.ts`.
 */
import type { Libp2p, Logger } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { boundedCall } from '../core/bounded-call.js'
import { createLogger } from '../core/logger.js'
import { EventQueue, type RpcSubscription } from '../protocols/rpc/client.js'
import { isBusy, isDialFailure, maybeHandled, shouldFailover } from '../protocols/rpc/failover.js'
import { Libp2pRpcClient } from '../protocols/rpc/libp2p-client.js'
import type { RpcParams } from '../protocols/rpc/messages.js'
import type { Connection, ConnectionCallOptions, ServiceRole } from './connection.js'
import {
  CLIENT_MAX_IN_FLIGHT,
  FAILED_PEER_COOLDOWN_MS,
  PROBE_TIMEOUT_MS,
  SAME_NODE_RETRIES,
  SAME_NODE_RETRY_MS,
} from './constants.js'
import { explainDialFailure } from './dial-failure.js'
import { discoverRole, type NodeInfo, withPeerId } from './discovery.js'
import {
  BootstrapUnreachableError,
  ClientOptionsError,
  NoProviderError,
  OutcomeUnknownError,
} from './errors.js'
import { delay } from './events.js'

export interface MeshConnectionInit {
  host: Libp2p
  /** Multiaddrs ending in `/p2p/<peer id>`. */
  bootstrap: string[]
  defaultTimeoutMs: number
  /** Where a peer listens, asked of the mesh (the DHT) when the addresses known do not answer. */
  findPeer?: (peerId: string, signal: AbortSignal) => Promise<string[]>
  /**
   * Whether a discovered node may serve `role` for this client (its trust policy, or its entry
   * node's). Bootstrap nodes serve `node` calls without asking. @default every node
   */
  admits?: (peerId: string, role: 'coordinator' | 'supervisor', signal?: AbortSignal) => Promise<boolean>
  /** The host holds a private mesh's swarm key (for advice when a handshake fails). */
  privateMesh?: boolean
}

export class MeshConnection implements Connection {
  readonly description: string
  private readonly host: Libp2p
  private readonly bootstrapIds: string[]
  private readonly defaultTimeoutMs: number
  private readonly findPeer: MeshConnectionInit['findPeer']
  private readonly admits: MeshConnectionInit['admits']
  private readonly log: Logger
  /** Addresses by peer ID, from bootstrap, `node.peers` and `node.info`. */
  private readonly addrs = new Map<string, string[]>()
  private readonly clients = new Map<string, Libp2pRpcClient>()
  private readonly current = new Map<ServiceRole, string>()
  private readonly failedAt = new Map<string, number>()
  /** The last error each peer's probe failed with, to say why a bootstrap node was not reached. */
  private readonly lastFailure = new Map<string, unknown>()
  private readonly privateMesh: boolean
  private closed = false

  constructor(init: MeshConnectionInit) {
    if (init.bootstrap.length === 0)
      throw new ClientOptionsError('bootstrap: expected at least one multiaddr')
    this.host = init.host
    this.defaultTimeoutMs = init.defaultTimeoutMs
    this.findPeer = init.findPeer
    this.admits = init.admits
    this.privateMesh = init.privateMesh ?? false
    this.log = createLogger().forComponent('horus:client')
    this.bootstrapIds = init.bootstrap.map((addr, i) => {
      const peerId = peerIdOf(addr)
      if (peerId === undefined) {
        throw new ClientOptionsError(
          `bootstrap[${i}]: expected a multiaddr ending in /p2p/<peer id>, got "${addr}"`,
        )
      }
      this.addrs.set(peerId, [...(this.addrs.get(peerId) ?? []), addr])
      return peerId
    })
    this.description = `mesh via ${init.bootstrap[0]}`
  }

  /** Reaches a bootstrap node, so a wrong address fails at connect time rather than on first use. */
  async open(signal?: AbortSignal): Promise<void> {
    try {
      await this.pick('node', new Set(), signal)
    } catch (err) {
      if (!(err instanceof NoProviderError)) throw err
      const failure = this.bootstrapIds.map((id) => this.lastFailure.get(id)).find((e) => e !== undefined)
      const why = failure === undefined ? '' : `: ${explainDialFailure(failure, this.privateMesh)}`
      throw new BootstrapUnreachableError(`${this.bootstrapIds.join(', ')}${why}`, failure ?? err)
    }
  }

  async call<T>(
    role: ServiceRole,
    method: string,
    params?: RpcParams,
    options: ConnectionCallOptions = {},
  ): Promise<T> {
    const tried = new Set<string>()
    const signal = options.signal
    // The last failure seen, and the last one after which the request may have been handled.
    let failure: unknown
    let ambiguous: unknown
    for (;;) {
      let peerId: string
      try {
        peerId = await this.pick(role, tried, signal)
      } catch (err) {
        throw this.exhausted(err, method, options, failure, ambiguous)
      }
      try {
        const answer = await this.callOn<T>(peerId, method, params, options)
        options.onServed?.(peerId)
        return answer
      } catch (err) {
        if (signal?.aborted === true) throw err
        if (maybeHandled(err) && options.idempotent !== true) {
          // Sent perhaps, answer lost, and no other node may take it: the caller must look it up.
          throw new OutcomeUnknownError(method, options.outcome ?? {}, err)
        }
        if (!shouldFailover(err, { idempotent: options.idempotent ?? false, ...(signal ? { signal } : {}) }))
          throw err
        this.log('%s on %s failed, trying another %s - %e', method, peerId, role, err)
        this.markFailed(peerId, err)
        tried.add(peerId)
        failure = err
        if (maybeHandled(err)) ambiguous = err
      }
    }
  }

  /**
   * One node: waits and asks again while it says it is busy, and — for a call that is idempotent
   * on that node only — sends it again after a failure that may have come after it was handled.
   */
  private async callOn<T>(
    peerId: string,
    method: string,
    params: RpcParams | undefined,
    options: ConnectionCallOptions,
  ): Promise<T> {
    let attempt = 0
    for (;;) {
      try {
        return await this.client(peerId).call<T>(method, params, {
          ...(options.signal === undefined ? {} : { signal: options.signal }),
          ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
        })
      } catch (err) {
        // A read is asked once more where it was (its session reopens by itself) before moving on.
        const resends = options.sameNodeIdempotent === true ? SAME_NODE_RETRIES : options.idempotent ? 1 : 0
        const again =
          options.signal?.aborted !== true &&
          ((isBusy(err) && attempt < SAME_NODE_RETRIES) || (maybeHandled(err) && attempt < resends))
        if (!again) throw err
        attempt++
        this.log('%s on %s: %s; asking it again (%d)', method, peerId, (err as Error).message, attempt)
        await delay(SAME_NODE_RETRY_MS * 2 ** (attempt - 1), options.signal)
      }
    }
  }

  /** No node left to try: say why, keeping the real failure (and its ambiguity) rather than "none found". */
  private exhausted(
    err: unknown,
    method: string,
    options: ConnectionCallOptions,
    failure: unknown,
    ambiguous: unknown,
  ): unknown {
    if (!(err instanceof NoProviderError)) return err
    // A read that may have been handled leaves nothing unknown behind (it only went unanswered):
    // only a call that creates something (it names its outcome, or may not run twice) does.
    if (ambiguous !== undefined && (options.idempotent !== true || options.outcome !== undefined))
      return new OutcomeUnknownError(method, options.outcome ?? {}, ambiguous)
    if (failure === undefined) return err
    return new NoProviderError(err.role, err.detail, failure)
  }

  subscribe<E>(
    role: ServiceRole,
    name: string,
    params?: RpcParams,
    options: { signal?: AbortSignal } = {},
  ): RpcSubscription<E> {
    const controller = new AbortController()
    const onAbort = (): void => controller.abort()
    options.signal?.addEventListener('abort', onAbort, { once: true })
    let inner: RpcSubscription<E> | undefined
    const queue = new EventQueue<E>(10_000, async () => {
      options.signal?.removeEventListener('abort', onAbort)
      controller.abort()
      await inner?.unsubscribe()
    })
    const id = (async () => {
      const tried = new Set<string>()
      for (;;) {
        const peerId = await this.pick(role, tried, controller.signal)
        const sub = this.client(peerId).subscribe<E>(name, params, { signal: controller.signal })
        try {
          const subId = await sub.id
          inner = sub
          this.pump(sub, queue, peerId).catch(() => {})
          return subId
        } catch (err) {
          if (!shouldFailover(err, { idempotent: true, signal: controller.signal })) throw err
          this.markFailed(peerId, err)
          tried.add(peerId)
        }
      }
    })()
    id.catch((err: unknown) => queue.end(err instanceof Error ? err : new Error(String(err))))
    return {
      id,
      unsubscribe: async () => {
        await queue.return()
      },
      [Symbol.asyncIterator]: () => queue,
    }
  }

  /** A subscription on one node (the one that holds what it is about), on the session kept to it. */
  subscribeTo<E>(
    peerId: string,
    name: string,
    params?: RpcParams,
    options: { signal?: AbortSignal } = {},
  ): RpcSubscription<E> {
    return this.client(peerId).subscribe<E>(name, params, options)
  }

  async untilFound<T>(
    role: ServiceRole,
    fn: (call: <R>(method: string, params?: RpcParams) => Promise<R>) => Promise<T>,
    skip: (err: unknown) => boolean,
    options: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<T> {
    const tried = new Set<string>()
    let notFound: unknown
    let failure: unknown
    for (;;) {
      let peerId: string
      try {
        peerId = await this.pick(role, tried, options.signal)
      } catch (err) {
        // "Not found" only when every node answered so: one that failed (unreachable, still
        // starting) may hold it, and the caller must not conclude it is gone.
        if (failure !== undefined && err instanceof NoProviderError)
          throw new NoProviderError(err.role, err.detail, failure)
        if (notFound !== undefined && err instanceof NoProviderError) throw notFound
        throw err
      }
      tried.add(peerId)
      try {
        return await fn((method, params) =>
          this.callOn(peerId, method, params, { ...options, idempotent: true }),
        )
      } catch (err) {
        if (skip(err)) notFound = err
        else if (
          shouldFailover(err, { idempotent: true, ...(options.signal ? { signal: options.signal } : {}) })
        ) {
          this.markFailed(peerId, err)
          failure = err
        } else throw err
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true
    const clients = [...this.clients.values()]
    this.clients.clear()
    await Promise.allSettled(clients.map((c) => c.close()))
  }

  private async pump<E>(sub: RpcSubscription<E>, queue: EventQueue<E>, peerId: string): Promise<void> {
    try {
      for await (const event of sub) queue.event(event)
      queue.end()
    } catch (err) {
      if (shouldFailover(err, { idempotent: true })) this.markFailed(peerId, err)
      queue.end(err instanceof Error ? err : new Error(String(err)))
    }
  }

  /** The node to use for `role`: the current one unless already tried, else the best that answers. */
  private async pick(role: ServiceRole, tried: Set<string>, signal?: AbortSignal): Promise<string> {
    if (this.closed) throw new NoProviderError(role, 'the client is closed')
    const current = this.current.get(role)
    if (current !== undefined && !tried.has(current)) return current
    this.current.delete(role)
    const candidates = await this.candidates(role, tried, signal)
    const now = Date.now()
    const fresh = candidates.filter((id) => now - (this.failedAt.get(id) ?? 0) > FAILED_PEER_COOLDOWN_MS)
    const stale = candidates.filter((id) => !fresh.includes(id))
    for (const peerId of [...fresh, ...stale]) {
      signal?.throwIfAborted()
      tried.add(peerId)
      if (await this.reach(peerId, role, signal)) {
        this.current.set(role, peerId)
        this.log('using %s as %s', peerId, role)
        return peerId
      }
    }
    throw new NoProviderError(
      role,
      candidates.length === 0 ? 'none found' : `none of ${candidates.length} found answered`,
    )
  }

  private async candidates(role: ServiceRole, tried: Set<string>, signal?: AbortSignal): Promise<string[]> {
    const self = this.host.peerId.toString()
    if (role === 'node') {
      const ids = [...new Set([...this.bootstrapIds, ...this.addrs.keys()])]
      return ids.filter((id) => !tried.has(id) && id !== self)
    }
    const found = await discoverRole(role, (method, params, opts) =>
      this.call('node', method, params, {
        idempotent: true,
        ...(signal === undefined ? {} : { signal }),
        ...(opts?.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
      }),
    )
    for (const [peerId, addrs] of found.addrs) if (peerId !== self) this.learn(peerId, addrs)
    // The nodes' peer lists include this client's own connection.
    const untried = found.peerIds.filter((id) => !tried.has(id) && id !== self)
    const admits = this.admits
    if (admits === undefined) return untried
    // Liveness and the DHT say who claims the role; the trust policy says whom to believe.
    const admitted = await Promise.all(untried.map((id) => admits(id, role, signal)))
    const out = untried.filter((_, i) => admitted[i] === true)
    const refused = untried.filter((_, i) => admitted[i] !== true)
    if (refused.length > 0) this.log('not trusted as %s, skipped: %s', role, refused.join(', '))
    return out
  }

  /**
   * Does the node answer, and (for a role) does it still hold it? When it does not answer on the
   * addresses known, the DHT is asked where it listens and it is tried once more.
   */
  private async reach(peerId: string, role: ServiceRole, signal?: AbortSignal): Promise<boolean> {
    if (await this.probe(peerId, role, signal)) return true
    if (!(await this.lookup(peerId, signal))) return false
    return this.probe(peerId, role, signal)
  }

  private async probe(peerId: string, role: ServiceRole, signal?: AbortSignal): Promise<boolean> {
    try {
      const info = await boundedCall(signal, PROBE_TIMEOUT_MS, (bounded) =>
        this.client(peerId).call<NodeInfo>('node.info', undefined, { signal: bounded }),
      )
      this.learn(peerId, info.multiaddrs)
      this.failedAt.delete(peerId)
      this.lastFailure.delete(peerId)
      return role === 'node' || info.roles.includes(role)
    } catch (err) {
      signal?.throwIfAborted()
      // Too many of our calls in flight there: it is alive, and it was found holding the role.
      if (isBusy(err)) return true
      this.log('%s did not answer - %e', peerId, err)
      this.lastFailure.set(peerId, err)
      this.markFailed(peerId, err)
      return false
    }
  }

  /** Asks the DHT for the peer's addresses; true when it named ones not known before. */
  private async lookup(peerId: string, signal?: AbortSignal): Promise<boolean> {
    try {
      const findPeer = this.findPeer
      if (findPeer === undefined) return false
      const found = await boundedCall(signal, PROBE_TIMEOUT_MS, (bounded) => findPeer(peerId, bounded))
      const known = new Set(this.addrs.get(peerId) ?? [])
      const addrs = found.map((a) => withPeerId(a, peerId))
      this.learn(peerId, addrs)
      return addrs.some((a) => !known.has(a))
    } catch (err) {
      signal?.throwIfAborted()
      this.log('DHT lookup of %s failed - %e', peerId, err)
      return false
    }
  }

  private learn(peerId: string, addrs: string[]): void {
    const merged = new Set([...addrs.map((a) => withPeerId(a, peerId)), ...(this.addrs.get(peerId) ?? [])])
    this.addrs.set(peerId, [...merged])
  }

  /**
   * The node failed a call: pick another for a while. Its session is dropped only when it could
   * not be opened (the next one dials with every address known by then); a session that works
   * carries every other call in flight to that node, and a failure of one call (a timeout, a busy
   * node) must not fail them all — it reopens by itself if it really died.
   */
  private markFailed(peerId: string, err: unknown): void {
    this.failedAt.set(peerId, Date.now())
    for (const [role, id] of this.current) if (id === peerId) this.current.delete(role)
    if (!isDialFailure(err)) return
    const client = this.clients.get(peerId)
    this.clients.delete(peerId)
    client?.close().catch(() => {})
  }

  /**
   * The session to a node, kept while it works: addresses learned later do not replace it (that
   * would cut its subscriptions); after a failure the next one dials with everything known.
   */
  private client(peerId: string): Libp2pRpcClient {
    const existing = this.clients.get(peerId)
    if (existing !== undefined) return existing
    const addrs = this.addrs.get(peerId) ?? []
    const client = new Libp2pRpcClient({
      libp2p: this.host,
      target: addrs.length === 0 ? peerId : addrs.map((a) => multiaddr(a)),
      defaultTimeoutMs: this.defaultTimeoutMs,
      openTimeoutMs: PROBE_TIMEOUT_MS,
      // Below the node's per-peer cap, so probes and look-ups still get through under load.
      maxInFlight: CLIENT_MAX_IN_FLIGHT,
    })
    this.clients.set(peerId, client)
    return client
  }
}

function peerIdOf(addr: string): string | undefined {
  try {
    return multiaddr(addr)
      .getComponents()
      .findLast((c) => c.name === 'p2p')?.value
  } catch {
    return undefined
  }
}
