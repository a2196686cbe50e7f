/**
 * Errors that cross the RPC boundary. Each class has a stable JSON-RPC `code` and travels as
 * `{ code, message, data: { name, retryable, ... } }`; the client rebuilds the class from
 * `data.name`. A handler's HorusError keeps its `name` and string `code` in `data`; anything else
 * becomes -32603 "internal error" — a remote peer never sees a stack trace or an unknown message.
 */
import { HorusError } from '../../core/errors.js'

/** Every code this protocol uses. -32000..-32099 are JSON-RPC's "server error" range. */
export const RPC_CODES = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  Unauthorized: -32001,
  Timeout: -32002,
  TooManyRequests: -32003,
  Cancelled: -32004,
  FrameTooLarge: -32005,
  Unavailable: -32006,
  /** Never on the wire: the client's session stream closed before the answer came. */
  ConnectionClosed: -32007,
  /** The transport cannot carry what was asked (e.g. a subscription over plain `POST /rpc`). */
  Unsupported: -32008,
  /** Default for a handler's HorusError; methods may declare their own in -32010..-32099. */
  Application: -32010,
} as const

/** The `data` member of every error this protocol sends. */
export interface RpcErrorData {
  /** Class name; the client rebuilds the error from it. */
  name: string
  /** Whether the same call may succeed later. */
  retryable: boolean
  /** The HorusError's stable string code, for application errors. */
  code?: string
  [key: string]: unknown
}

/** An error object as it appears in a JSON-RPC response. */
export interface WireError {
  code: number
  message: string
  data?: unknown
}

export interface RpcErrorOptions {
  /** Extra members for `data` (never a stack). */
  data?: Record<string, unknown>
  cause?: unknown
}

export class RpcError extends Error {
  static readonly code: number = RPC_CODES.InternalError
  static readonly defaultMessage: string = 'internal error'
  static readonly retryable: boolean = false
  readonly code: number
  readonly data: RpcErrorData

  constructor(message?: string, options: RpcErrorOptions = {}) {
    const ctor = new.target as unknown as typeof RpcError
    super(message ?? ctor.defaultMessage, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = ctor.code
    this.data = { ...options.data, name: this.name, retryable: ctor.retryable }
  }

  get retryable(): boolean {
    return this.data.retryable
  }

  toWire(): WireError {
    return { code: this.code, message: this.message, data: this.data }
  }
}

/** The frame was not valid JSON. */
export class ParseError extends RpcError {
  static override readonly code = RPC_CODES.ParseError
  static override readonly defaultMessage = 'parse error'
}

/** The JSON was not a valid JSON-RPC 2.0 request. */
export class InvalidRequestError extends RpcError {
  static override readonly code = RPC_CODES.InvalidRequest
  static override readonly defaultMessage = 'invalid request'
}

export class MethodNotFoundError extends RpcError {
  static override readonly code = RPC_CODES.MethodNotFound
  static override readonly defaultMessage = 'method not found'
}

/** Params failed the method's schema; `data.errors` lists `{ path, message }`. */
export class InvalidParamsError extends RpcError {
  static override readonly code = RPC_CODES.InvalidParams
  static override readonly defaultMessage = 'invalid params'
}

export class InternalError extends RpcError {}

/** The method's `authorize` hook refused the caller. */
export class UnauthorizedError extends RpcError {
  static override readonly code = RPC_CODES.Unauthorized
  static override readonly defaultMessage = 'unauthorized'
}

/** The call ran past its timeout; the handler's signal was aborted. */
export class CallTimeoutError extends RpcError {
  static override readonly code = RPC_CODES.Timeout
  static override readonly defaultMessage = 'call timed out'
  static override readonly retryable = true
}

/** The caller already has the maximum number of calls (or subscriptions) in flight. */
export class TooManyRequestsError extends RpcError {
  static override readonly code = RPC_CODES.TooManyRequests
  static override readonly defaultMessage = 'too many requests in flight'
  static override readonly retryable = true
}

/** The caller abandoned the call (abort signal → `rpc.cancel`). */
export class CancelledError extends RpcError {
  static override readonly code = RPC_CODES.Cancelled
  static override readonly defaultMessage = 'call cancelled'
}

/**
 * A frame exceeded a frame limit; `data: { bytes, maxFrameBytes }` name its size and the limit.
 * A server skips a request frame over its limit and answers this with id null (it never read the
 * id), serving on; past `frameSkipBound`, or for a malformed prefix, it resets the stream after.
 */
export class FrameTooLargeError extends RpcError {
  static override readonly code = RPC_CODES.FrameTooLarge
  static override readonly defaultMessage = 'frame too large'
}

/** The server is stopping. */
export class UnavailableError extends RpcError {
  static override readonly code = RPC_CODES.Unavailable
  static override readonly defaultMessage = 'server unavailable'
  static override readonly retryable = true
}

/** Client side: the session stream closed before the answer came. */
export class ConnectionClosedError extends RpcError {
  static override readonly code = RPC_CODES.ConnectionClosed
  static override readonly defaultMessage = 'rpc session closed'
  static override readonly retryable = true
}

/** The transport cannot carry this kind of call (a subscription over plain HTTP POST). */
export class UnsupportedError extends RpcError {
  static override readonly code = RPC_CODES.Unsupported
  static override readonly defaultMessage = 'not supported by this transport'
}

/**
 * An application error from the remote whose class this client does not know; `remoteName` and
 * `remoteCode` keep what the server said.
 */
export class RemoteError extends RpcError {
  static override readonly code = RPC_CODES.Application
  static override readonly defaultMessage = 'remote error'
  readonly remoteName: string
  readonly remoteCode: number

  constructor(message?: string, options: RpcErrorOptions & { remoteCode?: number } = {}) {
    super(message, options)
    const name = options.data?.name
    this.remoteName = typeof name === 'string' ? name : 'Error'
    this.remoteCode = options.remoteCode ?? RPC_CODES.Application
    this.data.name = this.remoteName
    this.data.retryable = options.data?.retryable === true
  }

  override toWire(): WireError {
    return { code: this.remoteCode, message: this.message, data: this.data }
  }
}

/** RpcError classes a client rebuilds by name without being told about them. */
const BUILT_IN: ReadonlyArray<typeof RpcError> = [
  ParseError,
  InvalidRequestError,
  MethodNotFoundError,
  InvalidParamsError,
  InternalError,
  UnauthorizedError,
  CallTimeoutError,
  TooManyRequestsError,
  CancelledError,
  FrameTooLargeError,
  UnavailableError,
  ConnectionClosedError,
  UnsupportedError,
]
const BUILT_IN_BY_NAME = new Map<string, typeof RpcError>(BUILT_IN.map((c) => [c.name, c]))

/** The errors every method may answer with, listed in each method's OpenRPC entry. */
export const COMMON_ERRORS: ReadonlyArray<typeof RpcError> = [
  UnauthorizedError,
  CallTimeoutError,
  TooManyRequestsError,
  CancelledError,
  UnavailableError,
]

/** An application error a method declares: documented in OpenRPC and sent with this code. */
export interface ErrorSpec {
  /** The HorusError subclass name the handler throws. */
  name: string
  /** -32010..-32099; @default -32010 */
  code?: number
  /** What the error means, for the document. */
  message: string
}

/** A HorusError subclass a client can rebuild from `data.name`. */
export type HorusErrorClass = abstract new (...args: never[]) => HorusError

/** What a handler's throw becomes on the wire. */
export function toWireError(err: unknown, declared: ReadonlyMap<string, ErrorSpec> = new Map()): WireError {
  if (err instanceof RpcError) return err.toWire()
  if (err instanceof HorusError) {
    // An error may carry JSON details for its caller (`wireData`), e.g. what was asked and what exists.
    const extra = (err as { wireData?: unknown }).wireData
    const details = typeof extra === 'object' && extra !== null ? extra : {}
    const data: RpcErrorData = { ...details, name: err.name, retryable: err.retryable, code: err.code }
    return { code: declared.get(err.name)?.code ?? RPC_CODES.Application, message: err.message, data }
  }
  return new InternalError().toWire()
}

/**
 * The typed error for a wire error: a built-in RpcError, a known HorusError subclass (rebuilt
 * without running its constructor, so only `message`, `code` and `retryable` are restored), or a
 * RemoteError naming what the server sent.
 */
export function fromWireError(
  wire: WireError,
  known: ReadonlyMap<string, HorusErrorClass> = new Map(),
): Error {
  // A peer's answer is typed only by what it sent: `error: null` (or a number) must become an
  // error to hand on, not a TypeError thrown where the answer is read.
  if (!isRecord(wire)) {
    return new RemoteError(`the remote sent a malformed error (${wire === null ? 'null' : typeof wire})`)
  }
  const data = isRecord(wire.data) ? wire.data : {}
  const name = typeof data.name === 'string' ? data.name : undefined
  const message = typeof wire.message === 'string' ? wire.message : undefined
  const builtIn = name === undefined ? undefined : BUILT_IN_BY_NAME.get(name)
  if (builtIn !== undefined) return new builtIn(message, { data })
  const horus = name === undefined ? undefined : known.get(name)
  if (horus !== undefined) {
    const err = Object.create(horus.prototype) as HorusError
    Object.defineProperties(err, {
      message: { value: message ?? '', writable: true, configurable: true },
      name: { value: name, writable: true, configurable: true },
      code: { value: typeof data.code === 'string' ? data.code : 'HORUS_ERROR', enumerable: true },
      retryable: { value: data.retryable === true, enumerable: true },
    })
    Error.captureStackTrace(err, fromWireError) // where the caller received it, not the remote's
    return err
  }
  if (name === undefined) {
    const standard = [...BUILT_IN].find((c) => c.code === wire.code)
    if (standard !== undefined) return new standard(message)
  }
  return new RemoteError(message, { data: { ...data, name: name ?? 'Error' }, remoteCode: wire.code })
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
