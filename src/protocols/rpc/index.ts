/**
 * JSON-RPC 2.0 over libp2p streams (`/horus/rpc/1.0.0`), described by OpenRPC.
 *
 * Wire: each message is an unsigned-varint length prefix + UTF-8 JSON. One session stream carries
 * many pipelined calls; responses are matched by id and may arrive in any order.
 * - Subscriptions: `<name>.subscribe` answers a subscription id; events then arrive as
 *   notifications `{ method: '<name>.event', params: { subscription, result } }` — never before
 *   the subscribe response — until `<name>.unsubscribe` `{ subscription }` or the stream closes.
 * - Cancellation: the caller sends the notification `rpc.cancel` `{ id }`; the handler's signal
 *   aborts and the call is answered -32004 Cancelled.
 * - Trace context: a request may carry a W3C `traceparent` member beside `params` (outside
 *   anything signed); handlers see it as `ctx.traceparent`, an unverified string. A member that
 *   is not a string, or is longer than MAX_TRACEPARENT_CHARS, is ignored, never refused.
 * - Limits: frame size — a request frame over the server's limit is answered -32005 with id null
 *   and `data: { bytes, maxFrameBytes }`, its body skipped unread, and the session serves on; the
 *   client fails the call whose body had that many bytes and refuses larger ones unsent from then
 *   on. A prefix beyond `frameSkipBound` (or malformed) is answered the same way, then that
 *   stream is reset. Calls in flight per peer (-32003), per-call timeout (-32002, handler signal
 *   aborted).
 *
 * ```ts
 * const registry = new MethodRegistry({ info: { title: 'my node', version } })
 * registry.add(...nodeMethods(info))
 * const server = new RpcServer({ registrar: libp2p, logger }, { registry })
 * await server.start()
 * const client = new Libp2pRpcClient({ libp2p: other, target: libp2p.peerId })
 * await client.call('node.info')
 * ```
 */
export { type CallObserver, CallObservers, type ObservedCall, UNKNOWN_METHOD } from './call-observer.js'
export { assertGrantCovers, grantAllowsCapability, grantAllowsRole } from './caller-grant.js'
export type { CallOptions, RpcClient, RpcSubscription, SubscribeOptions } from './client.js'
export { EventQueue, subscriptionName } from './client.js'
export * from './constants.js'
export type {
  Authorize,
  CallContext,
  Caller,
  JsonSchema,
  MethodDefinition,
  ParamsSchema,
  Role,
  SubscriptionContext,
  SubscriptionDefinition,
  Teardown,
} from './definitions.js'
export { defineMethod, defineSubscription } from './definitions.js'
export type { DispatcherInit, DispatchResult, DispatchSession } from './dispatcher.js'
export { Dispatcher } from './dispatcher.js'
export * from './errors.js'
export { isBusy, isDialFailure, isUnreachable, maybeHandled, shouldFailover } from './failover.js'
export { encodeFrame, FrameDecoder, type FrameSkipping, frameSkipBound } from './frame-codec.js'
export type { HttpRpcClientInit } from './http-client.js'
export { HttpRpcClient } from './http-client.js'
export type { Libp2pRpcClientInit } from './libp2p-client.js'
export { Libp2pRpcClient } from './libp2p-client.js'
export type {
  RpcEventNotification,
  RpcFailure,
  RpcId,
  RpcParams,
  RpcRequest,
  RpcResponse,
  RpcSuccess,
} from './messages.js'
export type { NodeHealth, NodeInfoSource, PeerSummary } from './node-methods.js'
export { nodeMethods } from './node-methods.js'
export type { OpenRpcDocument, OpenRpcInfo, OpenRpcMethod } from './openrpc.js'
export { buildOpenRpcDocument } from './openrpc.js'
export type {
  AnyMethodDefinition,
  AnySubscriptionDefinition,
  CompiledEntry,
  RegistryInit,
} from './registry.js'
export { DISCOVER_METHOD, MethodRegistry, RpcDefinitionError } from './registry.js'
export type { RpcServerComponents, RpcServerInit } from './server.js'
export { RpcServer, rpcServer } from './server.js'
