import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import semver from 'semver'
import { describe, expect, it } from 'vitest'

/**
 * The Node range the package declares must be one every dependency supports: `npm ci` on any
 * version the README promises installs without an EBADENGINE warning and runs. A dependency that
 * raises its floor (p-retry 8 wants Node 22) fails here, naming it, instead of on a user's machine.
 */
const root = join(import.meta.dirname, '..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } }
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: unknown }>
}

/** `engines.node` of an installed package (its own package.json), else what the lock recorded. */
function enginesOf(path: string, entry: { engines?: unknown }): unknown {
  const file = join(root, path, 'package.json')
  const manifest = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as { engines?: unknown })
    : entry
  const engines = manifest.engines
  return typeof engines === 'object' && engines !== null ? (engines as { node?: unknown }).node : undefined
}

describe('supported Node.js versions', () => {
  const declared = pkg.engines.node

  it('declares a valid range that the README states and the running Node satisfies', () => {
    expect(semver.validRange(declared)).not.toBeNull()
    expect(semver.satisfies(process.versions.node, declared)).toBe(true)
    const readme = readFileSync(join(root, 'README.md'), 'utf8')
    expect(readme.includes(`Node.js \`${declared}\``), 'README states the range').toBe(true)
  })

  it('is admitted by every package in the lock file', () => {
    const refusing: string[] = []
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (path === '') continue
      const range = enginesOf(path, entry)
      if (typeof range !== 'string') continue
      if (!semver.subset(declared, range, { includePrerelease: false })) {
        refusing.push(`${path.replace(/^.*node_modules\//, '')}@${entry.version ?? '?'} wants node ${range}`)
      }
    }
    expect(refusing, `these packages do not support node ${declared}`).toEqual([])
  })
})
