export { LIVENESS_TOPIC } from './constants.js'
export { decodeHeartbeat, encodeHeartbeat, type Heartbeat } from './heartbeat.js'
export { heartbeatInterval, type IntervalInput } from './interval.js'
export { type LivenessEvents, type LivenessInit, LivenessService, type LivePeer } from './service.js'
