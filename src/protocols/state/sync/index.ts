/**
 * Moving run state between coordinators: deltas on the `horus/v1/state` gossip topic (validated:
 * signed, from a trusted coordinator, decodable), and anti-entropy over RPC (`coordinator.sync`)
 * to repair what gossip missed — on meeting another coordinator and periodically. The data types
 * and merge rules are in `../` (README.md).
 */
export {
  answerSync,
  encodedParts,
  type SyncAnswer,
  type SyncHost,
  type SyncParams,
  type SyncStats,
  syncMethod,
  syncWith,
} from './anti-entropy.js'
export {
  MAX_DELTA_BYTES,
  MAX_SYNC_DIGESTS,
  STATE_TOPIC,
  SYNC_BUDGET_BYTES,
  SYNC_METHOD,
} from './constants.js'
export { decodeDelta, encodeDelta, StateGossip, type StateGossipInit } from './state-gossip.js'
