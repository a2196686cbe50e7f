/**
 * Keys travel as lower-case hex in envelopes and as libp2p peer IDs in configuration and on the
 * wire; these functions convert between the two for Ed25519 identities.
 */
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id'
import { PUBLIC_KEY_LENGTH } from './ed25519.js'
import { InvalidKeyError } from './errors.js'

const HEX_PUBLIC_KEY = /^[0-9a-f]{64}$/

const LOWER_HEX = /^(?:[0-9a-f]{2})*$/

/**
 * Node's native hex codec: every job, result and key crosses it several times per job and process,
 * and the pure-JS base16 codec cost ~5 µs a call there (BENCHMARKS.md, fifth session).
 */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/**
 * Decodes lower-case hex; callers validate the shape first (schemas, `isHexPublicKey`), and
 * anything else still throws a SyntaxError (Buffer alone would stop quietly at the first bad pair).
 * The bytes are copied out of Buffer's shared pool, so a key kept in a cache does not pin a slab.
 */
export function fromHex(hex: string): Uint8Array {
  if (!LOWER_HEX.test(hex)) throw new SyntaxError('expected lower-case hex of whole bytes')
  return new Uint8Array(Buffer.from(hex, 'hex'))
}

export function isHexPublicKey(value: string): boolean {
  return HEX_PUBLIC_KEY.test(value)
}

/** The hex Ed25519 public key inside a peer ID (identity multihash); throws for other key types. */
export function publicKeyHexFromPeerId(peerId: PeerId | string): string {
  let id: PeerId
  try {
    id = typeof peerId === 'string' ? peerIdFromString(peerId) : peerId
  } catch (err) {
    throw new InvalidKeyError(`not a peer ID: ${JSON.stringify(peerId)}`, { cause: err })
  }
  if (id.type !== 'Ed25519' || id.publicKey === undefined) {
    throw new InvalidKeyError(`peer ID ${id.toString()} is a ${id.type} key; Horus signs with Ed25519`)
  }
  return toHex(id.publicKey.raw)
}

const PEER_KEY_CACHE_SIZE = 4096
const peerKeys = new Map<string, string | undefined>()

/**
 * `publicKeyHexFromPeerId` for membership checks on hot paths: cached (peer IDs are immutable),
 * `undefined` for anything that is not an Ed25519 peer ID or hex key. Never throws.
 */
export function publicKeyHexOfPeer(peer: string): string | undefined {
  if (peerKeys.has(peer)) return peerKeys.get(peer)
  let key: string | undefined
  try {
    key = normalizePublicKey(peer)
  } catch {
    key = undefined
  }
  // A stranger cycling through peer IDs must not grow this without bound.
  if (peerKeys.size >= PEER_KEY_CACHE_SIZE) peerKeys.clear()
  peerKeys.set(peer, key)
  return key
}

/** The peer ID string of a hex Ed25519 public key, as `horus key show` and logs print it. */
export function peerIdFromPublicKeyHex(hex: string): PeerId {
  if (!isHexPublicKey(hex)) {
    throw new InvalidKeyError(`not a hex Ed25519 public key: ${JSON.stringify(hex)}`)
  }
  const raw = fromHex(hex)
  if (raw.length !== PUBLIC_KEY_LENGTH) throw new InvalidKeyError(`expected ${PUBLIC_KEY_LENGTH} bytes`)
  return peerIdFromPublicKey(publicKeyFromRaw(raw))
}

/**
 * A key as written in a trust policy (peer ID or hex, any case) as the canonical lower-case hex
 * public key; throws `InvalidKeyError` for anything else.
 */
export function normalizePublicKey(keyOrPeerId: string): string {
  const lower = keyOrPeerId.toLowerCase()
  if (isHexPublicKey(lower)) return lower
  return publicKeyHexFromPeerId(keyOrPeerId)
}
