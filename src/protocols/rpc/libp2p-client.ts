/**
 * RpcClient over libp2p: one session stream to the target, opened on first use, shared by every
 * call (pipelined) and subscription, and reopened by the next call once it has died. Calls that
 * were waiting when it died fail with ConnectionClosedError — they are not retried here, because
 * only the caller knows whether a method is safe to repeat.
 */
import type { ComponentLogger, Logger, PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { createLogger } from '../../core/logger.js'
import {
  type CallOptions,
  EventQueue,
  type RpcClient,
  type RpcSubscription,
  type SubscribeOptions,
  subscriptionName,
} from './client.js'
import { ClientSession } from './client-session.js'
import {
  DEFAULT_CLIENT_TIMEOUT_MS,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_IN_FLIGHT_PER_PEER,
  RPC_PROTOCOL,
  SUBSCRIBE_SUFFIX,
  UNSUBSCRIBE_SUFFIX,
} from './constants.js'
import { CancelledError, ConnectionClosedError, type HorusErrorClass } from './errors.js'
import type { RpcParams } from './messages.js'
import { dialPeerProtocol, type PeerDialer } from './peer-dial.js'

export interface Libp2pRpcClientInit {
  /**
   * With `peerRouting`, `getConnections` and `peerStore`, a peer ID target that cannot be dialled at
   * the addresses the peer store holds is tried through this node's relays and looked up afresh
   * (peer-dial.ts).
   */
  libp2p: PeerDialer
  /** Peer ID (object or string) or multiaddr (object or `/ip4/...` string, with `/p2p/<id>`). */
  target: PeerId | Multiaddr | Multiaddr[] | string
  /** @default RPC_PROTOCOL */
  protocol?: string
  /** Largest response frame accepted. @default DEFAULT_MAX_FRAME_BYTES */
  maxFrameBytes?: number
  /** Applied when a call gives neither `timeoutMs` nor a signal. @default DEFAULT_CLIENT_TIMEOUT_MS */
  defaultTimeoutMs?: number
  /**
   * Calls on the wire at once; more wait locally. Keep it at or below the server's per-peer cap.
   * @default DEFAULT_MAX_IN_FLIGHT_PER_PEER
   */
  maxInFlight?: number
  /** Opening the session stream (dial + protocol negotiation). @default 10_000 */
  openTimeoutMs?: number
  /** Events buffered per subscription before it is ended. @default 10_000 */
  maxBufferedEvents?: number
  /** HorusError subclasses to rebuild from `data.name`. */
  errors?: readonly HorusErrorClass[]
  logger?: ComponentLogger
}

export class Libp2pRpcClient implements RpcClient {
  private readonly init: Libp2pRpcClientInit
  private readonly target: PeerId | Multiaddr | Multiaddr[]
  private readonly knownErrors: ReadonlyMap<string, HorusErrorClass>
  private readonly log: Logger
  private current: ClientSession | undefined
  private opening: Promise<ClientSession> | undefined
  private closed = false

  constructor(init: Libp2pRpcClientInit) {
    this.init = init
    this.target = typeof init.target === 'string' ? parseTarget(init.target) : init.target
    this.knownErrors = new Map((init.errors ?? []).map((c) => [c.name, c]))
    this.log = (init.logger ?? createLogger()).forComponent('horus:rpc:client')
  }

  async call<T = unknown>(method: string, params?: RpcParams, options: CallOptions = {}): Promise<T> {
    const session = await this.session(options.signal)
    const timeoutMs =
      options.timeoutMs ??
      (options.signal === undefined ? (this.init.defaultTimeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS) : undefined)
    return (await session.request(method, params, {
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      ...(options.traceparent === undefined ? {} : { traceparent: options.traceparent }),
    })) as T
  }

  subscribe<E = unknown>(
    name: string,
    params?: RpcParams,
    options: SubscribeOptions = {},
  ): RpcSubscription<E> {
    const base = subscriptionName(name)
    const timeoutMs = this.init.defaultTimeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS
    let session: ClientSession | undefined
    let id: string | undefined
    let wanted = true
    const release = async (): Promise<void> => {
      if (session === undefined || id === undefined) return
      session.unroute(id)
      if (!session.usable) return
      await session
        .request(`${base}${UNSUBSCRIBE_SUFFIX}`, { subscription: id }, { timeoutMs })
        .catch((err: unknown) => this.log('unsubscribe %s failed - %e', id, err))
    }
    const unsubscribe = async (): Promise<void> => {
      if (!wanted) return
      wanted = false
      queue.end()
      options.signal?.removeEventListener('abort', onAbort)
      await release()
    }
    const queue = new EventQueue<E>(this.init.maxBufferedEvents ?? 10_000, unsubscribe)
    const onAbort = (): void => {
      unsubscribe().catch(() => {})
    }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    const ready = (async () => {
      const opened = await this.session(options.signal)
      session = opened
      const result = await opened.request(`${base}${SUBSCRIBE_SUFFIX}`, params, {
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        timeoutMs,
        onResult: (sub) => opened.route(String(sub), queue),
      })
      id = String(result)
      // Unsubscribed while the subscribe call was on its way: undo it on the server too.
      if (!wanted) await release()
      return id
    })()
    ready.catch((err: unknown) => queue.end(err instanceof Error ? err : new Error(String(err))))
    return {
      id: ready,
      unsubscribe,
      [Symbol.asyncIterator]: () => queue,
    }
  }

  async close(): Promise<void> {
    this.closed = true
    const session = this.current ?? (await this.opening?.catch(() => undefined))
    this.current = undefined
    await session?.close()
  }

  private async session(signal?: AbortSignal): Promise<ClientSession> {
    if (this.closed) throw new ConnectionClosedError('rpc client closed')
    if (this.current?.usable === true) return this.current
    this.opening ??= this.open().finally(() => {
      this.opening = undefined
    })
    if (signal === undefined) return this.opening
    // The dial is shared, so one caller's abort must not fail the others: race it per caller.
    const { promise, reject } = abortPromise(signal)
    try {
      return await Promise.race([this.opening, promise])
    } finally {
      reject.dispose()
    }
  }

  private async open(): Promise<ClientSession> {
    const stream = await this.dial(AbortSignal.timeout(this.init.openTimeoutMs ?? 10_000))
    const session = new ClientSession({
      stream,
      maxFrameBytes: this.init.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      maxInFlight: this.init.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT_PER_PEER,
      knownErrors: this.knownErrors,
      log: this.log,
    })
    if (this.closed) {
      await session.close()
      throw new ConnectionClosedError('rpc client closed')
    }
    this.current = session
    return session
  }

  private dial(signal: AbortSignal): Promise<Stream> {
    return dialPeerProtocol(this.init.libp2p, this.target, this.init.protocol ?? RPC_PROTOCOL, {
      signal,
      log: this.log,
    })
  }
}

function parseTarget(target: string): PeerId | Multiaddr {
  return target.startsWith('/') ? multiaddr(target) : peerIdFromString(target)
}

function abortPromise(signal: AbortSignal): { promise: Promise<never>; reject: { dispose(): void } } {
  let onAbort: () => void = () => {}
  const promise = new Promise<never>((_, reject) => {
    onAbort = () => reject(new CancelledError('call cancelled by the caller', { cause: signal.reason }))
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
  promise.catch(() => {})
  return { promise, reject: { dispose: () => signal.removeEventListener('abort', onAbort) } }
}
