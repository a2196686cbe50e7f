import { constants } from 'node:fs'
import { mkdir, open, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import { IDENTITY_FILE } from './constants.js'
import { IdentityError } from './errors.js'

/** A node's long-lived identity: its ed25519 key and the peer ID derived from it. */
export interface Identity {
  privateKey: PrivateKey
  peerId: PeerId
  /** Raw 32-byte ed25519 public key as hex: the form trust policies and job envelopes use. */
  publicKeyHex: string
  file: string
}

export function identityFile(dataDir: string): string {
  return join(dataDir, IDENTITY_FILE)
}

/**
 * Loads `<dataDir>/identity.key`, creating it (mode 0600) on first start. An existing file that is
 * unreadable, corrupt, not ed25519, or open to group/other is an error: replacing it would silently
 * give the node a new peer ID and cut it off from every policy that trusts the old one.
 */
export async function loadOrCreateIdentity(dataDir: string): Promise<Identity> {
  const file = identityFile(dataDir)
  const existing = await readIdentity(file)
  if (existing !== undefined) return existing
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const privateKey = await generateKeyPair('Ed25519')
  await writeKeyFile(file, privateKeyToProtobuf(privateKey))
  return toIdentity(privateKey, file)
}

/** Reads an identity that must already exist (`horus key show`). */
export async function readExistingIdentity(dataDir: string): Promise<Identity> {
  const file = identityFile(dataDir)
  const identity = await readIdentity(file)
  if (identity === undefined) throw new IdentityError(file, 'no key file (run `horus key generate` first)')
  return identity
}

async function readIdentity(file: string): Promise<Identity | undefined> {
  let mode: number
  try {
    mode = (await stat(file)).mode
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new IdentityError(file, `cannot stat (${(err as NodeJS.ErrnoException).code})`, err)
  }
  if ((mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0')
    throw new IdentityError(file, `is readable by others (mode ${octal}); run: chmod 600 ${file}`)
  }
  let bytes: Uint8Array
  try {
    bytes = await readFile(file)
  } catch (err) {
    throw new IdentityError(file, `cannot read (${(err as NodeJS.ErrnoException).code})`, err)
  }
  let privateKey: PrivateKey
  try {
    privateKey = privateKeyFromProtobuf(bytes)
  } catch (err) {
    throw new IdentityError(file, 'is corrupt: not a libp2p private key', err)
  }
  if (privateKey.type !== 'Ed25519') {
    throw new IdentityError(file, `holds a ${privateKey.type} key; Horus identities are Ed25519`)
  }
  return toIdentity(privateKey, file)
}

/** Creates the file exclusively so two processes starting at once cannot overwrite each other. */
async function writeKeyFile(file: string, bytes: Uint8Array): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>>
  try {
    handle = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600)
  } catch (err) {
    throw new IdentityError(file, `cannot create (${(err as NodeJS.ErrnoException).code})`, err)
  }
  try {
    await handle.writeFile(bytes)
    await handle.sync()
  } finally {
    await handle.close()
  }
}

function toIdentity(privateKey: PrivateKey, file: string): Identity {
  return {
    privateKey,
    peerId: peerIdFromPrivateKey(privateKey),
    publicKeyHex: uint8ArrayToString(privateKey.publicKey.raw, 'base16'),
    file,
  }
}

/** `horus key generate`: creates the key, refusing to overwrite an existing one. */
export async function generateIdentity(dataDir: string): Promise<{ identity: Identity; created: boolean }> {
  const existing = await readIdentity(identityFile(dataDir))
  if (existing !== undefined) return { identity: existing, created: false }
  return { identity: await loadOrCreateIdentity(dataDir), created: true }
}
