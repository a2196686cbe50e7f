/**
 * The node's libp2p key that holds its imported signing key: the same key in every respect libp2p
 * reads (bytes, public key, peer ID, protobuf form), and signatures equal to those of the key it
 * wraps, which verify under its public key — from a list of chunks too.
 */
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { heldSigningKey } from '../src/node/signing-key.js'

describe('heldSigningKey', () => {
  it('is the same Ed25519 key and signs exactly as it does', async () => {
    const key = await generateKeyPair('Ed25519')
    const held = heldSigningKey(key)
    expect(held).not.toBe(key)
    expect(held.type).toBe('Ed25519')
    expect(held.raw).toEqual(key.raw)
    expect(held.publicKey.equals(key.publicKey)).toBe(true)
    expect(held.equals(key)).toBe(true)
    expect(key.equals(held)).toBe(true)
    expect(held.equals(await generateKeyPair('Ed25519'))).toBe(false)
    expect(held.equals(undefined)).toBe(false)
    expect(peerIdFromPrivateKey(held).equals(peerIdFromPrivateKey(key))).toBe(true)
    expect(privateKeyFromProtobuf(privateKeyToProtobuf(held)).equals(key)).toBe(true)

    const message = new TextEncoder().encode('libp2p-pubsub:a message')
    const signature = await held.sign(message)
    expect(Uint8Array.from(signature)).toEqual(Uint8Array.from(await key.sign(message)))
    expect(await key.publicKey.verify(message, signature)).toBe(true)
    const tampered = Uint8Array.from(message)
    tampered.set([(tampered[0] ?? 0) ^ 1], 0)
    expect(await key.publicKey.verify(tampered, signature)).toBe(false)
    // libp2p may hand a Uint8ArrayList (anything with `subarray()` joining its chunks).
    const chunks = { subarray: () => Uint8Array.from(message) }
    expect(Uint8Array.from(await held.sign(chunks as never))).toEqual(Uint8Array.from(signature))
  })

  it('honours an aborted signal, and leaves other key types alone', async () => {
    const held = heldSigningKey(await generateKeyPair('Ed25519'))
    const signal = AbortSignal.abort(new Error('stop'))
    expect(() => held.sign(new Uint8Array(1), { signal })).toThrow('stop')
    const secp = await generateKeyPair('secp256k1')
    expect(heldSigningKey(secp)).toBe(secp)
  })
})
