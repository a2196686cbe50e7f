/**
 * A blob reference: how a value too large to travel inline (a step output over the inline limit)
 * stands in for it in run state, job inputs and views — `{ "$blob": "<sha256 hex>", "size": n }`,
 * optionally with `sources`, the peers known to hold it. The digest is the SHA-256 of the value's
 * canonical JSON (RFC 8785), the same `outputDigest` a runner signs into its result, so whoever
 * fetches the bytes checks them against a digest it already trusts.
 *
 * The shape is exact (no other keys), so ordinary data is never mistaken for a reference; a
 * coordinator refuses job outputs that contain one (only it writes references).
 */
import { isPlainObject } from '../state/json-value.js'
import { MAX_BLOB_SOURCES } from './constants.js'

export interface BlobRef {
  /** SHA-256 (hex) of the value's canonical JSON. */
  readonly $blob: string
  /** Byte length of the canonical JSON. */
  readonly size: number
  /** Peer IDs that hold the bytes, most likely first. */
  readonly sources?: readonly string[]
}

export const DIGEST_PATTERN = /^[0-9a-f]{64}$/

export function isDigest(value: unknown): value is string {
  return typeof value === 'string' && DIGEST_PATTERN.test(value)
}

export function isBlobRef(value: unknown): value is BlobRef {
  if (!isPlainObject(value)) return false
  let keys = 0
  for (const key in value) {
    if (key !== '$blob' && key !== 'size' && key !== 'sources') return false
    keys++
  }
  if (keys < 2 || !isDigest(value.$blob)) return false
  const size = value.size
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return false
  const sources = value.sources
  if (sources === undefined) return true
  return (
    Array.isArray(sources) &&
    sources.length <= MAX_BLOB_SOURCES &&
    sources.every((s) => typeof s === 'string' && s.length > 0 && s.length <= 128)
  )
}

export function blobRef(digest: string, size: number, sources: readonly string[] = []): BlobRef {
  const kept = [...new Set(sources)].slice(0, MAX_BLOB_SOURCES)
  return kept.length === 0 ? { $blob: digest, size } : { $blob: digest, size, sources: kept }
}

/** The same reference with `peers` tried first (deduplicated, capped). */
export function withSources(ref: BlobRef, peers: readonly string[]): BlobRef {
  return blobRef(ref.$blob, ref.size, [...peers, ...(ref.sources ?? [])])
}

/**
 * Whether a value contains a blob reference anywhere (iterative: remote values can nest deeply).
 * Stops at `maxNodes` visited values and answers true then, so a caller that refuses on `true`
 * stays safe on inputs it cannot afford to walk.
 */
export function containsBlobRef(value: unknown, maxNodes = 1_000_000): boolean {
  const stack: unknown[] = [value]
  let visited = 0
  while (stack.length > 0) {
    const item = stack.pop()
    if (typeof item !== 'object' || item === null) continue
    if (++visited > maxNodes) return true
    if (Array.isArray(item)) {
      for (const element of item) stack.push(element)
      continue
    }
    if (isBlobRef(item)) return true
    for (const key in item) stack.push((item as Record<string, unknown>)[key])
  }
  return false
}
