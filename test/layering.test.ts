import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

/**
 * Imports point down: `src/core` (errors, logger, small helpers) depends on nothing else in `src`,
 * and `src/protocols` only on `src/core` and itself. Roles, the node and the client sit above.
 */
const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src')
const ALLOWED: Record<string, readonly string[]> = {
  core: ['core'],
  protocols: ['core', 'protocols'],
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sourceFiles(path)
    return path.endsWith('.ts') ? [path] : []
  })
}

function upwardImports(layer: string): string[] {
  const allowed = ALLOWED[layer] ?? []
  const found: string[] = []
  for (const file of sourceFiles(join(SRC, layer))) {
    for (const match of readFileSync(file, 'utf8').matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
      const target = relative(SRC, resolve(dirname(file), match[1] ?? ''))
      const top = target.split('/')[0] ?? ''
      if (!allowed.includes(top)) found.push(`${relative(SRC, file)} imports ${target}`)
    }
  }
  return found
}

describe('source layering', () => {
  it('keeps src/core free of imports from the layers above it', () => {
    expect(upwardImports('core')).toEqual([])
  })

  it('keeps src/protocols importing only src/core and other protocols', () => {
    expect(upwardImports('protocols')).toEqual([])
  })
})
