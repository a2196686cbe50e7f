/** Gossip topic of monitor events (workflow and step transitions, node status). */
export const EVENTS_TOPIC = 'horus/v1/events'

/** Largest encoded monitor event accepted from the topic. @default 65_536 */
export const MAX_EVENT_BYTES = 64 * 1024

/** Longest `message` an event carries; longer ones are cut. @default 4_096 */
export const MAX_EVENT_MESSAGE_LENGTH = 4_096
