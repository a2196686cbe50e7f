/**
 * Where the gateway listens when enabled without an address: loopback only, any free port.
 * @default '127.0.0.1:0'
 */
export const DEFAULT_GATEWAY_LISTEN = '127.0.0.1:0'

/**
 * Largest request body accepted (413 beyond); matches the RPC frame limit.
 * @default 1_048_576
 */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024

/**
 * Time a client has to send the whole request before the socket is dropped.
 * @default 30_000
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000

/**
 * Comment lines sent on idle server-sent-event streams so proxies keep them open.
 * @default 15_000
 */
export const SSE_HEARTBEAT_MS = 15_000

/** Path of JSON-RPC over HTTP. */
export const RPC_PATH = '/rpc'

/** Server-sent events for one subscription: `POST /rpc/subscribe` with a JSON-RPC subscribe body. */
export const RPC_SUBSCRIBE_PATH = '/rpc/subscribe'

export const OPENRPC_PATH = '/openrpc.json'

export const HEALTH_PATH = '/healthz'
