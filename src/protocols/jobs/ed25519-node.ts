import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto'
import { NODE_KEY_CACHE_SIZE } from './constants.js'
import { assertSeed, type Ed25519Backend, PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH } from './ed25519.js'

// Fixed DER headers: PKCS#8 and SPKI wrappers for a raw Ed25519 key (RFC 8410), so raw 32-byte
// keys import without JWK base64 round trips.
const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
])
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00])

function withPrefix(prefix: Uint8Array, key: Uint8Array): Buffer {
  const der = Buffer.alloc(prefix.length + key.length)
  der.set(prefix, 0)
  der.set(key, prefix.length)
  return der
}

function privateKeyObject(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: withPrefix(PKCS8_PREFIX, seed), format: 'der', type: 'pkcs8' })
}

// Importing a public key costs about as much as verifying with it, and a mesh sees the same few
// submitter and coordinator keys over and over: keep the recent ones (insertion-ordered LRU).
const publicKeys = new Map<string, KeyObject>()

function publicKeyObject(raw: Uint8Array): KeyObject {
  const id = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('hex')
  const cached = publicKeys.get(id)
  if (cached !== undefined) {
    publicKeys.delete(id)
    publicKeys.set(id, cached)
    return cached
  }
  const key = createPublicKey({ key: withPrefix(SPKI_PREFIX, raw), format: 'der', type: 'spki' })
  publicKeys.set(id, key)
  if (publicKeys.size > NODE_KEY_CACHE_SIZE) {
    const oldest = publicKeys.keys().next().value
    if (oldest !== undefined) publicKeys.delete(oldest)
  }
  return key
}

function toBytes(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
}

/** `node:crypto` (OpenSSL) Ed25519. */
export const nodeEd25519: Ed25519Backend = {
  name: 'node:crypto',
  publicKey(seed) {
    assertSeed(seed)
    const spki = createPublicKey(privateKeyObject(seed)).export({ format: 'der', type: 'spki' })
    return Uint8Array.from(spki.subarray(SPKI_PREFIX.length))
  },
  signer(seed) {
    assertSeed(seed)
    const key = privateKeyObject(seed)
    return (message) => toBytes(sign(null, message, key))
  },
  verify(signature, message, publicKey) {
    if (signature.length !== SIGNATURE_LENGTH || publicKey.length !== PUBLIC_KEY_LENGTH) return false
    try {
      return verify(null, message, publicKeyObject(publicKey), signature)
    } catch {
      return false
    }
  },
}
