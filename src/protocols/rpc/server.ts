/**
 * Serves the registry on `/horus/rpc/1.0.0`. Usable as a libp2p service
 * (`services: { rpc: rpcServer({ registry }) }`) or standalone with any object that can
 * `handle`/`unhandle` a protocol — the libp2p node itself will do.
 */
import type {
  ComponentLogger,
  Connection,
  Logger,
  Startable,
  Stream,
  StreamHandler,
  StreamHandlerOptions,
} from '@libp2p/interface'
import {
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_INBOUND_STREAMS,
  DEFAULT_MAX_SUBSCRIPTIONS_PER_SESSION,
  RPC_PROTOCOL,
} from './constants.js'
import type { Caller } from './definitions.js'
import { Dispatcher } from './dispatcher.js'
import type { MethodRegistry } from './registry.js'
import { ServerSession } from './server-session.js'

export interface RpcServerInit {
  registry: MethodRegistry
  /** @default RPC_PROTOCOL */
  protocol?: string
  /**
   * Longest request body a session reads. A longer one is answered -32005 (`data: { bytes,
   * maxFrameBytes }`) and skipped, the session serving on, up to `frameSkipBound` of it; beyond
   * that its stream is reset.
   * @default DEFAULT_MAX_FRAME_BYTES (1 MiB)
   */
  maxFrameBytes?: number
  /** @default DEFAULT_MAX_IN_FLIGHT_PER_PEER (64) */
  maxInFlightPerPeer?: number
  /** @default DEFAULT_CALL_TIMEOUT_MS (30 s) */
  callTimeoutMs?: number
  /** @default DEFAULT_MAX_INBOUND_STREAMS (8) */
  maxInboundStreams?: number
  /** @default DEFAULT_MAX_SUBSCRIPTIONS_PER_SESSION (256) */
  maxSubscriptionsPerSession?: number
}

/** The only parts of libp2p the server touches. */
export interface RpcServerComponents {
  registrar: {
    handle(protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void>
    unhandle(protocol: string): Promise<void>
  }
  logger: ComponentLogger
}

export class RpcServer implements Startable {
  readonly protocol: string
  readonly dispatcher: Dispatcher
  private readonly components: RpcServerComponents
  private readonly log: Logger
  private readonly maxFrameBytes: number
  private readonly maxInboundStreams: number
  private readonly maxSubscriptions: number
  private readonly sessions = new Set<ServerSession>()
  private started = false
  private oversizedFrames = 0

  constructor(components: RpcServerComponents, init: RpcServerInit) {
    this.components = components
    this.log = components.logger.forComponent('horus:rpc')
    this.protocol = init.protocol ?? RPC_PROTOCOL
    this.maxFrameBytes = init.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    this.maxInboundStreams = init.maxInboundStreams ?? DEFAULT_MAX_INBOUND_STREAMS
    this.maxSubscriptions = init.maxSubscriptionsPerSession ?? DEFAULT_MAX_SUBSCRIPTIONS_PER_SESSION
    const limits: { maxInFlightPerPeer?: number; callTimeoutMs?: number } = {}
    if (init.maxInFlightPerPeer !== undefined) limits.maxInFlightPerPeer = init.maxInFlightPerPeer
    if (init.callTimeoutMs !== undefined) limits.callTimeoutMs = init.callTimeoutMs
    this.dispatcher = new Dispatcher({ registry: init.registry, log: this.log, ...limits })
  }

  readonly [Symbol.toStringTag] = '@horus/rpc-server'

  get registry(): MethodRegistry {
    return this.dispatcher.registry
  }

  isStarted(): boolean {
    return this.started
  }

  async start(): Promise<void> {
    if (this.started) return
    await this.components.registrar.handle(this.protocol, this.handleStream, {
      maxInboundStreams: this.maxInboundStreams,
      // Callers are often on the other side of a relay; the frame limit bounds what they can send.
      runOnLimitedConnection: true,
    })
    this.started = true
  }

  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    await this.components.registrar.unhandle(this.protocol)
    await Promise.all([...this.sessions].map((s) => s.close()))
    this.sessions.clear()
  }

  /** Open session streams. */
  get sessionCount(): number {
    return this.sessions.size
  }

  /**
   * Request frames refused for exceeding `maxFrameBytes` since this server was made, across
   * sessions: each was answered -32005; those beyond `frameSkipBound` also had their stream reset.
   */
  get oversizedFrameCount(): number {
    return this.oversizedFrames
  }

  /** Live subscriptions across every session (0 once all have ended: nothing leaked). */
  get subscriptionCount(): number {
    let n = 0
    for (const s of this.sessions) n += s.subscriptionCount
    return n
  }

  private readonly handleStream = (stream: Stream, connection: Connection): void => {
    if (!this.started) {
      stream.abort(new Error('rpc server stopped'))
      return
    }
    const remote = connection.remotePeer
    const caller: Caller = { peerId: remote.toString(), via: 'libp2p', authenticated: true }
    if (remote.publicKey !== undefined)
      caller.publicKeyHex = Buffer.from(remote.publicKey.raw).toString('hex')
    const session = new ServerSession({
      stream,
      caller,
      limitKey: caller.peerId as string,
      dispatcher: this.dispatcher,
      maxFrameBytes: this.maxFrameBytes,
      maxSubscriptions: this.maxSubscriptions,
      log: this.log,
      onOversizedFrame: () => {
        this.oversizedFrames++
      },
      onClose: (s) => this.sessions.delete(s),
    })
    this.sessions.add(session)
    session.start()
  }
}

/** libp2p service factory: `services: { rpc: rpcServer({ registry }) }`. */
export function rpcServer(init: RpcServerInit): (components: RpcServerComponents) => RpcServer {
  return (components) => new RpcServer(components, init)
}
