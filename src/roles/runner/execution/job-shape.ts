/** Validation of an incoming job, with messages that name the field, what was expected and what came. */

import { InvalidJobError } from './errors.js'
import type { ExecutableJob } from './index.js'

export function assertExecutableJob(job: unknown, maxTimeoutMs: number): asserts job is ExecutableJob {
  const issues: string[] = []
  if (job === null || typeof job !== 'object')
    throw new InvalidJobError(`job: expected an object, got ${typeName(job)}`)
  const j = job as Record<string, unknown>
  for (const key of ['id', 'runner'] as const) {
    if (typeof j[key] !== 'string' || j[key] === '')
      issues.push(`${key}: expected a non-empty string, got ${typeName(j[key])}`)
  }
  if (typeof j.payload !== 'string') issues.push(`payload: expected a string, got ${typeName(j.payload)}`)
  if (!isPlainObject(j.input)) issues.push(`input: expected an object, got ${typeName(j.input)}`)
  if (!isPlainObject(j.env)) issues.push(`env: expected an object of strings, got ${typeName(j.env)}`)
  else {
    for (const [key, value] of Object.entries(j.env)) {
      if (typeof value !== 'string') issues.push(`env.${key}: expected a string, got ${typeName(value)}`)
    }
  }
  const timeout = j.timeoutMs
  if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 1 || timeout > maxTimeoutMs) {
    issues.push(
      `timeoutMs: expected an integer from 1 to ${maxTimeoutMs}, got ${JSON.stringify(timeout) ?? 'undefined'}`,
    )
  }
  if (issues.length > 0) throw new InvalidJobError(`invalid job: ${issues.join('; ')}`)
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function typeName(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'string' ? JSON.stringify(value) : typeof value
}
