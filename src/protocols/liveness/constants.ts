/** Gossip topic for heartbeats. */
export const LIVENESS_TOPIC = 'horus/v1/liveness'

/**
 * How often a node announces itself in a small mesh: the shortest heartbeat interval. In a larger
 * mesh the interval grows so the whole mesh stays within its presence budget.
 * @default 1_000
 */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 1_000

/**
 * Meshes of up to this many nodes heartbeat every `DEFAULT_HEARTBEAT_INTERVAL_MS` (a peer lost
 * within 5 s); each node then receives at most this many heartbeats a second. @default 10
 */
export const DEFAULT_FAST_MESH_NODES = 10

/**
 * Heartbeats per second the whole mesh sends between them once it has more than
 * `DEFAULT_FAST_MESH_NODES` nodes, so what each node receives stays flat as the mesh grows: a node
 * heartbeats every max(interval, nodes / budget) seconds. Each heartbeat a node receives a second
 * costs it ~0.2 ms of CPU a second per copy (each copy is a gossip RPC decrypted, demuxed, decoded
 * and forwarded; only the first is verified), ~7 copies at N = 25 (one per gossip mesh peer): at
 * 10 a second presence was ~70 % of an idle node's CPU (BENCHMARKS.md, "Fifth
 * session: the idle floor"). The price of 1 is loss detection: 5 × N s in a mesh of 10 < N ≤ 30
 * nodes, 150 s (5 × the maximum interval) beyond, while a coordinator's takeover waits at most
 * its lease.
 * @default 1
 */
export const DEFAULT_PRESENCE_BUDGET_PER_SECOND = 1

/**
 * The longest heartbeat interval a node uses, or believes from a peer: a peer is lost at the latest
 * `missedHeartbeats` times this after its last heartbeat. @default 30_000
 */
export const MAX_HEARTBEAT_INTERVAL_MS = 30_000

/** A peer is considered lost after this many missed heartbeats. @default 5 */
export const DEFAULT_MISSED_HEARTBEATS = 5

/** Heartbeats larger than this are rejected. @default 16_384 */
export const MAX_HEARTBEAT_BYTES = 16 * 1024
