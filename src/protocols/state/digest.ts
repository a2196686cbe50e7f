/**
 * Digests for anti-entropy. Every component of a run's state (meta, each flag, each step, each log
 * entry) has a key and a fingerprint; keys are spread over a fixed number of buckets and each bucket
 * is hashed. Two replicas exchange digests and send each other the buckets that differ, so a
 * repair after a partition costs O(differing buckets), and equal states cost one hash comparison.
 *
 * A version vector would be smaller, but it is only sound with causal delivery, which gossip
 * across a partition does not give.
 */

import { createHash } from 'node:crypto'
import { DIGEST_BUCKETS, RUN_ID_PATTERN } from './constants.js'
import { StateDecodeError } from './errors.js'
import { describeValue, isPlainObject } from './json-value.js'

export interface RunDigest {
  readonly run: string
  /** Hash over all bucket hashes; equal hashes mean equal fingerprints. */
  readonly hash: string
  /** One short hash per bucket (`DIGEST_BUCKETS` of them). */
  readonly buckets: readonly string[]
}

/** FNV-1a over UTF-16 code units: cheap, stable across nodes, good enough to spread keys. */
export function bucketOf(key: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return (hash >>> 0) % DIGEST_BUCKETS
}

/** Builds the digest of `run` from its components' `[key, fingerprint]` pairs. */
export function computeDigest(run: string, components: Iterable<readonly [string, string]>): RunDigest {
  const buckets: string[][] = Array.from({ length: DIGEST_BUCKETS }, () => [])
  for (const [key, fingerprint] of components) buckets[bucketOf(key)]?.push(fingerprint)
  const hashes = buckets.map((items) =>
    items.length === 0
      ? '0'
      : createHash('sha256').update(items.sort().join('\n')).digest('hex').slice(0, 16),
  )
  const hash = createHash('sha256').update(hashes.join(',')).digest('hex').slice(0, 32)
  return { run, hash, buckets: hashes }
}

/** Indexes of the buckets where two digests differ. */
export function differingBuckets(local: RunDigest, remote: RunDigest): Set<number> {
  const out = new Set<number>()
  if (local.hash === remote.hash) return out
  for (let i = 0; i < DIGEST_BUCKETS; i++) if (local.buckets[i] !== remote.buckets[i]) out.add(i)
  return out
}

/** Validates a digest received from a peer. */
export function decodeDigest(input: unknown): RunDigest {
  const fail = (path: string, message: string): never => {
    throw new StateDecodeError([{ path, message }])
  }
  if (!isPlainObject(input)) return fail('', `expected an object, got ${describeValue(input)}`)
  const { run, hash, buckets } = input
  if (typeof run !== 'string' || !RUN_ID_PATTERN.test(run))
    return fail('run', `expected a run id, got ${describeValue(run)}`)
  if (typeof hash !== 'string' || !/^[0-9a-f]{1,64}$/.test(hash))
    return fail('hash', `expected a hex hash, got ${describeValue(hash)}`)
  if (!Array.isArray(buckets) || buckets.length !== DIGEST_BUCKETS) {
    return fail('buckets', `expected an array of ${DIGEST_BUCKETS} hashes, got ${describeValue(buckets)}`)
  }
  buckets.forEach((bucket, index) => {
    if (typeof bucket !== 'string' || !/^[0-9a-f]{1,64}$/.test(bucket)) {
      fail(`buckets[${index}]`, `expected a hex hash, got ${describeValue(bucket)}`)
    }
  })
  return { run, hash, buckets: buckets as string[] }
}
