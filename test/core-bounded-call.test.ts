import { getEventListeners } from 'node:events'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { boundedCall, withSignals } from '../src/core/bounded-call.js'

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src')

/** What Node 20's `AbortSignal.any` keeps on a source: one WeakRef per combined signal, for ever. */
function dependants(signal: AbortSignal): number {
  const key = Object.getOwnPropertySymbols(signal).find((s) => s.description === 'kDependantSignals')
  const set = key === undefined ? undefined : (signal as unknown as Record<symbol, Set<unknown>>)[key]
  return set?.size ?? 0
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sourceFiles(path)
    return path.endsWith('.ts') ? [path] : []
  })
}

describe('calls bounded by a long-lived signal', () => {
  it('leave nothing on the long-lived signal, however many calls ran', async () => {
    const shutdown = new AbortController()
    for (let i = 0; i < 500; i++) {
      await boundedCall(shutdown.signal, 60_000, async (signal) => {
        expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(1)
        return signal.aborted
      })
    }
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0)
    expect(dependants(shutdown.signal)).toBe(0)
  })

  it('end when the long-lived signal aborts, with its reason', async () => {
    const shutdown = new AbortController()
    const call = boundedCall(
      shutdown.signal,
      60_000,
      (signal) =>
        new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
        ),
    )
    shutdown.abort(new Error('node stopping'))
    await expect(call).rejects.toThrow('node stopping')
  })

  it('end at their timeout when nothing else aborts them', async () => {
    const began = Date.now()
    const call = boundedCall(
      undefined,
      50,
      (signal) =>
        new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
        ),
    )
    await expect(call).rejects.toMatchObject({ name: 'TimeoutError' })
    expect(Date.now() - began).toBeGreaterThanOrEqual(40)
  })

  it('unlink every source when the call throws', async () => {
    const a = new AbortController()
    const b = new AbortController()
    await expect(
      withSignals([a.signal, undefined, b.signal], async () => {
        throw new Error('failed')
      }),
    ).rejects.toThrow('failed')
    expect(getEventListeners(a.signal, 'abort')).toHaveLength(0)
    expect(getEventListeners(b.signal, 'abort')).toHaveLength(0)
  })

  it('are never combined with AbortSignal.any in src (nodejs/node#54614)', () => {
    const found: string[] = []
    for (const file of sourceFiles(SRC)) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          const code = line.replace(/\/\/.*$/, '').replace(/^\s*\*.*$/, '')
          if (code.includes('AbortSignal.any(')) found.push(`${relative(SRC, file)}:${i + 1}`)
        })
    }
    expect(found).toEqual([])
  })
})
