/**
 * Whom a secret is sealed to, and which runners can therefore run a job that carries secrets.
 */
import { peerIdFromPublicKeyHex } from './keys.js'
import type { SealedSecret } from './secrets.js'
import type { TrustPolicy } from './trust-policy.js'

/** One runner key a secret may be sealed to. */
export interface SecretRecipient {
  /** Hex Ed25519 public key. */
  key: string
  peerId: string
  name?: string
}

/** JSON Schema of a SecretRecipient, for the RPC methods that answer them. */
export const secretRecipientSchema = {
  type: 'object',
  required: ['key', 'peerId'],
  properties: { key: { type: 'string' }, peerId: { type: 'string' }, name: { type: 'string' } },
} as const

/**
 * The keys a value for `capability` may be sealed to: those `policy` trusts as `runner` for it.
 * The node's own key (always trusted) counts only when the node runs that capability itself.
 */
export function runnerRecipients(
  policy: TrustPolicy,
  capability: string,
  selfServes: (capability: string) => boolean,
): SecretRecipient[] {
  return policy.keys
    .filter((entry) => policy.admits(entry.key, { role: 'runner', capability }))
    .filter((entry) => !entry.self || selfServes(capability))
    .map((entry) => ({
      key: entry.key,
      peerId: peerIdFromPublicKeyHex(entry.key).toString(),
      ...(entry.name === undefined ? {} : { name: entry.name }),
    }))
}

/** The keys every secret of a job was sealed to: the runners that can execute it. */
export function commonRecipients(secrets: Readonly<Record<string, SealedSecret>>): Set<string> | undefined {
  let common: Set<string> | undefined
  for (const sealed of Object.values(secrets)) {
    const keys = new Set(sealed.to.map((r) => r.key))
    common = common === undefined ? keys : new Set([...common].filter((key) => keys.has(key)))
  }
  return common
}
