import type { ROLES } from '../constants.js'

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
  /** Sections owned by later layers (trust policy, runner, coordinator…), kept as given. */
  extra: Record<string, unknown>
  /** The YAML file this config came from, if any (watched for trust-policy reloads). */
  file?: string
}

/** What a caller may give: every field optional, defaults applied once by `resolveConfig`. */
export type NodeConfigInput = Partial<Omit<NodeConfig, 'extra'>> & Record<string, unknown>
