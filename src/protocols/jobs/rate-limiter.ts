import { GOSSIP_RATE_LIMITER_MAX_TRACKED } from './constants.js'

interface Bucket {
  tokens: number
  updatedAt: number
}

/**
 * Token buckets keyed by publisher: `ratePerSecond` steady, `burst` at once. Memory stays bounded
 * because a full bucket carries no information and is dropped when the table grows large.
 */
export class TokenBuckets {
  readonly #rate: number
  readonly #burst: number
  readonly #buckets = new Map<string, Bucket>()

  constructor(ratePerSecond: number, burst: number) {
    this.#rate = ratePerSecond
    this.#burst = burst
  }

  /** Takes one token for `key`; false when its bucket is empty. */
  take(key: string, now: number = Date.now()): boolean {
    const bucket = this.#buckets.get(key) ?? { tokens: this.#burst, updatedAt: now }
    this.#refill(bucket, now)
    if (!this.#buckets.has(key)) this.#track(key, bucket, now)
    if (bucket.tokens < 1) return false
    bucket.tokens -= 1
    return true
  }

  get size(): number {
    return this.#buckets.size
  }

  #refill(bucket: Bucket, now: number): void {
    const elapsed = Math.max(0, now - bucket.updatedAt)
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (elapsed * this.#rate) / 1000)
    bucket.updatedAt = now
  }

  #track(key: string, bucket: Bucket, now: number): void {
    if (this.#buckets.size >= GOSSIP_RATE_LIMITER_MAX_TRACKED) {
      for (const [other, otherBucket] of this.#buckets) {
        this.#refill(otherBucket, now)
        if (otherBucket.tokens >= this.#burst) this.#buckets.delete(other)
      }
    }
    this.#buckets.set(key, bucket)
  }
}
