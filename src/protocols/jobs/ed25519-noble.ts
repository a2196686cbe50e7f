import { createHash } from 'node:crypto'
import * as ed from '@noble/ed25519'
import { assertSeed, type Ed25519Backend, PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH } from './ed25519.js'

// noble ships without a synchronous SHA-512; node:crypto provides one without another dependency.
ed.hashes.sha512 ??= (message) => Uint8Array.from(createHash('sha512').update(message).digest())

/**
 * `@noble/ed25519`. Verification uses the strict RFC 8032 / FIPS 186-5 rules (`zip215: false`) so
 * it accepts exactly what OpenSSL accepts and both backends agree on every signature.
 */
export const nobleEd25519: Ed25519Backend = {
  name: '@noble/ed25519',
  publicKey(seed) {
    assertSeed(seed)
    return ed.getPublicKey(seed)
  },
  signer(seed) {
    assertSeed(seed)
    const key = Uint8Array.from(seed)
    return (message) => ed.sign(message, key)
  },
  verify(signature, message, publicKey) {
    if (signature.length !== SIGNATURE_LENGTH || publicKey.length !== PUBLIC_KEY_LENGTH) return false
    try {
      return ed.verify(signature, message, publicKey, { zip215: false })
    } catch {
      return false
    }
  },
}
