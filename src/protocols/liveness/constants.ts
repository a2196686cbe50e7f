/** Gossip topic for heartbeats. */
export const LIVENESS_TOPIC = 'horus/v1/liveness'

/** How often a node announces itself. @default 1_000 */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 1_000

/** A peer is considered lost after this many missed heartbeats. @default 5 */
export const DEFAULT_MISSED_HEARTBEATS = 5

/** Heartbeats larger than this are rejected. @default 16_384 */
export const MAX_HEARTBEAT_BYTES = 16 * 1024
