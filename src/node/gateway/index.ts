/**
 * The HTTP gateway (opt-in per node): `POST /rpc` (JSON-RPC, single or batch), `POST /rpc/subscribe`
 * (one subscription as server-sent events), `GET /openrpc.json`, `GET /healthz`, `GET /metrics`
 * (mounted by the node, ../metrics/), plus whatever
 * later code mounts with `gateway.route(method, pathPrefix, handler)`.
 *
 * ```ts
 * const gateway = new HttpGateway({ registry, listen: '127.0.0.1:0' })
 * await gateway.start()
 * gateway.url // http://127.0.0.1:41234
 * ```
 */
export * from './constants.js'
export { GatewayConfigError, GatewayNotStartedError } from './errors.js'
export type { HttpGatewayInit } from './http-gateway.js'
export { HttpGateway } from './http-gateway.js'
export { BodyTooLargeError, isJsonContent, readBody, sendError, sendJson } from './http-io.js'
export type { ListenAddress } from './listen-address.js'
export { isLoopback, parseListenAddress } from './listen-address.js'
export type { RouteContext, RouteHandler } from './routes.js'
