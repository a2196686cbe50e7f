/** The client's key: an ephemeral one, a node data dir's `identity.key`, or a key file. */
import { stat } from 'node:fs/promises'
import { basename, dirname } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { IDENTITY_FILE } from '../node/constants.js'
import { readExistingIdentity } from '../node/identity.js'
import { ClientOptionsError } from './errors.js'

/**
 * `identity` is a data dir (holding `identity.key`) or the path of a key file written by
 * `horus key generate`. The same file checks as a node's apply (it must exist, be Ed25519 and not
 * be readable by others). Absent: a fresh key that lives as long as the client.
 */
export async function loadClientKey(identity: string | undefined): Promise<PrivateKey> {
  if (identity === undefined) return generateKeyPair('Ed25519')
  let isDir: boolean
  try {
    isDir = (await stat(identity)).isDirectory()
  } catch (err) {
    throw new ClientOptionsError(
      `identity: cannot read ${identity} (${(err as NodeJS.ErrnoException).code})`,
      {
        cause: err,
      },
    )
  }
  if (isDir) return (await readExistingIdentity(identity)).privateKey
  if (basename(identity) !== IDENTITY_FILE) {
    throw new ClientOptionsError(
      `identity: expected a data dir or a file named ${IDENTITY_FILE}, got ${identity}`,
    )
  }
  return (await readExistingIdentity(dirname(identity))).privateKey
}
