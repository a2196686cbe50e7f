/** Gossip topic for heartbeats. */
export const LIVENESS_TOPIC = 'horus/v1/liveness'

/**
 * How often a node announces itself in a small mesh: the shortest heartbeat interval. In a larger
 * mesh the interval grows so the whole mesh stays within its presence budget.
 * @default 1_000
 */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 1_000

/**
 * Heartbeats per second the whole mesh sends between them, so what each node receives (and
 * verifies) stays flat as the mesh grows: a node heartbeats every max(interval, peers / budget)
 * seconds. Up to this many nodes nothing changes from one heartbeat a second. Each heartbeat a
 * node receives per second costs it ~1.2 ms of CPU per second (every copy decrypted, demuxed,
 * decoded and forwarded to its gossip mesh peers): at 30 a second, presence alone took 2 cores for
 * a 50-node simulated mesh. The price of 10 is loss detection: 5 × N / 10 s in a mesh of N > 10
 * (25 s at N = 50, at most 150 s), while a coordinator's takeover waits at most its lease.
 * @default 10
 */
export const DEFAULT_PRESENCE_BUDGET_PER_SECOND = 10

/**
 * The longest heartbeat interval a node uses, or believes from a peer: a peer is lost at the latest
 * `missedHeartbeats` times this after its last heartbeat. @default 30_000
 */
export const MAX_HEARTBEAT_INTERVAL_MS = 30_000

/** A peer is considered lost after this many missed heartbeats. @default 5 */
export const DEFAULT_MISSED_HEARTBEATS = 5

/** Heartbeats larger than this are rejected. @default 16_384 */
export const MAX_HEARTBEAT_BYTES = 16 * 1024
