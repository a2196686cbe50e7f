import type { JobAuthority, SignedSubmission, SignedTriggerRegistration } from './authority.js'
import { ajv } from './schema-validator.js'

const HEX_KEY = '^[0-9a-f]{64}$'
const HEX_DIGEST = '^[0-9a-f]{64}$'
const HEX_SIGNATURE = '^[0-9a-f]{128}$'
const RUN_ID = { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,128}$' } as const
const TIME = { type: 'integer', minimum: 0 } as const

const signedFields = {
  workflowDigest: { type: 'string', pattern: HEX_DIGEST },
  inputsDigest: { type: 'string', pattern: HEX_DIGEST },
  nonce: { type: 'string', pattern: '^[0-9a-f]{32}$' },
  createdAt: TIME,
  expiresAt: TIME,
  submitter: { type: 'string', pattern: HEX_KEY },
  signature: { type: 'string', pattern: HEX_SIGNATURE },
} as const
const signedRequired = [
  'workflowDigest',
  'inputsDigest',
  'nonce',
  'createdAt',
  'expiresAt',
  'submitter',
  'signature',
] as const

/** A run submission as the client signed it (see authority.ts). */
export const submissionSchema = {
  title: 'SignedSubmission',
  type: 'object',
  required: ['runId', ...signedRequired],
  additionalProperties: false,
  properties: { runId: RUN_ID, ...signedFields },
} as const

/** A trigger registration as its registrar signed it. */
export const triggerRegistrationSchema = {
  title: 'SignedTriggerRegistration',
  type: 'object',
  required: ['name', 'kind', ...signedRequired],
  additionalProperties: false,
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
    kind: { enum: ['cron', 'http'] },
    schedule: { type: 'string', minLength: 1, maxLength: 256 },
    timezone: { type: 'string', minLength: 1, maxLength: 64 },
    overlap: { enum: ['skip', 'allow', 'cancel_previous'] },
    catch_up: { oneOf: [{ type: 'boolean' }, { type: 'integer', minimum: 1 }] },
    ...signedFields,
  },
} as const

/** `authority` of a job envelope: the run's signed submission, or a trigger's registration and firing. */
export const jobAuthoritySchema = {
  oneOf: [
    {
      type: 'object',
      required: ['submission'],
      additionalProperties: false,
      properties: { submission: submissionSchema },
    },
    {
      type: 'object',
      required: ['trigger', 'firing'],
      additionalProperties: false,
      properties: {
        trigger: triggerRegistrationSchema,
        firing: {
          type: 'object',
          required: ['runId', 'at'],
          additionalProperties: false,
          properties: { runId: RUN_ID, at: TIME },
        },
      },
    },
  ],
} as const

// Nested copies of these schemas (in the envelope's, in RPC params) carry no `$id`, so Ajv can
// compile each of them more than once.
export const validateSubmission = ajv.compile<SignedSubmission>(submissionSchema)
export const validateTriggerRegistration = ajv.compile<SignedTriggerRegistration>(triggerRegistrationSchema)
export const validateJobAuthority = ajv.compile<JobAuthority>(jobAuthoritySchema)
