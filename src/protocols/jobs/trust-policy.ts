/**
 * Which keys this node trusts, in which roles, for which capabilities: the `trust:` section of the
 * node config. The node's own key is always trusted with every role and capability, so a single
 * node (or `horus demo`) works with an empty policy.
 */
import { CAPABILITY_PATTERN } from './constants.js'
import { TrustPolicyError } from './errors.js'
import { normalizePublicKey, peerIdFromPublicKeyHex, publicKeyHexOfPeer } from './keys.js'

export const TRUST_ROLES = ['client', 'coordinator', 'supervisor', 'runner', 'admin'] as const
export type TrustRole = (typeof TRUST_ROLES)[number]

/** One entry of `trust.keys` as written in the config file. */
export interface TrustKeyConfig {
  /** A peer ID (`12D3KooW…`) or a 64-hex Ed25519 public key. */
  key: string
  name?: string
  roles: TrustRole[]
  /** Capability names, or `'*'` for all. @default [] */
  capabilities?: string[]
}

export interface TrustConfig {
  keys?: TrustKeyConfig[]
}

export interface TrustedKey {
  /** Lower-case hex public key. */
  readonly key: string
  readonly name?: string
  readonly roles: ReadonlySet<TrustRole>
  readonly capabilities: ReadonlySet<string>
  readonly self: boolean
  /** Where the entry is written, e.g. `trust.keys[2]` (absent for the node's own key). */
  readonly path?: string
}

export interface TrustQuery {
  /** The key must hold this role (or one of these). */
  role: TrustRole | readonly TrustRole[]
  /** When given, the key must also be allowed this capability. */
  capability?: string
}

export type TrustDecision =
  | { admitted: true; entry: TrustedKey }
  | { admitted: false; reason: 'untrusted_key' | 'capability_denied'; message: string }

export interface TrustPolicyOptions {
  /** This node's hex public key (or peer ID): always admitted. */
  self?: string
  /** Path prefix for messages. @default 'trust' */
  path?: string
}

const KEY_FIELDS = ['key', 'name', 'roles', 'capabilities']
const ALL_CAPABILITIES = '*'

export class TrustPolicy {
  readonly #keys: ReadonlyMap<string, TrustedKey>

  private constructor(keys: ReadonlyMap<string, TrustedKey>) {
    this.#keys = keys
  }

  /** Validates a `trust:` section; throws `TrustPolicyError` listing every problem with its path. */
  static parse(config: unknown, options: TrustPolicyOptions = {}): TrustPolicy {
    const path = options.path ?? 'trust'
    const issues: string[] = []
    const entries = parseKeys(config, path, issues)
    if (issues.length > 0) throw new TrustPolicyError(issues)
    const keys = new Map(entries.map((entry) => [entry.key, entry]))
    if (options.self !== undefined) {
      const self = normalizePublicKey(options.self)
      keys.set(self, {
        key: self,
        name: keys.get(self)?.name ?? 'self',
        roles: new Set(TRUST_ROLES),
        capabilities: new Set([ALL_CAPABILITIES]),
        self: true,
      })
    }
    return new TrustPolicy(keys)
  }

  get keys(): TrustedKey[] {
    return [...this.#keys.values()]
  }

  lookup(keyHex: string): TrustedKey | undefined {
    return this.#keys.get(keyHex)
  }

  decide(keyHex: string, query: TrustQuery): TrustDecision {
    const entry = this.#keys.get(keyHex)
    if (entry === undefined) {
      return { admitted: false, reason: 'untrusted_key', message: `key ${keyHex} is not in the trust policy` }
    }
    const roles: readonly TrustRole[] = typeof query.role === 'string' ? [query.role] : query.role
    if (!roles.some((role) => entry.roles.has(role))) {
      return {
        admitted: false,
        reason: 'untrusted_key',
        message: `key ${describe(entry)} does not hold role ${roles.join(' or ')}`,
      }
    }
    if (query.capability !== undefined && !allowsCapability(entry, query.capability)) {
      return {
        admitted: false,
        reason: 'capability_denied',
        message: `key ${describe(entry)} may not use capability "${query.capability}"`,
      }
    }
    return { admitted: true, entry }
  }

  admits(keyHex: string, query: TrustQuery): boolean {
    return this.decide(keyHex, query).admitted
  }

  /**
   * `decide` for a peer named by its peer ID (or hex key), as membership checks see peers: an
   * unparseable or non-Ed25519 peer ID is an untrusted key. Never throws; the conversion is cached.
   */
  decidePeer(peer: string, query: TrustQuery): TrustDecision {
    const keyHex = this.#keys.has(peer) ? peer : publicKeyHexOfPeer(peer)
    if (keyHex === undefined) {
      return { admitted: false, reason: 'untrusted_key', message: `peer ${peer} has no Ed25519 key` }
    }
    return this.decide(keyHex, query)
  }

  /** Does the peer (peer ID or hex key) hold the role (and the capability, when given)? */
  admitsPeer(peer: string, query: TrustQuery): boolean {
    return this.decidePeer(peer, query).admitted
  }

  /** The policy's entry for a peer (peer ID or hex key), if any. */
  lookupPeer(peer: string): TrustedKey | undefined {
    const keyHex = this.#keys.has(peer) ? peer : publicKeyHexOfPeer(peer)
    return keyHex === undefined ? undefined : this.#keys.get(keyHex)
  }

  /**
   * The RPC registry's "who may call" hook: does the caller's key (hex or peer ID) hold `role`?
   * Never throws; an unparseable key is simply not admitted.
   */
  canCall(key: string, role: TrustRole | readonly TrustRole[]): boolean {
    return this.decidePeer(key, { role }).admitted
  }
}

/** The roles and capabilities of `claimed` that `entry` grants (membership believes no more). */
export function grantedClaims(
  entry: TrustedKey | undefined,
  claimed: { readonly roles: readonly string[]; readonly capabilities: readonly string[] },
): { roles: string[]; capabilities: string[] } {
  if (entry === undefined) return { roles: [], capabilities: [] }
  const roles = claimed.roles.filter((role) => entry.roles.has(role as TrustRole))
  const capabilities = entry.roles.has('runner')
    ? claimed.capabilities.filter((capability) => allowsCapability(entry, capability))
    : []
  return { roles, capabilities }
}

function allowsCapability(entry: TrustedKey, capability: string): boolean {
  return entry.capabilities.has(ALL_CAPABILITIES) || entry.capabilities.has(capability)
}

function describe(entry: TrustedKey): string {
  return entry.name === undefined ? entry.key : `${entry.key} (${entry.name})`
}

function describeValue(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'object') return 'a mapping'
  return `${typeof value} ${String(value)}`
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function parseKeys(config: unknown, path: string, issues: string[]): TrustedKey[] {
  if (config === undefined || config === null) return []
  if (!isRecord(config)) {
    issues.push(`${path}: expected a mapping, got ${describeValue(config)}`)
    return []
  }
  for (const field of Object.keys(config)) {
    if (field !== 'keys') issues.push(`${path}.${field}: unknown field (expected keys)`)
  }
  const list = config.keys
  if (list === undefined || list === null) return []
  if (!Array.isArray(list)) {
    issues.push(`${path}.keys: expected a list, got ${describeValue(list)}`)
    return []
  }
  const seen = new Map<string, number>()
  const entries: TrustedKey[] = []
  list.forEach((item: unknown, index) => {
    const entry = parseKey(item, `${path}.keys[${index}]`, issues)
    if (entry === undefined) return
    const first = seen.get(entry.key)
    if (first !== undefined) {
      issues.push(`${path}.keys[${index}].key: duplicate of ${path}.keys[${first}].key`)
      return
    }
    seen.set(entry.key, index)
    entries.push(entry)
  })
  return entries
}

function parseKey(item: unknown, path: string, issues: string[]): TrustedKey | undefined {
  if (!isRecord(item)) {
    issues.push(`${path}: expected a mapping, got ${describeValue(item)}`)
    return undefined
  }
  const before = issues.length
  for (const field of Object.keys(item)) {
    if (!KEY_FIELDS.includes(field)) {
      issues.push(`${path}.${field}: unknown field (expected ${KEY_FIELDS.join(', ')})`)
    }
  }
  const key = parseKeyString(item.key, `${path}.key`, issues)
  if (item.name !== undefined && typeof item.name !== 'string') {
    issues.push(`${path}.name: expected a string, got ${describeValue(item.name)}`)
  }
  const roles = parseRoles(item.roles, `${path}.roles`, issues)
  const capabilities = parseCapabilities(item.capabilities, `${path}.capabilities`, issues)
  if (issues.length > before || key === undefined) return undefined
  return {
    key,
    ...(typeof item.name === 'string' ? { name: item.name } : {}),
    roles: new Set(roles),
    capabilities: new Set(capabilities),
    self: false,
    path,
  }
}

function parseKeyString(value: unknown, path: string, issues: string[]): string | undefined {
  if (typeof value !== 'string') {
    issues.push(`${path}: expected a peer ID or hex public key, got ${describeValue(value)}`)
    return undefined
  }
  try {
    const key = normalizePublicKey(value)
    peerIdFromPublicKeyHex(key)
    return key
  } catch {
    issues.push(`${path}: not a peer ID or hex public key: ${JSON.stringify(value)}`)
    return undefined
  }
}

function parseRoles(value: unknown, path: string, issues: string[]): TrustRole[] {
  const expected = TRUST_ROLES.join(', ')
  if (!Array.isArray(value) || value.length === 0) {
    issues.push(`${path}: expected a non-empty list of ${expected}, got ${describeValue(value)}`)
    return []
  }
  const roles: TrustRole[] = []
  value.forEach((role: unknown, index) => {
    if (typeof role === 'string' && (TRUST_ROLES as readonly string[]).includes(role)) {
      roles.push(role as TrustRole)
    } else {
      issues.push(`${path}[${index}]: expected one of ${expected}, got ${describeValue(role)}`)
    }
  })
  return roles
}

function parseCapabilities(value: unknown, path: string, issues: string[]): string[] {
  if (value === undefined) return []
  if (!Array.isArray(value)) {
    issues.push(`${path}: expected a list of capability names, got ${describeValue(value)}`)
    return []
  }
  const capabilities: string[] = []
  value.forEach((capability: unknown, index) => {
    if (
      typeof capability === 'string' &&
      (capability === ALL_CAPABILITIES || CAPABILITY_PATTERN.test(capability))
    ) {
      capabilities.push(capability)
    } else {
      issues.push(
        `${path}[${index}]: expected a capability name matching ${CAPABILITY_PATTERN} or "*", got ${describeValue(capability)}`,
      )
    }
  })
  return capabilities
}
