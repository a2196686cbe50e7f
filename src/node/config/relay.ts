/**
 * The `relay` section: serving as a circuit relay, and reserving slots on relays.
 *
 * ```yaml
 * relay:
 *   service:                 # or `service: true` (--relay-service) for the defaults
 *     allow: trusted         # trusted (default): only keys of this node's trust policy reserve
 *                            # and connect through it; anyone: a public relay
 *     maxReservations: 128
 *     reservationTtlMs: 7200000
 *     limits: { durationMs: 3600000, dataBytes: 134217728 }    # per relayed connection (these are the
 *                            # defaults); `limits: none` for unlimited connections
 *   peers: [/ip4/203.0.113.7/tcp/4001/p2p/12D3KooW…]         # relays to reserve on (--relay)
 *   reserve: auto            # auto (unless AutoNAT confirmed a public address) | always | never
 *   maxRelays: 2
 * ```
 */
import {
  RELAY_DATA_LIMIT_BYTES,
  RELAY_DURATION_LIMIT_MS,
  RELAY_MAX_DURATION_MS,
  RELAY_MAX_RELAYS,
  RELAY_MAX_RESERVATIONS,
  RELAY_MIN_DATA_BYTES,
  RELAY_MIN_RESERVATION_TTL_MS,
  RELAY_RESERVATION_TTL_MS,
} from '../constants.js'
import type { RelayAllow, RelayConfig, RelayLimits, RelayReserve, RelayServiceConfig } from './types.js'
import { type ConfigIssues, describe, readBoolean, readMultiaddrs, readPositiveInt } from './validate.js'

const RELAY_KEYS = ['service', 'peers', 'reserve', 'maxRelays'] as const
const SERVICE_KEYS = ['allow', 'maxReservations', 'reservationTtlMs', 'limits'] as const
const LIMIT_KEYS = ['durationMs', 'dataBytes'] as const
const ALLOW: readonly RelayAllow[] = ['trusted', 'anyone']
const RESERVE: readonly RelayReserve[] = ['auto', 'always', 'never']

export function readRelay(value: unknown, issues: ConfigIssues): RelayConfig {
  const defaults: RelayConfig = { peers: [], reserve: 'auto', maxRelays: RELAY_MAX_RELAYS }
  if (value === undefined) return defaults
  if (!isRecord(value)) {
    issues.add('relay', `expected a mapping with service, peers, reserve, maxRelays; got ${describe(value)}`)
    return defaults
  }
  unknownKeys(value, 'relay', RELAY_KEYS, issues)
  const peers = readMultiaddrs(value.peers, 'relay.peers', issues, { requirePeerId: true }) ?? []
  // Indexes of the list as written (readMultiaddrs drops the entries it reported).
  const written: unknown[] = Array.isArray(value.peers) ? value.peers : []
  written.forEach((addr, i) => {
    if (typeof addr === 'string' && addr.includes('/p2p-circuit'))
      issues.add(`relay.peers[${i}]`, `expected the relay's own address, not a relayed one: ${addr}`)
  })
  const reserve = readChoice(value.reserve, 'relay.reserve', RESERVE, issues) ?? 'auto'
  const maxRelays = readPositiveInt(value.maxRelays, 'relay.maxRelays', issues) ?? RELAY_MAX_RELAYS
  const service = readService(value.service, issues)
  return { peers, reserve, maxRelays, ...(service === undefined ? {} : { service }) }
}

function readService(value: unknown, issues: ConfigIssues): RelayServiceConfig | undefined {
  if (value === undefined) return undefined
  const defaults: RelayServiceConfig = {
    allow: 'trusted',
    maxReservations: RELAY_MAX_RESERVATIONS,
    reservationTtlMs: RELAY_RESERVATION_TTL_MS,
    limits: { durationMs: RELAY_DURATION_LIMIT_MS, dataBytes: RELAY_DATA_LIMIT_BYTES },
  }
  if (!isRecord(value)) {
    const on = readBoolean(value, 'relay.service', issues)
    return on === true ? defaults : undefined
  }
  unknownKeys(value, 'relay.service', SERVICE_KEYS, issues)
  const allow = readChoice(value.allow, 'relay.service.allow', ALLOW, issues) ?? defaults.allow
  const maxReservations =
    readPositiveInt(value.maxReservations, 'relay.service.maxReservations', issues) ??
    defaults.maxReservations
  const reservationTtlMs =
    readBounded(
      value.reservationTtlMs,
      'relay.service.reservationTtlMs',
      RELAY_MIN_RESERVATION_TTL_MS,
      issues,
    ) ?? defaults.reservationTtlMs
  const limits = value.limits === undefined ? defaults.limits : readLimits(value.limits, issues)
  if (allow === 'anyone' && value.limits === 'none')
    issues.add(
      'relay.service.limits',
      'a public relay (allow: anyone) must limit what it carries for strangers: give durationMs and/or dataBytes, or leave limits out for the defaults',
    )
  return { allow, maxReservations, reservationTtlMs, ...(limits === undefined ? {} : { limits }) }
}

/** `none`: unlimited relayed connections; a mapping: the limits it names (the others unlimited). */
function readLimits(value: unknown, issues: ConfigIssues): RelayLimits | undefined {
  if (value === 'none') return undefined
  if (!isRecord(value)) {
    issues.add(
      'relay.service.limits',
      `expected none or a mapping with durationMs and/or dataBytes, got ${describe(value)}`,
    )
    return undefined
  }
  unknownKeys(value, 'relay.service.limits', LIMIT_KEYS, issues)
  const durationMs = readBounded(value.durationMs, 'relay.service.limits.durationMs', 1_000, issues)
  if (durationMs !== undefined && durationMs > RELAY_MAX_DURATION_MS) {
    issues.add(
      'relay.service.limits.durationMs',
      `expected at most ${RELAY_MAX_DURATION_MS} (about 24.8 days, a timer's limit), got ${durationMs}; leave it out for no duration limit`,
    )
  }
  const dataBytes = readBounded(
    value.dataBytes,
    'relay.service.limits.dataBytes',
    RELAY_MIN_DATA_BYTES,
    issues,
  )
  if (durationMs === undefined && dataBytes === undefined) {
    if (Object.keys(value).length === 0)
      issues.add('relay.service.limits', 'expected durationMs and/or dataBytes')
    return undefined
  }
  return {
    ...(durationMs === undefined ? {} : { durationMs }),
    ...(dataBytes === undefined ? {} : { dataBytes }),
  }
}

/** An integer ≥ `min`, with a message that says why the floor exists. */
function readBounded(value: unknown, path: string, min: number, issues: ConfigIssues): number | undefined {
  if (value === undefined) return undefined
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value
  if (typeof n === 'number' && Number.isSafeInteger(n) && n >= min) return n
  issues.add(path, `expected an integer ≥ ${min}, got ${describe(value)}`)
  return undefined
}

function readChoice<T extends string>(
  value: unknown,
  path: string,
  choices: readonly T[],
  issues: ConfigIssues,
): T | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'string' && (choices as readonly string[]).includes(value)) return value as T
  issues.add(path, `expected one of ${choices.join(', ')}, got ${describe(value)}`)
  return undefined
}

function unknownKeys(
  section: Record<string, unknown>,
  path: string,
  known: readonly string[],
  issues: ConfigIssues,
): void {
  for (const key of Object.keys(section))
    if (!known.includes(key)) issues.add(`${path}.${key}`, `unknown setting (known: ${known.join(', ')})`)
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
