import { MAX_HEARTBEAT_BYTES } from './constants.js'

/** What a node says about itself every interval on the liveness topic. */
export interface Heartbeat {
  peerId: string
  roles: string[]
  /** Capabilities a runner serves. */
  capabilities: string[]
  /** Jobs running now and the most it runs at once (runners); 0/0 otherwise. */
  load: { running: number; capacity: number }
  /** Increases with every heartbeat, so reordered gossip never moves a peer back in time. */
  seq: number
  /** Sender's wall clock, ms. Informational only: liveness uses the receiver's clock. */
  sentAt: number
  /**
   * When the sender's next heartbeat is due, ms after this one: receivers judge the sender lost
   * after `missedHeartbeats` of these (clamped to their own bounds). Absent from older nodes.
   */
  intervalMs?: number
  /**
   * Addresses the sender listens on (without its `/p2p/` suffix), so a node that hears it can dial
   * it without a DHT lookup: how a node keeps its connection floor (see `ConnectionFloor`). A
   * wrong address costs only a failed dial: noise checks the peer id. Absent from older nodes.
   */
  addrs?: string[]
}

/** Addresses carried in one heartbeat at most. */
export const MAX_HEARTBEAT_ADDRS = 16

/** The longest string a heartbeat's lists carry (a role, a capability, an address). */
export const MAX_HEARTBEAT_ADDR_LENGTH = 128

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export function encodeHeartbeat(heartbeat: Heartbeat): Uint8Array {
  return encoder.encode(JSON.stringify(heartbeat))
}

function isStringArray(value: unknown, max = 256): value is string[] {
  return (
    Array.isArray(value) &&
    value.length <= max &&
    value.every((v) => typeof v === 'string' && v.length <= MAX_HEARTBEAT_ADDR_LENGTH)
  )
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0
}

/** Parses and checks a heartbeat; `undefined` for anything malformed (never throws). */
export function decodeHeartbeat(data: Uint8Array): Heartbeat | undefined {
  if (data.byteLength > MAX_HEARTBEAT_BYTES) return undefined
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(data))
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const v = value as Record<string, unknown>
  const load = v.load as Record<string, unknown> | undefined
  if (
    typeof v.peerId !== 'string' ||
    !isStringArray(v.roles) ||
    !isStringArray(v.capabilities) ||
    typeof load !== 'object' ||
    load === null ||
    !isCount(load.running) ||
    !isCount(load.capacity) ||
    !isCount(v.seq) ||
    typeof v.sentAt !== 'number' ||
    (v.intervalMs !== undefined && !(isCount(v.intervalMs) && v.intervalMs > 0)) ||
    (v.addrs !== undefined && !isStringArray(v.addrs, MAX_HEARTBEAT_ADDRS))
  ) {
    return undefined
  }
  return {
    peerId: v.peerId,
    roles: v.roles,
    capabilities: v.capabilities,
    load: { running: load.running, capacity: load.capacity },
    seq: v.seq,
    sentAt: v.sentAt,
    ...(v.intervalMs === undefined ? {} : { intervalMs: v.intervalMs }),
    ...(v.addrs === undefined ? {} : { addrs: v.addrs }),
  }
}
