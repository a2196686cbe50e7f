/**
 * The node's HTTP gateway: the RPC registry for curl, the dashboard and any OpenRPC client.
 * Loopback by default. Any other bind address requires a bearer token, and when a token is set
 * every request must carry it. Without a token, requests must also name a loopback Host, so a web
 * page cannot reach the gateway through DNS rebinding. A request a browser sends from another
 * page (its `Origin` is not this gateway's) is refused whatever its method or content type, which
 * closes cross-site request forgery on every route (`POST /hooks/<name>` included).
 *
 * HTTP callers act as `caller` (the node passes its own key and `gateway.grant`): the trust
 * authorizer checks that key's entry and the grant, never "allowed because it came over HTTP".
 */
import { setMaxListeners } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ComponentLogger, Logger, Startable } from '@libp2p/interface'
import { createLogger } from '../../core/logger.js'
import type { Caller } from '../../protocols/rpc/definitions.js'
import { Dispatcher } from '../../protocols/rpc/dispatcher.js'
import type { NodeHealth } from '../../protocols/rpc/node-methods.js'
import type { MethodRegistry } from '../../protocols/rpc/registry.js'
import { listenReason } from '../listen-error.js'
import { bearerToken, tokensEqual } from './bearer-token.js'
import {
  DEFAULT_GATEWAY_LISTEN,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_REQUEST_TIMEOUT_MS,
  HEALTH_PATH,
  OPENRPC_PATH,
  RPC_PATH,
  RPC_SUBSCRIBE_PATH,
  SSE_HEARTBEAT_MS,
} from './constants.js'
import { GatewayConfigError, GatewayNotStartedError } from './errors.js'
import { sendError, sendJson } from './http-io.js'
import { isLoopback, type ListenAddress, parseListenAddress } from './listen-address.js'
import { type RouteContext, type RouteHandler, type RouteOptions, RouteTable } from './routes.js'
import { rpcRoute } from './rpc-route.js'
import { subscribeRoute } from './subscribe-route.js'

export interface HttpGatewayInit {
  registry: MethodRegistry
  /** `host:port`; port 0 picks a free one (read `url` after start). @default DEFAULT_GATEWAY_LISTEN */
  listen?: string
  /** Bearer token; required unless `listen` is a loopback address. */
  token?: string
  /** @default DEFAULT_MAX_BODY_BYTES */
  maxBodyBytes?: number
  /** Calls one HTTP client address may have running. @default DEFAULT_MAX_IN_FLIGHT_PER_PEER */
  maxInFlightPerClient?: number
  /** @default DEFAULT_CALL_TIMEOUT_MS */
  callTimeoutMs?: number
  /**
   * The identity HTTP callers act with: a key the trust policy knows (the node passes its own)
   * and an optional grant narrowing it. @default none — methods that need a role are refused
   */
  caller?: Pick<Caller, 'publicKeyHex' | 'grant'>
  /** What `GET /healthz` reports; 503 unless `status` is `ok`. @default always ok */
  health?: () => NodeHealth | Promise<NodeHealth>
  logger?: ComponentLogger
}

export class HttpGateway implements Startable {
  readonly dispatcher: Dispatcher
  private readonly listenAddress: ListenAddress
  private readonly token: string | undefined
  private readonly caller: Pick<Caller, 'publicKeyHex' | 'grant'>
  private readonly health: () => NodeHealth | Promise<NodeHealth>
  private readonly log: Logger
  private readonly routes = new RouteTable()
  private shutdown = new AbortController()
  private server: Server | undefined
  private bound: AddressInfo | undefined

  constructor(init: HttpGatewayInit) {
    this.listenAddress = parseListenAddress(init.listen ?? DEFAULT_GATEWAY_LISTEN)
    if (init.token !== undefined && init.token.length < 16) {
      throw new GatewayConfigError(['gateway.token: expected at least 16 characters'])
    }
    if (!this.listenAddress.loopback && init.token === undefined) {
      throw new GatewayConfigError([
        `gateway.token: required when listening on ${init.listen} (not a loopback address); ` +
          'set a bearer token or bind to 127.0.0.1',
      ])
    }
    this.token = init.token
    this.caller = init.caller ?? {}
    this.health = init.health ?? (() => ({ status: 'ok' }))
    this.log = (init.logger ?? createLogger()).forComponent('horus:gateway')
    const limits: { maxInFlightPerPeer?: number; callTimeoutMs?: number } = {}
    if (init.maxInFlightPerClient !== undefined) limits.maxInFlightPerPeer = init.maxInFlightPerClient
    if (init.callTimeoutMs !== undefined) limits.callTimeoutMs = init.callTimeoutMs
    this.dispatcher = new Dispatcher({ registry: init.registry, log: this.log, ...limits })
    const maxBodyBytes = init.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
    this.route('POST', RPC_PATH, exact(RPC_PATH, rpcRoute({ dispatcher: this.dispatcher, maxBodyBytes })))
    this.route(
      'POST',
      RPC_SUBSCRIBE_PATH,
      exact(
        RPC_SUBSCRIBE_PATH,
        subscribeRoute({ dispatcher: this.dispatcher, maxBodyBytes, heartbeatMs: SSE_HEARTBEAT_MS }),
      ),
    )
    this.route(
      'GET',
      OPENRPC_PATH,
      exact(OPENRPC_PATH, (_req, res) => sendJson(res, 200, init.registry.openrpc())),
    )
    this.route(
      'GET',
      HEALTH_PATH,
      exact(HEALTH_PATH, (_req, res) => this.serveHealth(res)),
    )
  }

  readonly [Symbol.toStringTag] = '@horus/http-gateway'

  /**
   * Mount a handler for `method` on `pathPrefix` and below (longest prefix wins). The bearer
   * token check runs before every route. Returns the unmount function.
   */
  route(method: string, pathPrefix: string, handler: RouteHandler, options: RouteOptions = {}): () => void {
    return this.routes.add(method, pathPrefix, handler, options)
  }

  /** Does the request carry this gateway's bearer token? False when none is configured. */
  hasToken(req: IncomingMessage): boolean {
    return this.token !== undefined && tokensEqual(bearerToken(req), this.token)
  }

  /** `http://host:port` once started. */
  get url(): string {
    if (this.bound === undefined) throw new GatewayNotStartedError()
    const host = this.bound.family === 'IPv6' ? `[${this.bound.address}]` : this.bound.address
    return `http://${host}:${this.bound.port}`
  }

  get port(): number | undefined {
    return this.bound?.port
  }

  isStarted(): boolean {
    return this.server !== undefined
  }

  async start(): Promise<void> {
    if (this.server !== undefined) return
    this.shutdown = new AbortController()
    // Each open request listens for shutdown; that is expected, not a leak.
    setMaxListeners(Number.POSITIVE_INFINITY, this.shutdown.signal)
    const server = createServer({ requestTimeout: DEFAULT_REQUEST_TIMEOUT_MS }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.log.error('%s %s failed - %e', req.method, req.url, err)
        if (!res.headersSent) sendError(res, 500, 'InternalError', 'internal error')
        else res.destroy()
      })
    })
    await new Promise<void>((resolve, reject) => {
      const { host, port } = this.listenAddress
      const where = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
      const onError = (err: Error): void =>
        reject(new GatewayConfigError([`gateway.listen: cannot listen on ${where}: ${listenReason(err)}`]))
      server.once('error', onError)
      server.listen(this.listenAddress.port, this.listenAddress.host, () => {
        server.off('error', onError)
        resolve()
      })
    })
    this.server = server
    this.bound = server.address() as AddressInfo
    this.log('listening on %s', this.url)
  }

  /** Stop accepting, end event streams and running calls, and close every socket (keep-alive too). */
  async stop(): Promise<void> {
    const server = this.server
    if (server === undefined) return
    this.server = undefined
    this.shutdown.abort()
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    server.closeAllConnections()
    await closed
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://gateway.invalid')
    const match = this.routes.match(req.method ?? 'GET', url.pathname)
    // The Origin check holds for every route; a self-authenticating route (a webhook's HMAC) skips
    // only the token and loopback-Host checks.
    if (!this.sameOriginOnly(req, res)) return
    if (!(match.kind === 'found' && match.authenticatesItself) && !this.admit(req, res)) return
    if (match.kind === 'none') {
      sendError(res, 404, 'NotFound', `no route for ${url.pathname}`)
      return
    }
    if (match.kind === 'method') {
      sendError(res, 405, 'MethodNotAllowed', `${req.method} not allowed`, { allow: match.allow.join(', ') })
      return
    }
    const controller = new AbortController()
    const shutdown = this.shutdown.signal
    const onShutdown = (): void => controller.abort()
    shutdown.addEventListener('abort', onShutdown, { once: true })
    res.once('close', () => {
      controller.abort()
      shutdown.removeEventListener('abort', onShutdown)
    })
    const ctx: RouteContext = {
      url,
      caller: {
        via: 'http',
        // admit() already refused any request without the right token when one is configured
        // (self-authenticating routes check for themselves).
        authenticated: match.authenticatesItself ? this.hasToken(req) : this.token !== undefined,
        ...(req.socket.remoteAddress === undefined ? {} : { remoteAddress: req.socket.remoteAddress }),
        ...this.caller,
      },
      signal: controller.signal,
    }
    await match.handler(req, res, ctx)
  }

  /** A request with a foreign Origin is refused (403, answered here), on every route. */
  private sameOriginOnly(req: IncomingMessage, res: ServerResponse): boolean {
    const origin = req.headers.origin
    if (origin === undefined || sameOrigin(origin, req.headers.host)) return true
    sendError(
      res,
      403,
      'Forbidden',
      `cross-origin request refused: Origin ${JSON.stringify(origin)} is not this gateway (${req.headers.host ?? 'no Host header'}); call it from its own pages or without an Origin header (curl, the SDK)`,
    )
    return false
  }

  /** The bearer token when configured, otherwise a loopback Host header. Answers 401/403 itself. */
  private admit(req: IncomingMessage, res: ServerResponse): boolean {
    if (this.token !== undefined) {
      const given = bearerToken(req)
      if (tokensEqual(given, this.token)) return true
      // Saying which of the two it is tells a caller nothing about the token itself.
      const reason = given === undefined ? 'missing bearer token' : 'wrong bearer token'
      sendError(res, 401, 'Unauthorized', reason, { 'www-authenticate': 'Bearer' })
      return false
    }
    const host = hostName(req.headers.host)
    if (host !== undefined && isLoopback(host)) return true
    sendError(res, 403, 'Forbidden', 'this gateway only answers requests addressed to a loopback host')
    return false
  }

  private async serveHealth(res: ServerResponse): Promise<void> {
    let health: NodeHealth
    try {
      health = await this.health()
    } catch (err) {
      this.log.error('health check failed - %e', err)
      health = { status: 'degraded' }
    }
    sendJson(res, health.status === 'ok' ? 200 : 503, health)
  }
}

/** Built-in routes answer their exact path only, leaving deeper paths free for mounted routes. */
function exact(path: string, handler: RouteHandler): RouteHandler {
  return (req, res, ctx) => {
    if (ctx.url.pathname !== path) {
      sendError(res, 404, 'NotFound', `no route for ${ctx.url.pathname}`)
      return
    }
    return handler(req, res, ctx)
  }
}

/**
 * True when `origin` names the host (and port) the request was sent to: what a browser sends for
 * the gateway's own pages. The scheme may be https, for a gateway behind a TLS proxy.
 */
function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false
  let url: URL
  try {
    url = new URL(origin)
  } catch {
    return false // "null" (sandboxed frames, file: pages) and anything unparsable
  }
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.host === host.toLowerCase()
}

function hostName(header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const match = /^(?:\[([^\]]+)\]|([^:]+))(?::\d+)?$/.exec(header)
  return match?.[1] ?? match?.[2]
}
