/**
 * Secrets in jobs: a multi-recipient sealed box, so a value travels through supervisors,
 * coordinators, gossip and datastores as ciphertext and only the runners it was sealed to can read
 * it.
 *
 * Sealing (whoever holds the plaintext — the SDK, the CLI):
 * - a random 32-byte content key encrypts the value with XChaCha20-Poly1305 (24-byte random
 *   nonce); the associated data binds the ciphertext to the secret's name, so a sealed value cannot
 *   be moved to another variable;
 * - one ephemeral X25519 key per secret; for each recipient (an Ed25519 key converted to X25519,
 *   RFC 7748 birational map) the shared secret goes through HKDF-SHA256 (salt: ephemeral ‖
 *   recipient public key) to a key-wrapping key that encrypts the content key with
 *   ChaCha20-Poly1305. Each wrapping key is used once, so its nonce is fixed (as in age).
 *
 * Opening needs the recipient's Ed25519 seed; it happens only in memory on the runner that
 * executes the job. The primitives are `@noble/curves`, `@noble/ciphers` and `@noble/hashes`.
 */
import { randomBytes } from 'node:crypto'
import { chacha20poly1305, xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { ed25519, x25519 } from '@noble/curves/ed25519.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { HorusError } from '../../core/errors.js'
import { utf8 } from './canonical.js'
import { assertSeed } from './ed25519.js'
import { fromHex, isHexPublicKey, toHex } from './keys.js'

export const SECRET_ALGORITHM = 'x25519-hkdf-sha256-xchacha20poly1305'
/** An environment variable name. */
export const SECRET_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/
/** Shorter values would be redacted wherever their characters happen to appear. */
export const MIN_SECRET_BYTES = 4
export const MAX_SECRET_BYTES = 64 * 1024
export const MAX_SECRET_RECIPIENTS = 256
export const MAX_JOB_SECRETS = 64

const CONTENT_DOMAIN = 'horus/v1/secret'
const WRAP_INFO = utf8('horus/v1/secret-wrap')
const WRAP_NONCE = new Uint8Array(12)
const KEY_BYTES = 32
const NONCE_BYTES = 24

/** One recipient: its Ed25519 public key (hex) and the content key wrapped for it (base64). */
export interface SealedRecipient {
  key: string
  wrap: string
}

export interface SealedSecret {
  v: 1
  alg: typeof SECRET_ALGORITHM
  /** Ephemeral X25519 public key, base64. */
  epk: string
  /** XChaCha20-Poly1305 nonce, base64. */
  nonce: string
  /** Ciphertext and tag, base64. */
  ct: string
  to: SealedRecipient[]
}

/** A value could not be sealed: bad name, size or recipient key. */
export class SecretSealError extends HorusError {
  static override readonly code = 'SECRET_SEAL_INVALID'
}

/** This key is not among a secret's recipients: the job was sealed for other runners. */
export class SecretNotRecipientError extends HorusError {
  static override readonly code = 'SECRET_NOT_RECIPIENT'
  readonly secret: string

  constructor(secret: string, key: string) {
    super(
      `secret ${secret} was not sealed to this runner (key ${key}); it can only run on one of the runners it was sealed to`,
    )
    this.secret = secret
  }
}

/** A sealed value does not decrypt (corrupted, or sealed under another name). */
export class SecretOpenError extends HorusError {
  static override readonly code = 'SECRET_OPEN_FAILED'
}

const BASE64 = '^[A-Za-z0-9+/]+={0,2}$'

/** JSON Schema of a sealed secret (draft-07); the envelope schema embeds it. */
export const sealedSecretSchema = {
  type: 'object',
  required: ['v', 'alg', 'epk', 'nonce', 'ct', 'to'],
  additionalProperties: false,
  properties: {
    v: { const: 1 },
    alg: { const: SECRET_ALGORITHM },
    epk: { type: 'string', pattern: BASE64, maxLength: 64 },
    nonce: { type: 'string', pattern: BASE64, maxLength: 64 },
    ct: { type: 'string', pattern: BASE64, maxLength: Math.ceil(((MAX_SECRET_BYTES + 16) * 4) / 3) + 4 },
    to: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_SECRET_RECIPIENTS,
      items: {
        type: 'object',
        required: ['key', 'wrap'],
        additionalProperties: false,
        properties: {
          key: { type: 'string', pattern: '^[0-9a-f]{64}$' },
          wrap: { type: 'string', pattern: BASE64, maxLength: 128 },
        },
      },
    },
  },
} as const

/** `secrets` of an envelope: variable name → sealed value. */
export const jobSecretsSchema = {
  type: 'object',
  maxProperties: MAX_JOB_SECRETS,
  propertyNames: { pattern: SECRET_NAME_PATTERN.source },
  additionalProperties: sealedSecretSchema,
} as const

function contentAad(name: string): Uint8Array {
  return utf8(`${CONTENT_DOMAIN}\n${name}`)
}

function wrappingKey(shared: Uint8Array, epk: Uint8Array, recipient: Uint8Array): Uint8Array {
  const salt = new Uint8Array(epk.length + recipient.length)
  salt.set(epk)
  salt.set(recipient, epk.length)
  return hkdf(sha256, shared, salt, WRAP_INFO, KEY_BYTES)
}

function montgomeryOf(keyHex: string, what: string): Uint8Array {
  if (!isHexPublicKey(keyHex)) throw new SecretSealError(`${what}: not a hex Ed25519 public key: ${keyHex}`)
  try {
    return ed25519.utils.toMontgomery(fromHex(keyHex))
  } catch (err) {
    throw new SecretSealError(`${what}: not a valid Ed25519 public key: ${keyHex}`, { cause: err })
  }
}

export function assertSecretName(name: string, path = 'secret'): void {
  if (!SECRET_NAME_PATTERN.test(name)) {
    throw new SecretSealError(
      `${path}: expected a variable name matching ${SECRET_NAME_PATTERN}, got ${JSON.stringify(name)}`,
    )
  }
}

/** Seals `value` under `name` to every recipient (hex Ed25519 public keys; duplicates collapse). */
export function sealSecret(name: string, value: string, recipients: readonly string[]): SealedSecret {
  assertSecretName(name)
  const plain = utf8(value)
  if (plain.length < MIN_SECRET_BYTES || plain.length > MAX_SECRET_BYTES) {
    throw new SecretSealError(
      `secret ${name}: expected ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} bytes, got ${plain.length} (shorter values cannot be redacted reliably)`,
    )
  }
  const keys = [...new Set(recipients.map((key) => key.toLowerCase()))]
  if (keys.length === 0) throw new SecretSealError(`secret ${name}: no recipients to seal it to`)
  if (keys.length > MAX_SECRET_RECIPIENTS) {
    throw new SecretSealError(
      `secret ${name}: ${keys.length} recipients, the limit is ${MAX_SECRET_RECIPIENTS}`,
    )
  }
  const contentKey = new Uint8Array(randomBytes(KEY_BYTES))
  const nonce = new Uint8Array(randomBytes(NONCE_BYTES))
  const ephemeral = x25519.utils.randomSecretKey()
  const epk = x25519.getPublicKey(ephemeral)
  const to = keys.map((key) => {
    const recipient = montgomeryOf(key, `secret ${name}: recipient`)
    const kek = wrappingKey(x25519.getSharedSecret(ephemeral, recipient), epk, recipient)
    return { key, wrap: b64(chacha20poly1305(kek, WRAP_NONCE).encrypt(contentKey)) }
  })
  const ct = xchacha20poly1305(contentKey, nonce, contentAad(name)).encrypt(plain)
  contentKey.fill(0)
  ephemeral.fill(0)
  return { v: 1, alg: SECRET_ALGORITHM, epk: b64(epk), nonce: b64(nonce), ct: b64(ct), to }
}

/** Seals each value of `values` (name → plaintext) to the same recipients. */
export function sealSecrets(
  values: Readonly<Record<string, string>>,
  recipients: readonly string[],
): Record<string, SealedSecret> {
  const out: Record<string, SealedSecret> = {}
  for (const [name, value] of Object.entries(values)) out[name] = sealSecret(name, value, recipients)
  return out
}

/** Opens secrets sealed to one Ed25519 identity; holds the X25519 form of its seed. */
export class SecretOpener {
  readonly publicKeyHex: string
  readonly #secret: Uint8Array
  readonly #public: Uint8Array

  /** `seed`: the 32-byte Ed25519 seed (a libp2p key's `raw` holds it in its first 32 bytes). */
  constructor(seed: Uint8Array) {
    assertSeed(seed)
    this.publicKeyHex = toHex(ed25519.getPublicKey(seed))
    this.#secret = ed25519.utils.toMontgomerySecret(seed)
    this.#public = x25519.getPublicKey(this.#secret)
  }

  isRecipient(sealed: SealedSecret): boolean {
    return sealed.to.some((r) => r.key === this.publicKeyHex)
  }

  /** The plaintext of `sealed`, which must carry `name`; throws the typed errors above. */
  open(name: string, sealed: SealedSecret): string {
    const entry = sealed.to.find((r) => r.key === this.publicKeyHex)
    if (entry === undefined) throw new SecretNotRecipientError(name, this.publicKeyHex)
    try {
      const epk = unb64(sealed.epk)
      const kek = wrappingKey(x25519.getSharedSecret(this.#secret, epk), epk, this.#public)
      const contentKey = chacha20poly1305(kek, WRAP_NONCE).decrypt(unb64(entry.wrap))
      const plain = xchacha20poly1305(contentKey, unb64(sealed.nonce), contentAad(name)).decrypt(
        unb64(sealed.ct),
      )
      contentKey.fill(0)
      return new TextDecoder('utf-8', { fatal: true }).decode(plain)
    } catch (err) {
      throw new SecretOpenError(
        `secret ${name} does not decrypt: it was corrupted or sealed under another name`,
        {
          cause: err,
        },
      )
    }
  }

  /** Every secret of a job, opened; the first failure throws. */
  openAll(secrets: Readonly<Record<string, SealedSecret>>): Record<string, string> {
    const out: Record<string, string> = {}
    for (const [name, sealed] of Object.entries(secrets)) out[name] = this.open(name, sealed)
    return out
  }
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64')
}

function unb64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'))
}
