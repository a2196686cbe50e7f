/**
 * How a method is declared: once, with its schemas, errors, serving role and authorization hook.
 * The registry compiles the params schema, the dispatcher enforces it, and the OpenRPC document
 * is generated from the same declaration — so what is documented is what is enforced.
 */
import type { ErrorSpec } from './errors.js'

/** Which part of a node serves a method. */
export type Role = 'coordinator' | 'supervisor' | 'runner' | 'node'

/** Who is calling, as far as the transport can tell. */
export interface Caller {
  /** The remote peer ID (libp2p: authenticated by noise). */
  peerId?: string
  /** Hex of the caller's public key, when known. */
  publicKeyHex?: string
  via: 'libp2p' | 'http'
  /**
   * libp2p: always true (noise proved the peer ID). HTTP: true when the request carried the
   * gateway's bearer token; false on a token-less loopback gateway.
   */
  authenticated?: boolean
  /** Remote socket address, for HTTP callers. */
  remoteAddress?: string
  /**
   * What an HTTP caller may do beyond its key's trust entry (config `gateway.grant`): only these
   * roles' methods, only these capabilities (`'*'`: any). Absent: the key's entry alone decides.
   */
  grant?: { roles: readonly string[]; capabilities: readonly string[] }
  /**
   * The coordinator (peer ID) that forwarded this call for its own client, when it came in a
   * `coordinator.forward` envelope: the audit trail names it beside the client.
   */
  forwardedBy?: string
}

/**
 * Decides whether `caller` may use `method`. The trust policy plugs in here; a method's own hook
 * wins over the registry-wide one. The default allows everyone.
 */
export type Authorize = (caller: Caller, method: string) => boolean | Promise<boolean>

/** A JSON Schema (draft-07, as ajv 8 reads it by default). */
export type JsonSchema = Record<string, unknown> | boolean

/**
 * Params are always declared as an object schema; by-position calls are mapped onto the
 * `properties` in declaration order.
 */
export interface ParamsSchema {
  type: 'object'
  properties: Record<string, JsonSchema>
  required?: readonly string[]
  additionalProperties?: boolean | JsonSchema
  [keyword: string]: unknown
}

export interface CallContext {
  /** Aborted on timeout, on the caller's `rpc.cancel`, when the session closes or the server stops. */
  signal: AbortSignal
  caller: Caller
  /**
   * The request's `traceparent` member, when it is a string of at most MAX_TRACEPARENT_CHARS: the
   * caller's claim, unparsed and unverified (tracing parses it, and ignores what does not fit).
   */
  traceparent?: string
}

export interface SubscriptionContext<E> {
  /** Aborted on unsubscribe, when the session closes or the server stops. */
  signal: AbortSignal
  caller: Caller
  /** The id the caller got back from `<name>.subscribe`. */
  subscription: string
  /**
   * Send one event. Resolves once the transport accepted it (waits while the stream's buffer is
   * full); after the subscription ended it resolves without sending.
   */
  notify(event: E): Promise<void>
}

/** Undo whatever `subscribe` attached; called exactly once when the subscription ends. */
export type Teardown = () => void | Promise<void>

interface Described {
  name: string
  summary: string
  description?: string
  role: Role
  params: ParamsSchema
  /** Application errors the handler may throw (HorusError subclasses by name). */
  errors?: readonly ErrorSpec[]
  authorize?: Authorize
}

export interface MethodDefinition<P = Record<string, unknown>, R = unknown> extends Described {
  result: JsonSchema
  /** Name of the result in the OpenRPC document. @default 'result' */
  resultName?: string
  /** Overrides the server's per-call timeout for this method. */
  timeoutMs?: number
  /**
   * Calls of this method count against their own per-peer in-flight budget instead of the shared
   * one (replication between coordinators must not wait behind the calls it carries for clients).
   */
  limitGroup?: string
  /** Method syntax keeps handlers with narrower params assignable to the registry's list. */
  handler(params: P, ctx: CallContext): Promise<R> | R
}

/**
 * `name` gives three wire methods: `<name>.subscribe` (params → subscription id),
 * `<name>.unsubscribe` (`{ subscription }` → boolean) and the notification `<name>.event`.
 */
export interface SubscriptionDefinition<P = Record<string, unknown>, E = unknown> extends Described {
  /** Schema of each event's `result`. */
  event: JsonSchema
  subscribe(params: P, ctx: SubscriptionContext<E>): Teardown | undefined | Promise<Teardown | undefined>
}

/** Identity functions that let TypeScript check a handler against its declared param type. */
export function defineMethod<P = Record<string, unknown>, R = unknown>(
  def: MethodDefinition<P, R>,
): MethodDefinition<P, R> {
  return def
}

export function defineSubscription<P = Record<string, unknown>, E = unknown>(
  def: SubscriptionDefinition<P, E>,
): SubscriptionDefinition<P, E> {
  return def
}
