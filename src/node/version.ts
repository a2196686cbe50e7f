import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

/**
 * The package version, read from the nearest package.json above this module (it sits at a
 * different depth in `src/` and in `dist/src/`).
 */
function readVersion(): string {
  let dir = import.meta.dirname
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string
        version?: string
      }
      if (pkg.name === 'horus-mesh' && pkg.version !== undefined) return pkg.version
    } catch {
      // not here: keep climbing
    }
    dir = dirname(dir)
  }
  return '0.0.0'
}

export const VERSION = readVersion()
