/**
 * Monitor events: their types and severities (the seed monitor's, plus DAG step transitions), the
 * wire codec, and the `horus/v2/events` gossip topic (batches of events) with its validator. The
 * coordinator derives events from each run's replicated log and streams them to
 * `coordinator.events` subscribers.
 */
export {
  EVENTS_TOPIC,
  MAX_EVENT_BYTES,
  MAX_EVENT_MESSAGE_LENGTH,
  MAX_EVENTS_PER_MESSAGE,
} from './constants.js'
export {
  decodeMonitorEventBatch,
  encodeMonitorEvent,
  encodeMonitorEventBatch,
  eventMessage,
  isMonitorEventType,
  MONITOR_EVENT_TYPES,
  type MonitorEvent,
  type MonitorEventType,
  monitorEventFrom,
  SEVERITIES,
  type Severity,
} from './event.js'
export { EventsGossip, type EventsGossipInit } from './events-gossip.js'
