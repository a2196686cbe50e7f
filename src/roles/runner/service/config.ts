/**
 * The `runner:` section of the node config, validated once into RunnerOptions:
 *
 * ```yaml
 * runner:
 *   concurrency: 4          # jobs at once
 *   maxQueueLength: 1000    # jobs waiting for a slot
 *   maxTimeoutMs: 3600000   # longest timeoutMs a job may ask for (at most 604800000, 7 days)
 *   workDir: /var/horus/jobs # per-job work dirs, this node's alone (default <dataDir>/work)
 *   kinds: [hero, sal, osiris]   # built-in kinds to serve
 *   env: { HTTP_PROXY: "…" }     # environment of every job
 *   plugins: [/etc/horus/plugins/functions.js]  # modules exporting `functions` / `kinds`
 *   osiris:                      # bytes; the defaults are shown
 *     maxRecordBytes: 1048576    # JSON of one record
 *     maxResultBytes: 8388608    # what one get/list/query returns (page with limit/offset)
 *     quotaBytes: 268435456      # all osiris data of this node
 * ```
 */

import { ConfigError } from '../../../core/errors.js'
import { describe } from '../../../node/config/validate.js'
import { MAX_JOB_TIMEOUT_MS } from '../../../protocols/jobs/constants.js'
import type { OsirisLimits } from '../kinds/osiris/index.js'
import { BUILTIN_KINDS } from './constants.js'
import type { RunnerOptions } from './runner-service.js'

const KEYS = [
  'concurrency',
  'maxQueueLength',
  'maxTimeoutMs',
  'workDir',
  'kinds',
  'env',
  'plugins',
  'osiris',
] as const
const OSIRIS_KEYS = ['maxRecordBytes', 'maxResultBytes', 'quotaBytes'] as const

export function readRunnerConfig(raw: unknown): RunnerOptions {
  if (raw === undefined || raw === null) return {}
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([`runner: expected a mapping of settings, got ${describe(raw)}`])
  }
  const section = raw as Record<string, unknown>
  const issues: string[] = []
  const out: RunnerOptions = {}
  for (const key of Object.keys(section)) {
    if (!(KEYS as readonly string[]).includes(key))
      issues.push(`runner.${key}: unknown setting (known: ${KEYS.join(', ')})`)
  }
  for (const key of ['concurrency', 'maxQueueLength', 'maxTimeoutMs'] as const) {
    const value = section[key]
    if (value === undefined) continue
    const max = key === 'maxTimeoutMs' ? MAX_JOB_TIMEOUT_MS : Number.MAX_SAFE_INTEGER
    if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= max) out[key] = value
    else if (key === 'maxTimeoutMs')
      issues.push(
        `runner.maxTimeoutMs: expected an integer from 1 to ${MAX_JOB_TIMEOUT_MS} (7 days, the longest timeoutMs a job may carry), got ${describe(value)}`,
      )
    else issues.push(`runner.${key}: expected an integer ≥ 1, got ${describe(value)}`)
  }
  if (section.workDir !== undefined) {
    if (typeof section.workDir === 'string' && section.workDir !== '') out.workDir = section.workDir
    else issues.push(`runner.workDir: expected a directory path, got ${describe(section.workDir)}`)
  }
  if (section.kinds !== undefined) {
    const kinds = section.kinds
    if (!Array.isArray(kinds))
      issues.push(`runner.kinds: expected a list of built-in kinds, got ${describe(kinds)}`)
    else {
      kinds.forEach((kind, i) => {
        if (!(BUILTIN_KINDS as readonly unknown[]).includes(kind)) {
          issues.push(
            `runner.kinds[${i}]: expected one of ${BUILTIN_KINDS.join(', ')}, got ${describe(kind)}`,
          )
        }
      })
      out.builtins = kinds as string[]
    }
  }
  if (section.env !== undefined) {
    const env = section.env
    if (typeof env !== 'object' || env === null || Array.isArray(env)) {
      issues.push(`runner.env: expected a mapping of names to strings, got ${describe(env)}`)
    } else {
      for (const [name, value] of Object.entries(env)) {
        if (typeof value !== 'string')
          issues.push(`runner.env.${name}: expected a string, got ${describe(value)}`)
      }
      out.env = env as Record<string, string>
    }
  }
  if (section.plugins !== undefined) {
    const plugins = section.plugins
    if (!Array.isArray(plugins) || plugins.some((p) => typeof p !== 'string' || p === '')) {
      issues.push(`runner.plugins: expected a list of module paths, got ${describe(plugins)}`)
    } else out.plugins = plugins as string[]
  }
  const osiris = readOsiris(section.osiris, issues)
  if (osiris !== undefined) out.osiris = osiris
  if (issues.length > 0) throw new ConfigError(issues)
  return out
}

function readOsiris(raw: unknown, issues: string[]): OsirisLimits | undefined {
  if (raw === undefined) return undefined
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    issues.push(`runner.osiris: expected a mapping of ${OSIRIS_KEYS.join(', ')}, got ${describe(raw)}`)
    return undefined
  }
  const out: OsirisLimits = {}
  for (const [key, value] of Object.entries(raw)) {
    if (!(OSIRIS_KEYS as readonly string[]).includes(key)) {
      issues.push(`runner.osiris.${key}: unknown setting (known: ${OSIRIS_KEYS.join(', ')})`)
    } else if (typeof value === 'number' && Number.isInteger(value) && value >= 1) {
      out[key as (typeof OSIRIS_KEYS)[number]] = value
    } else issues.push(`runner.osiris.${key}: expected a number of bytes ≥ 1, got ${describe(value)}`)
  }
  return out
}
