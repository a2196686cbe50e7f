import { randomBytes } from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'
import { assertSeed, type Ed25519Backend, PUBLIC_KEY_LENGTH, SEED_LENGTH } from './ed25519.js'
import { nodeEd25519 } from './ed25519-node.js'
import { sodiumEd25519 } from './ed25519-sodium.js'
import { InvalidKeyError } from './errors.js'
import { toHex } from './keys.js'

/** What signs jobs and results: a node identity, an SDK client key, a test key. */
export interface Signer {
  /** 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array
  /** A 64-byte Ed25519 signature over `message`. */
  sign(message: Uint8Array): Uint8Array
}

/**
 * The backend used unless a caller picks one: the fastest by measurement (`scripts/bench/sign.ts`),
 * libsodium where its addon loads, node:crypto otherwise.
 */
export const defaultEd25519: Ed25519Backend = sodiumEd25519 ?? nodeEd25519

export function signerFromSeed(seed: Uint8Array, backend: Ed25519Backend = defaultEd25519): Signer {
  assertSeed(seed)
  return { publicKey: backend.publicKey(seed), sign: backend.signer(seed) }
}

/**
 * A signer for a libp2p Ed25519 identity key (the node's `privateKey` component). libp2p keeps
 * `raw` as seed‖public key; the public half is checked so a corrupted key file cannot sign under
 * another identity.
 */
export function signerFromPrivateKey(key: PrivateKey, backend: Ed25519Backend = defaultEd25519): Signer {
  if (key.type !== 'Ed25519') {
    throw new InvalidKeyError(`expected an Ed25519 private key, got ${key.type}`)
  }
  const raw = key.raw
  if (raw.length !== SEED_LENGTH + PUBLIC_KEY_LENGTH && raw.length !== SEED_LENGTH) {
    throw new InvalidKeyError(`expected a 64-byte Ed25519 private key, got ${raw.length} bytes`)
  }
  const signer = signerFromSeed(raw.subarray(0, SEED_LENGTH), backend)
  if (toHex(signer.publicKey) !== toHex(key.publicKey.raw)) {
    throw new InvalidKeyError('private key does not match its public key')
  }
  return signer
}

/** A signer for a fresh random key (tests, `horus demo`, throw-away clients). */
export function generateSigner(backend: Ed25519Backend = defaultEd25519): Signer {
  return signerFromSeed(new Uint8Array(randomBytes(SEED_LENGTH)), backend)
}

// A signer's key is fixed (`readonly`); its hex form is asked for every job and result it signs.
const keyHexes = new WeakMap<Uint8Array, string>()

export function signerKeyHex(signer: Signer): string {
  const key = signer.publicKey
  let hex = keyHexes.get(key)
  if (hex === undefined) {
    hex = toHex(key)
    keyHexes.set(key, hex)
  }
  return hex
}
