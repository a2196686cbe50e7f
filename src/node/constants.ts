/** Roles a node may take; each is wired as a service when present. */
export const ROLES = ['coordinator', 'supervisor', 'runner'] as const

/** Private Kademlia protocol, so a Horus mesh never mixes with the public IPFS DHT. */
export const DHT_PROTOCOL = '/horus/kad/1.0.0'

/** Name of the identity key file inside the data dir. */
export const IDENTITY_FILE = 'identity.key'

/** Folder of the LevelDB datastore inside the data dir. */
export const DATASTORE_DIR = 'datastore'

/**
 * Listen on every interface by default, like other libp2p daemons; tests and the demo pass
 * loopback addresses explicitly.
 * @default ['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/tcp/0/ws']
 */
export const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/tcp/0/ws']

/** @default 300 */
export const DEFAULT_MAX_CONNECTIONS = 300

/** @default 10_000 */
export const DEFAULT_DIAL_TIMEOUT_MS = 10_000

/** Peers from the stored peer list dialled at once after a restart. @default 16 */
export const RECONNECT_MAX_PEERS = 16

/** @default 5_000 */
export const RECONNECT_DIAL_TIMEOUT_MS = 5_000

/** Where a node keeps its state when no data dir is given. @default '~/.horus' */
export const DEFAULT_DATA_DIR_NAME = '.horus'

/** Addresses exempt from gossipsub's IP-colocation penalty. @default ['127.0.0.1', '::1'] */
export const LOOPBACK_IPS = ['127.0.0.1', '::1']

/** Loopback networks exempt from the inbound connection rate limit. */
export const LOOPBACK_NETWORKS = ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128']

/** Capabilities whose job topics get gossipsub scoring from the start (the built-in runner kinds). */
export const BUILTIN_CAPABILITIES = ['hero', 'sal', 'osiris']

/** Peers not seen for this long are dropped from the known-peers list. @default 7 days */
export const KNOWN_PEER_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000

/** How often the mesh keeper looks at the node's connections. @default 1_000 */
export const MESH_KEEPER_TICK_MS = 1_000

/** First pause before a bootstrap peer that did not answer is dialled again. @default 1_000 */
export const BOOTSTRAP_RETRY_MIN_MS = 1_000

/** The longest pause between two dials of a bootstrap peer (the pause doubles up to it). @default 30_000 */
export const BOOTSTRAP_RETRY_MAX_MS = 30_000

/**
 * Reservations a relay (`relay.service`) holds at once; one per node it relays for. libp2p's
 * default is 15, too few for a mesh whose private nodes all reserve on the same few relays.
 * @default 128
 */
export const RELAY_MAX_RESERVATIONS = 128

/** How long a reservation lasts before the node must refresh it (libp2p refreshes 5 min early). @default 2 h */
export const RELAY_RESERVATION_TTL_MS = 2 * 60 * 60 * 1000

/** Shortest reservation TTL accepted: libp2p refreshes no more often than every 30 s. @default 60_000 */
export const RELAY_MIN_RESERVATION_TTL_MS = 60_000

/** The longest duration limit a relay can enforce (a Node.js timer's maximum). */
export const RELAY_MAX_DURATION_MS = 2_147_483_647

/**
 * The smallest data limit accepted: a relayed connection spends tens of KiB on its noise handshake,
 * identify and the first gossip exchange before any Horus traffic. @default 262_144 (256 KiB)
 */
export const RELAY_MIN_DATA_BYTES = 256 * 1024

/**
 * How long a relay (`relay.service`) carries one relayed connection before closing it, unless
 * `relay.service.limits` says otherwise. Long enough for a job's dispatch and its result over one
 * RPC session; the peers then reconnect through the relay (a new connection, a fresh limit) or
 * directly when DCUtR found a way. @default 3_600_000 (1 h)
 */
export const RELAY_DURATION_LIMIT_MS = 60 * 60 * 1000

/**
 * Bytes (both ways together) a relay carries over one relayed connection before closing it, unless
 * `relay.service.limits` says otherwise: a hundred RPC frames of the 1 MiB maximum and more.
 * @default 134_217_728 (128 MiB)
 */
export const RELAY_DATA_LIMIT_BYTES = 128 * 1024 * 1024

/** Relays a node that is not publicly reachable holds reservations on at once. @default 2 */
export const RELAY_MAX_RELAYS = 2

/** First pause before a reservation that failed is tried again on the same relay. @default 5_000 */
export const RELAY_RETRY_MIN_MS = 5_000

/** The longest pause between two reservation attempts on one relay (doubling up to it). @default 300_000 */
export const RELAY_RETRY_MAX_MS = 300_000

/**
 * Connections a node keeps open once idle ones are trimmed (`ConnectionTrimmer`); connections in
 * use and gossip mesh peers may keep it above. `maxConnections` stays the hard limit. @default 32
 */
export const DEFAULT_TARGET_CONNECTIONS = 32

/** How often the connection count is checked against the target. @default 5_000 */
export const TRIM_INTERVAL_MS = 5_000

/** A connection younger than this is never trimmed: whoever opened it is still using it. @default 10_000 */
export const TRIM_GRACE_MS = 10_000

/**
 * A node with at least this many connections, that hears its bootstrap peer's heartbeats, does not
 * redial that bootstrap peer when the connection closes (it is in the mesh). @default 4
 */
export const KEEPER_SATISFIED_CONNECTIONS = 4

/**
 * Connections a node keeps at least (`ConnectionFloor`), dialling peers it hears when below: enough
 * for gossipsub's mesh degree (6) beside the bootstrap peers, which prune most nodes from their
 * meshes. Kept below the trimmer's target, so the two never fight. @default 8
 */
export const DEFAULT_CONNECTION_FLOOR = 8

/**
 * Peer records libp2p's peer store keeps in memory at most (`BoundedMemoryDatastore`), dropping the
 * least recently written: far above a mesh's size (a node hears every peer's heartbeat and records
 * where it listens), far below what a flood of fresh keys would need to exhaust memory. @default 20_000
 */
export const PEER_STORE_MAX_PEERS = 20_000

/** Bytes of peer records kept in memory at most (identify's records are up to ~8 KB). @default 32 MiB */
export const PEER_STORE_MAX_BYTES = 32 * 1024 * 1024

/**
 * How often the addresses heard from peers this node is not connected to are stored again: the
 * peer store stops handing out an address an hour after it first saw it. @default 1_800_000
 */
export const HEARD_ADDRS_REFRESH_MS = 30 * 60 * 1000

/** Peers dialled at most per mesh-keeper tick to fill the floor. @default 4 */
export const CONNECTION_FLOOR_DIALS_PER_TICK = 4

/** How long a peer that could not be dialled to fill the floor is left alone. @default 30_000 */
export const CONNECTION_FLOOR_BACKOFF_MS = 30_000

/**
 * Gossipsub app-specific score of a configured bootstrap peer: times gossipsub's app weight (10)
 * it reaches the threshold (10) above which a peer's peer exchange is believed; every other peer
 * scores 0 here, so only bootstrap peers' PX is acted on. @default 1
 */
export const BOOTSTRAP_APP_SCORE = 1
