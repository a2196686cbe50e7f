/**
 * A registered trigger as the replicated trigger set stores it: its definition and signed
 * registration, with the hook's HMAC key **sealed** to the coordinators of the trust policy
 * (the set travels on gossip, which any mesh peer may read, and is persisted in every
 * coordinator's datastore: the key never appears there in plaintext). A coordinator that is not
 * among the recipients — added to the policy after the trigger was registered — serves the hook
 * only to callers with the gateway's bearer token until the trigger is registered again.
 */
import type { SealedSecret } from '../../../protocols/jobs/index.js'
import { isPlainObject, type JsonValue } from '../../../protocols/state/json-value.js'
import { readTriggerDefinition, type TriggerDefinition } from './definition.js'

/** The name a hook key is sealed under (the seal binds it). */
export const HOOK_SECRET_NAME = 'HORUS_HOOK_SECRET'

export interface TriggerSealing {
  /** Seals a hook key to the coordinators this node trusts (itself included). */
  seal(secret: string): SealedSecret
  /** Opens a sealed hook key; undefined when this node is not a recipient (or it does not open). */
  open(sealed: SealedSecret): string | undefined
}

export type DecodedTrigger =
  | { ok: true; definition: TriggerDefinition; note?: string }
  | { ok: false; problem: string }

/** The record to replicate for a registered trigger. */
export function encodeTrigger(definition: TriggerDefinition, sealing: TriggerSealing): JsonValue {
  const { secret, ...rest } = definition
  const record: Record<string, unknown> = { definition: rest }
  if (secret !== undefined) record.sealedSecret = sealing.seal(secret)
  return JSON.parse(JSON.stringify(record)) as JsonValue
}

/** The definition back from a replicated record (validated like any remote input). */
export function decodeTrigger(name: string, record: JsonValue, sealing: TriggerSealing): DecodedTrigger {
  if (!isPlainObject(record) || !isPlainObject(record.definition))
    return { ok: false, problem: 'expected { definition, sealedSecret? }' }
  const read = readTriggerDefinition(record.definition, `triggers.${name}`)
  if (!read.ok) return { ok: false, problem: read.issues.join('; ') }
  if (read.trigger.name !== name)
    return { ok: false, problem: `its definition is named ${read.trigger.name}` }
  if (read.trigger.secret !== undefined) return { ok: false, problem: 'a hook key in plaintext' }
  if (record.sealedSecret === undefined) return { ok: true, definition: read.trigger }
  const secret = sealing.open(record.sealedSecret as unknown as SealedSecret)
  if (secret === undefined) {
    return {
      ok: true,
      definition: read.trigger,
      note: 'its hook key was not sealed to this coordinator: only callers with the gateway token can fire it here',
    }
  }
  return { ok: true, definition: { ...read.trigger, secret } }
}
