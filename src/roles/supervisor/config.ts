/**
 * The `supervisor:` section of the node config, validated once into SupervisorOptions:
 *
 * ```yaml
 * supervisor:
 *   maxDispatches: 5          # different runners a job may be handed to
 *   inFlightPerSlot: 2        # dispatches in flight per unit of runner capacity
 *   maxInFlightPerRunner: 48
 *   resumeGraceMs: 5000       # after a restart, wait this long for a job's runner to reappear
 *   retentionMs: 86400000     # finished jobs kept this long
 *   gossip: true              # claim jobs announced on horus/v1/jobs/<capability>
 *   capabilities: [hero, sal] # job topics joined from the start
 * ```
 */

import { ConfigError } from '../../core/errors.js'
import { describe } from '../../node/config/validate.js'
import { CAPABILITY_PATTERN } from '../../protocols/jobs/index.js'
import type { SupervisorOptions } from './supervisor-service.js'

const INTEGER_KEYS = [
  'maxDispatches',
  'inFlightPerSlot',
  'maxInFlightPerRunner',
  'resumeGraceMs',
  'retentionMs',
] as const
const KEYS = [...INTEGER_KEYS, 'gossip', 'capabilities'] as const

export function readSupervisorConfig(raw: unknown): SupervisorOptions {
  if (raw === undefined || raw === null) return {}
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([`supervisor: expected a mapping of settings, got ${describe(raw)}`])
  }
  const section = raw as Record<string, unknown>
  const issues: string[] = []
  const out: SupervisorOptions = {}
  for (const key of Object.keys(section)) {
    if (!(KEYS as readonly string[]).includes(key)) {
      issues.push(`supervisor.${key}: unknown setting (known: ${KEYS.join(', ')})`)
    }
  }
  for (const key of INTEGER_KEYS) {
    const value = section[key]
    if (value === undefined) continue
    if (typeof value === 'number' && Number.isInteger(value) && value >= 1) out[key] = value
    else issues.push(`supervisor.${key}: expected an integer ≥ 1, got ${describe(value)}`)
  }
  if (section.gossip !== undefined) {
    if (typeof section.gossip === 'boolean') out.gossip = section.gossip
    else issues.push(`supervisor.gossip: expected true or false, got ${describe(section.gossip)}`)
  }
  const capabilities = section.capabilities
  if (capabilities !== undefined) {
    if (!Array.isArray(capabilities)) {
      issues.push(
        `supervisor.capabilities: expected a list of capability names, got ${describe(capabilities)}`,
      )
    } else {
      capabilities.forEach((c, i) => {
        if (typeof c !== 'string' || !CAPABILITY_PATTERN.test(c)) {
          issues.push(
            `supervisor.capabilities[${i}]: expected a capability name like "sal", got ${describe(c)}`,
          )
        }
      })
      out.gossipCapabilities = capabilities as string[]
    }
  }
  if (issues.length > 0) throw new ConfigError(issues)
  return out
}
