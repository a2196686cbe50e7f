/**
 * A coordinator's side of big outputs (../workflow/README.md, "Big outputs"):
 *
 * - **adopt**: a job succeeded with an output too large for its result (only `outputDigest`
 *   arrived); the bytes are fetched from the runner that signed it, verified against that digest,
 *   held for the run, and the step's output becomes a reference to them;
 * - **replicate**: references that reach this coordinator in merged state are fetched in the
 *   background from the peers they name, so every coordinator of the run holds its blobs;
 * - **values**: an expression that looks inside a blob needs its value; `load` reads (or fetches)
 *   and parses it into a cache bounded in bytes, `value` answers the scheduler synchronously;
 * - **inputs**: a job's input values that are too large to travel inline are stored here and sent
 *   as references naming this node first, so the job envelope stays small;
 * - **release**: a run's blobs are released with the run (`gc` deletes what nobody holds).
 */
import type { Logger } from '@libp2p/interface'
import type { BlobService } from '../../../protocols/blob/blob-service.js'
import { type BlobRef, blobRef, isBlobRef, withSources } from '../../../protocols/blob/ref.js'
import { canonicalJson } from '../../../protocols/jobs/canonical.js'
import { DEFAULT_MAX_RESULT_OUTPUT_BYTES } from '../../../protocols/jobs/constants.js'
import type { JsonObject, JsonValue } from '../../../protocols/state/json-value.js'
import type { RunState } from '../../../protocols/state/run-state.js'

export interface BlobKeeperInit {
  readonly blobs: BlobService
  readonly self: string
  readonly log: Logger
  /** A value `load` was asked for is now at hand: plan the run again. */
  onLoaded(run: string): void
  /** Bytes of parsed blob values kept for expressions. @default 64 MiB */
  readonly maxCachedBytes?: number
}

/** Input values of one job above this, in all, go as blobs. @default DEFAULT_MAX_RESULT_OUTPUT_BYTES (256 KiB) */
const INLINE_INPUT_BYTES = DEFAULT_MAX_RESULT_OUTPUT_BYTES

const holder = (run: string): string => `run:${run}`

export class BlobKeeper {
  readonly #init: BlobKeeperInit
  readonly #values = new Map<string, { value: JsonValue; bytes: number }>()
  readonly #loading = new Set<string>()
  readonly #replicating = new Set<string>()
  #cachedBytes = 0

  constructor(init: BlobKeeperInit) {
    this.#init = init
  }

  /** Fetches a job's output blob from the runner that produced it; resolves with the reference to record. */
  async adopt(run: string, digest: string, producer: string, signal?: AbortSignal): Promise<BlobRef> {
    const stored = await this.#init.blobs.fetch(digest, {
      sources: [producer],
      ...(signal === undefined ? {} : { signal }),
    })
    await this.#init.blobs.store.hold(holder(run), [digest])
    return blobRef(digest, stored.size, [this.#init.self, producer])
  }

  /** Starts fetching every blob a (merged) delta references that this node lacks. */
  replicate(delta: RunState, extraSources: readonly string[] = []): void {
    for (const [, entry] of delta.steps()) {
      const ref = entry.phase === 'succeeded' ? entry.result : undefined
      if (!isBlobRef(ref) || this.#replicating.has(ref.$blob)) continue
      this.#replicating.add(ref.$blob)
      this.#init.blobs
        .ensure(ref, { sources: extraSources })
        .then(() => this.#init.blobs.store.hold(holder(delta.run), [ref.$blob]))
        .catch((err: Error) =>
          this.#init.log('replicating blob %s of run %s: %s', ref.$blob, delta.run, err.message),
        )
        .finally(() => this.#replicating.delete(ref.$blob))
    }
  }

  /** The parsed value of a blob, when loaded; the scheduler's `blobs` lookup. */
  value(digest: string): JsonValue | undefined {
    const hit = this.#values.get(digest)
    if (hit === undefined) return undefined
    // Most recently used last: eviction takes the oldest first.
    this.#values.delete(digest)
    this.#values.set(digest, hit)
    return hit.value
  }

  /** Loads the values a plan asked for (fetching what is missing), then calls `onLoaded(run)`. */
  load(run: string, digests: readonly string[], state: RunState, extraSources: readonly string[]): void {
    const refs = refsIn(state)
    for (const digest of digests) {
      if (this.#values.has(digest) || this.#loading.has(digest)) continue
      this.#loading.add(digest)
      const ref = refs.get(digest) ?? blobRef(digest, 0)
      this.#loadOne(run, ref, extraSources)
        .then(() => this.#init.onLoaded(run))
        .catch((err: Error) => this.#init.log('loading blob %s of run %s: %s', digest, run, err.message))
        .finally(() => this.#loading.delete(digest))
    }
  }

  /**
   * A job's input as it travels: references name this node first (it holds them); values too
   * large to travel inline, in all, become blobs held for the run — largest first.
   */
  async prepareInput(run: string, input: JsonObject): Promise<JsonObject> {
    const out: JsonObject = {}
    const sizes: Array<[string, number, string]> = []
    let total = 0
    for (const [key, value] of Object.entries(input)) {
      out[key] = annotate(value, this.#init.self)
      if (isBlobRef(out[key])) continue
      const text = canonicalJson(out[key])
      sizes.push([key, text.length, text])
      total += text.length
    }
    sizes.sort((a, b) => b[1] - a[1])
    for (const [key, size, text] of sizes) {
      if (total <= INLINE_INPUT_BYTES) break
      const stored = await this.#init.blobs.store.putText(text)
      await this.#init.blobs.store.hold(holder(run), [stored.digest])
      out[key] = blobRef(stored.digest, stored.size, [this.#init.self]) as unknown as JsonValue
      total -= size
    }
    return out
  }

  /** Forgets a run's blobs (they go at the next `gc` unless something else holds them). */
  async release(run: string): Promise<void> {
    await this.#init.blobs.store.release(holder(run))
  }

  async #loadOne(run: string, ref: BlobRef, extraSources: readonly string[]): Promise<void> {
    const store = this.#init.blobs.store
    if (!(await store.has(ref.$blob))) {
      await this.#init.blobs.fetch(ref.$blob, {
        sources: [...(ref.sources ?? []), ...extraSources],
        ...(ref.size > 0 ? { size: ref.size } : {}),
      })
      await store.hold(holder(run), [ref.$blob])
    }
    const text = await store.readText(ref.$blob)
    const value = JSON.parse(text) as JsonValue
    this.#cache(ref.$blob, value, text.length)
  }

  #cache(digest: string, value: JsonValue, bytes: number): void {
    const max = this.#init.maxCachedBytes ?? 64 * 1024 * 1024
    this.#values.set(digest, { value, bytes })
    this.#cachedBytes += bytes
    for (const [key, item] of this.#values) {
      // The value just loaded stays even alone above the budget: the plan waiting for it needs it.
      if (this.#cachedBytes <= max || key === digest) break
      this.#values.delete(key)
      this.#cachedBytes -= item.bytes
    }
  }
}

/** Blob references among a run's step outputs, by digest. */
function refsIn(state: RunState): Map<string, BlobRef> {
  const out = new Map<string, BlobRef>()
  for (const [, entry] of state.steps())
    if (isBlobRef(entry.result)) out.set(entry.result.$blob, entry.result)
  return out
}

/** The value with every reference in it naming `self` as its first source. */
function annotate(value: JsonValue, self: string): JsonValue {
  if (typeof value !== 'object' || value === null) return value
  if (isBlobRef(value)) return withSources(value, [self]) as unknown as JsonValue
  if (Array.isArray(value)) return value.map((v) => annotate(v, self))
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, annotate(v, self)]))
}
