import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'

const encoder = new TextEncoder()

async function keyCid(text: string): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(encoder.encode(text)))
}

/** DHT key a runner provides for each capability it serves: the CID of sha256("horus/v1/capability/<name>"). */
export function capabilityCid(name: string): Promise<CID> {
  return keyCid(`horus/v1/capability/${name}`)
}

/**
 * DHT key a node provides for each role it holds, so coordinators find supervisors (and tools find
 * any role) without a list in config. Same construction as capabilities, with its own prefix.
 */
export function roleCid(role: string): Promise<CID> {
  return keyCid(`horus/v1/role/${role}`)
}
