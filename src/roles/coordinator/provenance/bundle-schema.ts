import {
  jobAuthoritySchema,
  jobEnvelopeSchema,
  jobResultSchema,
  TRUST_ROLES,
} from '../../../protocols/jobs/index.js'
import { ajv } from '../../../protocols/jobs/schema-validator.js'
import { RUN_BUNDLE_FORMAT, type RunBundle } from './bundle.js'

const HEX_KEY = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const
const STEP_ID = { type: 'string', minLength: 1, maxLength: 512 } as const

// The envelope and result schemas carry an `$id` already compiled on the shared Ajv instance:
// they are referenced, not copied.
const attemptSchema = {
  type: 'object',
  required: ['attempt', 'jobs', 'results'],
  additionalProperties: false,
  properties: {
    attempt: { type: 'integer', minimum: 1 },
    jobs: { type: 'array', items: { $ref: jobEnvelopeSchema.$id } },
    results: { type: 'array', items: { $ref: jobResultSchema.$id } },
  },
} as const

/** JSON Schema of a provenance bundle (`horus workflow export`). */
export const runBundleSchema = {
  $id: 'horus:run-bundle',
  title: 'RunBundle',
  type: 'object',
  required: [
    'format',
    'runId',
    'exportedAt',
    'exportedBy',
    'status',
    'authority',
    'workflow',
    'inputs',
    'steps',
    'keys',
    'signature',
  ],
  additionalProperties: false,
  properties: {
    format: { const: RUN_BUNDLE_FORMAT },
    runId: { type: 'string', minLength: 1, maxLength: 128 },
    exportedAt: { type: 'string' },
    exportedBy: HEX_KEY,
    status: { type: 'string' },
    authority: jobAuthoritySchema,
    workflow: { type: 'object' },
    inputs: { type: 'object' },
    steps: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'kind', 'dependsOn', 'state', 'attempts'],
        additionalProperties: false,
        properties: {
          id: STEP_ID,
          kind: { enum: ['job', 'workflow', 'sleep', 'signal'] },
          runner: { type: 'string' },
          dependsOn: { type: 'array', items: STEP_ID },
          state: { type: 'string' },
          output: {},
          attempts: { type: 'array', items: attemptSchema },
          items: {
            type: 'array',
            items: {
              type: 'object',
              required: ['index', 'state', 'attempts'],
              additionalProperties: false,
              properties: {
                index: { type: 'integer', minimum: 0 },
                state: { type: 'string' },
                output: {},
                attempts: { type: 'array', items: attemptSchema },
              },
            },
          },
          signal: {
            type: 'object',
            required: ['name', 'data', 'deliveredBy'],
            additionalProperties: false,
            properties: {
              name: { type: 'string' },
              data: {},
              deliveredBy: { anyOf: [HEX_KEY, { type: 'null' }] },
            },
          },
        },
      },
    },
    signature: { type: 'string', pattern: '^[0-9a-f]{128}$' },
    keys: {
      type: 'array',
      items: {
        type: 'object',
        required: ['key', 'peerId', 'roles', 'capabilities'],
        additionalProperties: false,
        properties: {
          key: HEX_KEY,
          peerId: { type: 'string' },
          name: { type: 'string' },
          roles: { type: 'array', items: { enum: TRUST_ROLES } },
          capabilities: { type: 'array', items: { type: 'string' } },
        },
      },
    },
  },
} as const

export const validateRunBundle = ajv.compile<RunBundle>(runBundleSchema)
