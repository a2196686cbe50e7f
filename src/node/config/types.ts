import type { ROLES } from '../constants.js'
import type { TelemetryConfig } from '../telemetry/config.js'

export type Role = (typeof ROLES)[number]

/** The HTTP gateway of a node (opt-in). */
export interface GatewayConfig {
  /** `host:port`; loopback unless a token is set. */
  listen: string
  /** Bearer token required on every request; mandatory off loopback. */
  token?: string
  /**
   * Narrows what HTTP callers, who act with this node's own key, may do: only these trust roles'
   * methods and these capabilities. @default none (the node's key: every role, every capability)
   */
  grant?: GatewayGrant
}

export interface GatewayGrant {
  roles: string[]
  /** Capability names or `'*'`. */
  capabilities: string[]
}

/** Who may use a relay: the keys of its trust policy (default), or anyone who connects. */
export type RelayAllow = 'trusted' | 'anyone'

/** When a node reserves slots on relays: unless AutoNAT confirmed a public address, always, never. */
export type RelayReserve = 'auto' | 'always' | 'never'

/** Limits a relay applies to each relayed connection; absent fields are unlimited. */
export interface RelayLimits {
  /** The relay closes a relayed connection this long after it opened. */
  durationMs?: number
  /** The relay closes a relayed connection once this many bytes crossed it (both ways together). */
  dataBytes?: number
}

/** This node serving as a circuit relay v2 (`relay.service`, `--relay-service`). */
export interface RelayServiceConfig {
  /** @default 'trusted' */
  allow: RelayAllow
  /** @default RELAY_MAX_RESERVATIONS */
  maxReservations: number
  /** @default RELAY_RESERVATION_TTL_MS */
  reservationTtlMs: number
  /**
   * Per relayed connection; absent (`limits: none`): unlimited. A limited connection carries Horus
   * RPC (job dispatch, anti-entropy, client calls) until a limit is hit; gossip and the DHT keep to
   * direct and unlimited connections (a node behind NAT hears gossip through its relay, a member of
   * the mesh).
   * @default { durationMs: RELAY_DURATION_LIMIT_MS, dataBytes: RELAY_DATA_LIMIT_BYTES }
   */
  limits?: RelayLimits
}

/** NAT traversal: serving as a relay, and reserving slots on relays. */
export interface RelayConfig {
  /** Present when this node serves as a relay. */
  service?: RelayServiceConfig
  /** Relays to reserve on (`.../p2p/<id>`), besides bootstrap peers that offer the service. */
  peers: string[]
  /** @default 'auto' */
  reserve: RelayReserve
  /** @default RELAY_MAX_RELAYS */
  maxRelays: number
}

/** A node's validated configuration. Every field has its default applied. */
export interface NodeConfig {
  dataDir: string
  listen: string[]
  /** Addresses to announce instead of the listen addresses (e.g. behind NAT). */
  announce: string[]
  bootstrap: string[]
  roles: Role[]
  mdns: boolean
  /** Path to a libp2p pnet swarm key; when set, only nodes with the same key can connect. */
  swarmKeyFile?: string
  maxConnections: number
  dialTimeoutMs: number
  gateway?: GatewayConfig
  relay: RelayConfig
  /** OpenTelemetry tracing (`telemetry.tracing`); absent: off. */
  telemetry?: TelemetryConfig
  /** Sections owned by later layers (trust policy, runner, coordinator…), kept as given. */
  extra: Record<string, unknown>
  /** The YAML file this config came from, if any (watched for trust-policy reloads). */
  file?: string
}

/** What a caller may give: every field optional, defaults applied once by `resolveConfig`. */
export type NodeConfigInput = Partial<Omit<NodeConfig, 'extra' | 'relay'>> & Record<string, unknown>
