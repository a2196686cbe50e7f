import { jobAuthoritySchema } from './authority-schema.js'
import { CAPABILITY_PATTERN, MAX_JOB_TIMEOUT_MS, MAX_SIGNATURES } from './constants.js'
import type { JobEnvelope } from './envelope.js'
import { ajv } from './schema-validator.js'
import { jobSecretsSchema } from './secrets.js'

const HEX_KEY = '^[0-9a-f]{64}$'
const HEX_SIGNATURE = '^[0-9a-f]{128}$'
const MAX_ID_LENGTH = 512

/** JSON Schema (draft-07, as Ajv 8 defaults to) of a signed job envelope; RPC methods reuse it. */
export const jobSignatureSchema = {
  type: 'object',
  required: ['key', 'sig'],
  additionalProperties: false,
  properties: {
    key: { type: 'string', pattern: HEX_KEY },
    sig: { type: 'string', pattern: HEX_SIGNATURE },
  },
} as const

export const jobEnvelopeSchema = {
  $id: 'horus:job-envelope',
  title: 'JobEnvelope',
  type: 'object',
  required: [
    'id',
    'attempt',
    'runner',
    'payload',
    'input',
    'env',
    'timeoutMs',
    'createdAt',
    'expiresAt',
    'nonce',
    'submitter',
    'signatures',
  ],
  additionalProperties: false,
  properties: {
    id: { type: 'string', minLength: 1, maxLength: MAX_ID_LENGTH },
    run: { type: 'string', minLength: 1, maxLength: MAX_ID_LENGTH },
    step: { type: 'string', minLength: 1, maxLength: MAX_ID_LENGTH },
    attempt: { type: 'integer', minimum: 1 },
    runner: { type: 'string', pattern: CAPABILITY_PATTERN.source },
    payload: { type: 'string' },
    input: { type: 'object' },
    env: { type: 'object', additionalProperties: { type: 'string' } },
    context: { type: 'object' },
    /** Sealed environment variables: only the runners they were sealed to can read them. */
    secrets: jobSecretsSchema,
    timeoutMs: { type: 'integer', exclusiveMinimum: 0, maximum: MAX_JOB_TIMEOUT_MS },
    createdAt: { type: 'integer', minimum: 0 },
    expiresAt: { type: 'integer', minimum: 0 },
    nonce: { type: 'string', pattern: '^[0-9a-f]{32}$' },
    submitter: { type: 'string', pattern: HEX_KEY },
    signatures: { type: 'array', minItems: 1, maxItems: MAX_SIGNATURES, items: jobSignatureSchema },
    authority: jobAuthoritySchema,
  },
} as const

export const validateJobEnvelope = ajv.compile<JobEnvelope>(jobEnvelopeSchema)

/**
 * The `jobs` parameter of a batch method: 1 to `max` envelopes, each checked on its own by the
 * method (so one bad envelope is refused alone, not the batch); only the count is checked here.
 */
export function envelopeBatchSchema(max: number) {
  return {
    type: 'array',
    minItems: 1,
    maxItems: max,
    items: { type: 'object', description: 'a signed job envelope' },
  } as const
}
