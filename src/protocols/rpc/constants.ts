/** The RPC protocol id; the version changes only with an incompatible framing change. */
export const RPC_PROTOCOL = '/horus/rpc/1.0.0'

/** OpenRPC version the generated document declares. */
export const OPENRPC_VERSION = '1.3.2'

/**
 * Largest JSON frame a session accepts (the length prefix is checked before any body byte is
 * buffered). Large payloads belong in the datastore, not in one call.
 * @default 1_048_576
 */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024

/**
 * A request frame over a server's limit is skipped — its body dropped as it arrives, never
 * buffered, one -32005 answered with `data: { bytes, maxFrameBytes }` and the session serving
 * on — when it announces at most this many times the limit, or DEFAULT_MAX_FRAME_BYTES if that is
 * more (`frameSkipBound`). A client never sends over its own limit, which is the default unless
 * its embedder changed it: a server whose limit was lowered still skips anything a default
 * client can send, and one at the default skips a client whose limit is up to 4× its own.
 * Skipping costs this node no memory and the sender every byte, so the bound is not about memory:
 * a longer prefix is one no client of ours produces (garbage, another protocol, 2^34 bytes
 * announced to hold the stream), and that stream is answered and reset at once.
 * @default 4
 */
export const OVERSIZED_FRAME_SKIP_FACTOR = 4

/**
 * Calls one peer may have running at once, across all its sessions; the next one is answered
 * with -32003 TooManyRequests. Subscriptions do not count once set up.
 * @default 64
 */
export const DEFAULT_MAX_IN_FLIGHT_PER_PEER = 64

/**
 * Time a handler may take before its signal is aborted and the caller gets -32002 Timeout.
 * A method may declare its own `timeoutMs`.
 * @default 30_000
 */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000

/**
 * Client-side wait for a response when the caller gives neither `timeoutMs` nor a signal;
 * a little longer than the server's own timeout so the server's answer normally wins.
 * @default 35_000
 */
export const DEFAULT_CLIENT_TIMEOUT_MS = 35_000

/**
 * Concurrent session streams one connection may open to this node.
 * @default 8
 */
export const DEFAULT_MAX_INBOUND_STREAMS = 8

/**
 * Subscriptions one session may hold at once; more are refused with -32003.
 * @default 256
 */
export const DEFAULT_MAX_SUBSCRIPTIONS_PER_SESSION = 256

/**
 * How long closing a session waits for queued bytes to leave before the stream is reset.
 * @default 2_000
 */
export const SESSION_CLOSE_TIMEOUT_MS = 2_000

/** Client → server notification that abandons a call: `params: { id }`. */
export const CANCEL_METHOD = 'rpc.cancel'

/** Suffixes that turn a subscription name into its three wire methods. */
export const SUBSCRIBE_SUFFIX = '.subscribe'
export const UNSUBSCRIBE_SUFFIX = '.unsubscribe'
export const EVENT_SUFFIX = '.event'

/**
 * Longest `traceparent` request member handed to handlers (a W3C `traceparent` of version 00 is
 * 55 characters; later versions may append fields). Anything longer, or not a string, is ignored.
 * @default 256
 */
export const MAX_TRACEPARENT_CHARS = 256
