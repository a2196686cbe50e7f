/**
 * One Ed25519 interface with three implementations: `@noble/ed25519` (pure JS, audited),
 * `node:crypto` (OpenSSL) and libsodium (`sodium-native`). All are tested against the RFC 8032
 * vectors and against each other; the hot path uses libsodium where its addon loads (it signs ~2x
 * and verifies ~1.5–2x faster than node:crypto on Node 20), node:crypto otherwise (~9x faster to
 * sign and ~15x faster to verify than noble). See `scripts/bench/sign.ts` and BENCHMARKS.md.
 */
import { InvalidKeyError } from './errors.js'

export interface Ed25519Backend {
  readonly name: string
  /** The 32-byte public key of a 32-byte seed (RFC 8032 "private key"). */
  publicKey(seed: Uint8Array): Uint8Array
  /** A signing function bound to `seed`, so per-key setup (key import, hashing) happens once. */
  signer(seed: Uint8Array): (message: Uint8Array) => Uint8Array
  /** True only for a valid signature; malformed keys or signatures give false, never a throw. */
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean
}

export const SEED_LENGTH = 32
export const PUBLIC_KEY_LENGTH = 32
export const SIGNATURE_LENGTH = 64

export function assertSeed(seed: Uint8Array): void {
  if (!(seed instanceof Uint8Array) || seed.length !== SEED_LENGTH) {
    throw new InvalidKeyError(`expected a ${SEED_LENGTH}-byte Ed25519 seed, got ${describeBytes(seed)}`)
  }
}

function describeBytes(value: unknown): string {
  return value instanceof Uint8Array ? `${value.length} bytes` : typeof value
}
