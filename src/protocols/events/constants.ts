/**
 * Gossip topic of monitor events (workflow and step transitions, node status). Each message is a
 * batch: the events one coordinator emitted in one event-loop turn, as a JSON array. (`v1` carried
 * one event per message; a v1 node neither hears nor penalises v2 messages.)
 */
export const EVENTS_TOPIC = 'horus/v2/events'

/** Largest encoded monitor event, and largest encoded batch, accepted from the topic. @default 65_536 */
export const MAX_EVENT_BYTES = 64 * 1024

/** Most events one message carries. @default 256 */
export const MAX_EVENTS_PER_MESSAGE = 256

/** Longest `message` an event carries; longer ones are cut. @default 4_096 */
export const MAX_EVENT_MESSAGE_LENGTH = 4_096
