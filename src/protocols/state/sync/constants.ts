/** Gossip topic of run-state deltas between coordinators. */
export const STATE_TOPIC = 'horus/v1/state'

/** Largest encoded delta accepted from the topic; bigger changes travel by anti-entropy. @default 900_000 */
export const MAX_DELTA_BYTES = 900_000

/** The anti-entropy RPC method. */
export const SYNC_METHOD = 'coordinator.sync'

/**
 * Soft budget of one anti-entropy answer (encoded JSON): what does not fit goes in the next round,
 * so a frame never exceeds the RPC limit (1 MiB).
 * @default 600_000
 */
export const SYNC_BUDGET_BYTES = 600_000

/** Digests one sync call carries at most. @default 2_000 */
export const MAX_SYNC_DIGESTS = 2_000
