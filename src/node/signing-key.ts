/**
 * The node's libp2p private key, signing with a key imported once. `@libp2p/crypto`'s Ed25519 key
 * imports itself from JWK on every `sign()` (`hashAndSign` in its `keys/ed25519/index.js`), and
 * libp2p signs every gossip message this node publishes (StrictSign), every noise handshake and
 * every peer record: on this host the import took ~70 % of a signature's time (0.39 ms per sign
 * against 0.10 ms with a held key, BENCHMARKS.md). libp2p takes any `PrivateKey` as its
 * `privateKey` option, so this one signs through `node:crypto` with the key object held — the same
 * backend that signs jobs — and is otherwise the key it wraps (same bytes, public key, peer ID and
 * signatures: Ed25519 is deterministic).
 */
import type { AbortOptions, Ed25519PrivateKey, PrivateKey } from '@libp2p/interface'
import { nodeEd25519 } from '../protocols/jobs/index.js'

/** The 32-byte seed that starts a libp2p Ed25519 private key's 64 raw bytes (seed ‖ public key). */
const SEED_LENGTH = 32

export function heldSigningKey(key: PrivateKey): PrivateKey {
  if (key.type !== 'Ed25519') return key
  return new HeldEd25519Key(key)
}

class HeldEd25519Key implements Ed25519PrivateKey {
  readonly type = 'Ed25519'
  readonly raw: Uint8Array
  readonly publicKey: Ed25519PrivateKey['publicKey']
  private readonly signer: (message: Uint8Array) => Uint8Array

  constructor(key: Ed25519PrivateKey) {
    this.raw = key.raw
    this.publicKey = key.publicKey
    this.signer = nodeEd25519.signer(key.raw.subarray(0, SEED_LENGTH))
  }

  equals(key?: unknown): boolean {
    const raw = (key as { raw?: unknown } | undefined)?.raw
    return raw instanceof Uint8Array && Buffer.compare(raw, this.raw) === 0
  }

  sign(data: Parameters<Ed25519PrivateKey['sign']>[0], options?: AbortOptions): Uint8Array {
    options?.signal?.throwIfAborted()
    return this.signer(data instanceof Uint8Array ? data : data.subarray())
  }
}
