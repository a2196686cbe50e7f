import type { JobResult } from './result.js'
import { ajv } from './schema-validator.js'

export const JOB_STATUSES = ['succeeded', 'failed', 'timed_out', 'cancelled'] as const

/** JSON Schema of a signed job result; RPC methods reuse it. */
export const jobResultSchema = {
  $id: 'horus:job-result',
  title: 'JobResult',
  type: 'object',
  required: ['jobId', 'job', 'attempt', 'status', 'startedAt', 'finishedAt', 'runner', 'signature'],
  additionalProperties: false,
  properties: {
    jobId: { type: 'string', minLength: 1, maxLength: 512 },
    job: { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'jobDigest of the envelope it answers' },
    attempt: { type: 'integer', minimum: 1 },
    status: { type: 'string', enum: JOB_STATUSES },
    output: {},
    outputDigest: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    error: {
      type: 'object',
      required: ['name', 'message', 'retryable'],
      additionalProperties: false,
      properties: {
        name: { type: 'string' },
        message: { type: 'string' },
        retryable: { type: 'boolean' },
      },
    },
    startedAt: { type: 'integer', minimum: 0 },
    finishedAt: { type: 'integer', minimum: 0 },
    runner: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    signature: { type: 'string', pattern: '^[0-9a-f]{128}$' },
  },
} as const

export const validateJobResult = ajv.compile<JobResult>(jobResultSchema)
