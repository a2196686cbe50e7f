import { readFile, writeFile } from 'node:fs/promises'
import { generateKey } from '@libp2p/pnet'
import { SwarmKeyError } from './errors.js'

const HEADER = '/key/swarm/psk/1.0.0/'

/**
 * Reads a pnet swarm key (the go-ipfs format: header, `/base16/`, 64 hex chars) and checks it here,
 * because a malformed key otherwise fails deep inside the first connection attempt.
 */
export async function readSwarmKey(file: string): Promise<Uint8Array> {
  let bytes: Buffer
  try {
    bytes = await readFile(file)
  } catch (err) {
    throw new SwarmKeyError(file, `cannot read (${(err as NodeJS.ErrnoException).code})`, err)
  }
  const lines = bytes.toString('utf8').trim().split(/\r?\n/)
  if (lines[0] !== HEADER) throw new SwarmKeyError(file, `first line must be ${HEADER}`)
  if (lines[1] !== '/base16/') throw new SwarmKeyError(file, 'second line must be /base16/')
  if (lines[2] === undefined || !/^[0-9a-fA-F]{64}$/.test(lines[2])) {
    throw new SwarmKeyError(file, 'third line must be 64 hex characters (a 32-byte key)')
  }
  return new TextEncoder().encode(`${lines.slice(0, 3).join('\n')}\n`)
}

/** Writes a new random swarm key with mode 0600; an existing file is never overwritten. */
export async function writeSwarmKey(file: string): Promise<void> {
  const key = new Uint8Array(95)
  generateKey(key)
  try {
    await writeFile(file, key, { mode: 0o600, flag: 'wx' })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const reason =
      code === 'EEXIST'
        ? 'already exists; it is never overwritten (every member of the mesh holds a copy): choose another file'
        : `cannot write (${code ?? (err as Error).message})`
    throw new SwarmKeyError(file, reason, err)
  }
}
