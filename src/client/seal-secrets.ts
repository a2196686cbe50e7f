/**
 * The SDK seals secret values itself, before anything leaves the process: to the runner keys the
 * caller pins (`secretRecipients`), or else to those the node it talks to trusts for the
 * capability (`supervisor.secret_recipients`, `coordinator.secret_recipients`). Pinning is the way
 * not to believe that node about who the runners are.
 */
import { normalizePublicKey } from '../protocols/jobs/keys.js'
import { type SealedSecret, sealSecret } from '../protocols/jobs/secrets.js'
import { SecretSealingError } from './errors.js'
import type { SecretUse } from './types.js'

/** Pinned recipients as hex keys (peer IDs or hex accepted); throws on anything else. */
export function pinnedRecipients(keys: readonly string[] | undefined): string[] | undefined {
  if (keys === undefined) return undefined
  if (keys.length === 0) throw new SecretSealingError('secretRecipients: expected at least one runner key')
  return keys.map((key, i) => {
    try {
      return normalizePublicKey(key)
    } catch {
      throw new SecretSealingError(`secretRecipients[${i}]: not a peer ID or hex public key: ${key}`)
    }
  })
}

/** Seals every value of a single job to `recipients`, naming the capability when there are none. */
export function sealJobSecrets(
  values: Readonly<Record<string, string>>,
  capability: string,
  recipients: readonly string[],
): Record<string, SealedSecret> {
  if (recipients.length === 0) {
    throw new SecretSealingError(
      `no runner is trusted for capability "${capability}": a secret can only be sealed to a runner key the trust policy admits (or pin one with secretRecipients)`,
    )
  }
  const out: Record<string, SealedSecret> = {}
  for (const [name, value] of Object.entries(values)) out[name] = sealSecret(name, value, recipients)
  return out
}

/** Seals each value of a run to the recipients of the steps that use it. */
export function sealRunSecrets(
  values: Readonly<Record<string, string>>,
  uses: readonly SecretUse[],
  pinned: readonly string[] | undefined,
): Record<string, SealedSecret> {
  const out: Record<string, SealedSecret> = {}
  for (const [name, value] of Object.entries(values)) {
    const use = uses.find((u) => u.name === name)
    if (use === undefined) {
      throw new SecretSealingError(`secrets.${name}: no step of the workflow names this secret`)
    }
    const recipients = pinned ?? use.recipients.map((r) => r.key)
    if (recipients.length === 0) {
      throw new SecretSealingError(
        `secrets.${name}: no runner is trusted for ${use.capabilities.map((c) => `"${c}"`).join(', ')} (steps ${use.steps.join(', ')}); a secret can only be sealed to a runner key the trust policy admits`,
      )
    }
    out[name] = sealSecret(name, value, recipients)
  }
  return out
}
