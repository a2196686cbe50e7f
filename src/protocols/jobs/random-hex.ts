/**
 * Random hex for nonces, cut from a pool of CSPRNG bytes refilled 4 KiB at a time — what Node's
 * own `randomUUID` does. Every job needs a fresh nonce, and `randomBytes(16)` alone cost ~8 µs a
 * call on the bench host, ~4 % of a client's CPU per job (BENCHMARKS.md, fifth session). Each byte
 * of the pool is handed out once.
 */
import { randomFillSync } from 'node:crypto'

/** Bytes of randomness in a job's or submission's nonce. */
export const NONCE_BYTES = 16

const POOL_BYTES = 4096
const pool = Buffer.alloc(POOL_BYTES)
let used = POOL_BYTES

/** `bytes` random bytes (at most the pool's size), as lower-case hex. */
export function randomHex(bytes: number): string {
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > POOL_BYTES) {
    throw new RangeError(`randomHex: expected 1 to ${POOL_BYTES} bytes, got ${bytes}`)
  }
  if (used + bytes > POOL_BYTES) {
    randomFillSync(pool)
    used = 0
  }
  const hex = pool.toString('hex', used, used + bytes)
  used += bytes
  return hex
}
