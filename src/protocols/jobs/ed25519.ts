/**
 * One Ed25519 interface with two implementations: `@noble/ed25519` (pure JS, audited) and
 * `node:crypto` (OpenSSL). Both are tested against the RFC 8032 vectors; the hot path uses
 * `node:crypto` because it measured ~9× faster to sign and ~15× faster to verify on Node 20
 * (see `scripts/bench/sign.ts` and BENCHMARKS.md).
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
