/**
 * The `coordinator:` section of the node config, validated once into CoordinatorOptions:
 *
 * ```yaml
 * coordinator:
 *   supervisors: [/ip4/10.0.0.5/tcp/4001/p2p/12D3…]  # besides those found in the mesh
 *   maxInFlight: 1024        # steps of all runs in flight at once
 *   runConcurrency: 128      # steps of one run in flight at once
 *   runners: [python]        # runner kinds workflows may name besides the ones announced
 *   leaseTtlMs: 15000        # owner lease; renewed every third of it
 *   leaseGraceMs: 2000       # wait past a lapsed lease before taking the run over
 *   syncIntervalMs: 10000    # anti-entropy with every live coordinator
 *   runRetentionMs: 604800000 # finished runs are deleted this long after they finished (7 days)
 *   replicas: 3              # coordinators that hold each run (its replica set; ../../../protocols/state/README.md)
 *   supervisorLossMs: 30000  # a supervisor unreachable this long loses its jobs to another
 *   triggers:                # see ../triggers/README.md
 *     - { name: nightly, kind: cron, schedule: "0 3 * * *", workflow: "<yaml>", inputs: {} }
 * ```
 */

import { ConfigError } from '../../../core/errors.js'
import { describe } from '../../../node/config/validate.js'
import { CAPABILITY_PATTERN } from '../../../protocols/jobs/index.js'
import { readTriggerDefinition, type TriggerDefinition } from '../triggers/definition.js'

/** Options of the coordinator that a config file can set. */
export interface CoordinatorConfig {
  /** Supervisor multiaddrs (with `/p2p/<id>`) to use besides those found in the mesh. */
  supervisors?: string[]
  /** @default DEFAULT_MAX_IN_FLIGHT (1024) */
  maxInFlight?: number
  /** @default DEFAULT_RUN_CONCURRENCY (128) */
  runConcurrency?: number
  /** Runner kinds workflows may name besides the built-ins and those runners announce. */
  runnerKinds?: string[]
  /** @default DEFAULT_LEASE_TTL_MS (15 s) */
  leaseTtlMs?: number
  /** @default DEFAULT_LEASE_GRACE_MS (2 s) */
  leaseGraceMs?: number
  /** @default DEFAULT_SYNC_INTERVAL_MS (10 s) */
  syncIntervalMs?: number
  /** Finished runs are garbage-collected this long after they finished. @default DEFAULT_RUN_RETENTION_MS (7 days) */
  runRetentionMs?: number
  /** @default DEFAULT_SUPERVISOR_LOSS_MS (30 s) */
  supervisorLossMs?: number
  /** Coordinators that hold a replica of each run (all live ones when fewer). @default DEFAULT_REPLICAS (3) */
  replicas?: number
  triggers?: TriggerDefinition[]
}

const INTEGER_KEYS = [
  'maxInFlight',
  'runConcurrency',
  'leaseTtlMs',
  'leaseGraceMs',
  'syncIntervalMs',
  'runRetentionMs',
  'supervisorLossMs',
  'replicas',
] as const
const KEYS = [...INTEGER_KEYS, 'supervisors', 'runners', 'triggers'] as const

export function readCoordinatorConfig(raw: unknown, topLevelTriggers?: unknown): CoordinatorConfig {
  const out: CoordinatorConfig = {}
  const issues: string[] = []
  if (raw !== undefined && raw !== null) {
    if (typeof raw !== 'object' || Array.isArray(raw)) {
      throw new ConfigError([`coordinator: expected a mapping of settings, got ${describe(raw)}`])
    }
    const section = raw as Record<string, unknown>
    for (const key of Object.keys(section)) {
      if (!(KEYS as readonly string[]).includes(key))
        issues.push(`coordinator.${key}: unknown setting (known: ${KEYS.join(', ')})`)
    }
    for (const key of INTEGER_KEYS) {
      const value = section[key]
      if (value === undefined) continue
      if (typeof value === 'number' && Number.isInteger(value) && value >= 1) out[key] = value
      else issues.push(`coordinator.${key}: expected an integer ≥ 1, got ${describe(value)}`)
    }
    const supervisors = readStrings(section.supervisors, 'coordinator.supervisors', issues, (s) =>
      s.includes('/p2p/') ? undefined : 'expected a multiaddr ending in /p2p/<peer id>',
    )
    if (supervisors !== undefined) out.supervisors = supervisors
    const runners = readStrings(section.runners, 'coordinator.runners', issues, (s) =>
      CAPABILITY_PATTERN.test(s) ? undefined : 'expected a runner kind like "python"',
    )
    if (runners !== undefined) out.runnerKinds = runners
    const triggers = readTriggers(section.triggers, 'coordinator.triggers', issues)
    if (triggers !== undefined) out.triggers = triggers
  }
  const more = readTriggers(topLevelTriggers, 'triggers', issues)
  if (more !== undefined) out.triggers = [...(out.triggers ?? []), ...more]
  if (issues.length > 0) throw new ConfigError(issues)
  return out
}

function readTriggers(raw: unknown, path: string, issues: string[]): TriggerDefinition[] | undefined {
  if (raw === undefined || raw === null) return undefined
  if (!Array.isArray(raw)) {
    issues.push(`${path}: expected a list of triggers, got ${describe(raw)}`)
    return undefined
  }
  const out: TriggerDefinition[] = []
  raw.forEach((item, i) => {
    const read = readTriggerDefinition(item, `${path}[${i}]`)
    if (read.ok) out.push(read.trigger)
    else issues.push(...read.issues)
  })
  return out
}

function readStrings(
  raw: unknown,
  path: string,
  issues: string[],
  check: (s: string) => string | undefined,
): string[] | undefined {
  if (raw === undefined) return undefined
  if (!Array.isArray(raw)) {
    issues.push(`${path}: expected a list, got ${describe(raw)}`)
    return undefined
  }
  raw.forEach((item, i) => {
    const problem = typeof item === 'string' ? check(item) : 'expected a string'
    if (problem !== undefined) issues.push(`${path}[${i}]: ${problem}, got ${describe(item)}`)
  })
  return raw.filter((item): item is string => typeof item === 'string')
}
