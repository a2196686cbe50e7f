export {
  RELAY_V2_HOP_CODEC as RELAY_HOP_PROTOCOL,
  RELAY_V2_STOP_CODEC as RELAY_STOP_PROTOCOL,
} from '@libp2p/circuit-relay-v2'

/** How often the NAT service looks for relays to reserve on (events trigger it sooner). @default 2_000 */
export const NAT_TICK_MS = 2_000
