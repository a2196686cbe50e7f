import { multiaddr } from '@multiformats/multiaddr'
import { ConfigError } from '../../core/errors.js'
import { ROLES } from '../constants.js'
import type { Role } from './types.js'

/**
 * Collects every problem in a config instead of stopping at the first, so a user fixes a file in
 * one go. Each message starts with the path of the offending value.
 */
export class ConfigIssues {
  readonly list: string[] = []

  add(path: string, message: string): void {
    this.list.push(`${path}: ${message}`)
  }

  throwIfAny(): void {
    if (this.list.length > 0) throw new ConfigError(this.list)
  }
}

/** A config value as a message quotes it: strings quoted, lists and mappings named (YAML's words). */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (value === null || typeof value !== 'object') return String(value)
  return Array.isArray(value) ? 'a list' : 'a mapping'
}

export function readString(value: unknown, path: string, issues: ConfigIssues): string | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'string' && value.length > 0) return value
  issues.add(path, `expected a non-empty string, got ${describe(value)}`)
  return undefined
}

export function readBoolean(value: unknown, path: string, issues: ConfigIssues): boolean | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'boolean') return value
  if (value === 'true' || value === '1') return true
  if (value === 'false' || value === '0') return false
  issues.add(path, `expected true or false, got ${describe(value)}`)
  return undefined
}

export function readPositiveInt(value: unknown, path: string, issues: ConfigIssues): number | undefined {
  if (value === undefined) return undefined
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value
  if (typeof n === 'number' && Number.isInteger(n) && n >= 1) return n
  issues.add(path, `expected an integer ≥ 1, got ${describe(value)}`)
  return undefined
}

function readStringList(value: unknown, path: string, issues: ConfigIssues): string[] | undefined {
  if (value === undefined) return undefined
  const items = typeof value === 'string' ? value.split(',').map((s) => s.trim()) : value
  if (!Array.isArray(items)) {
    issues.add(path, `expected a list, got ${describe(value)}`)
    return undefined
  }
  const out: string[] = []
  items.forEach((item, i) => {
    const s = readString(item, `${path}[${i}]`, issues)
    if (s !== undefined) out.push(s)
  })
  return out
}

export function readMultiaddrs(
  value: unknown,
  path: string,
  issues: ConfigIssues,
  opts: { requirePeerId?: boolean } = {},
): string[] | undefined {
  const list = readStringList(value, path, issues)
  if (list === undefined) return undefined
  return list.filter((addr, i) => {
    try {
      const ma = multiaddr(addr)
      if (opts.requirePeerId === true && ma.getComponents().every((c) => c.name !== 'p2p')) {
        issues.add(`${path}[${i}]`, `must end with /p2p/<peer id>: ${addr}`)
        return false
      }
      return true
    } catch (err) {
      issues.add(`${path}[${i}]`, `not a multiaddr: ${addr} (${(err as Error).message})`)
      return false
    }
  })
}

export function readRoles(value: unknown, path: string, issues: ConfigIssues): Role[] | undefined {
  const list = readStringList(value, path, issues)
  if (list === undefined) return undefined
  const roles = new Set<Role>()
  list.forEach((role, i) => {
    if ((ROLES as readonly string[]).includes(role)) roles.add(role as Role)
    else
      issues.add(
        `${path}[${i}]`,
        `unknown role ${JSON.stringify(role)} (expected one of ${ROLES.join(', ')})`,
      )
  })
  return [...roles]
}

/** `host:port` with a numeric port (0 = pick one). */
export function readHostPort(value: unknown, path: string, issues: ConfigIssues): string | undefined {
  const s = readString(value, path, issues)
  if (s === undefined) return undefined
  const match = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(s)
  if (match === null || Number(match[2]) > 65535) {
    issues.add(path, `expected host:port (e.g. 127.0.0.1:8080), got ${JSON.stringify(s)}`)
    return undefined
  }
  return s
}
