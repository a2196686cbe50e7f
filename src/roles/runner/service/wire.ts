/**
 * What crosses the wire between a supervisor and a runner: the params and answers of
 * `runner.execute`, `runner.describe` and the events of `runner.logs`. The supervisor imports
 * these types; the JSON Schemas beside them are what the runner's RPC layer enforces.
 */
import type { JobEnvelope, JobResult } from '../../../protocols/jobs/index.js'
import { jobResultSchema } from '../../../protocols/jobs/index.js'
import type { WireError } from '../../../protocols/rpc/index.js'

export interface ExecuteParams {
  job: JobEnvelope
}

/** A finished execution: the signed result plus the job's captured log lines. */
export interface ExecuteResponse {
  result: JobResult
  logs: string[]
  /** True when lines were dropped after the runner's log cap. */
  logsTruncated: boolean
  /** True when the runner had already executed (or was executing) this job id and did not run it again. */
  replayed: boolean
}

export interface RunnerLoad {
  running: number
  queued: number
  capacity: number
}

export interface RunnerDescription {
  peerId: string
  /** Hex Ed25519 key that signs this runner's results. */
  publicKey: string
  capabilities: string[]
  /** Functions scripts can call by name besides their kind's host APIs. */
  functions: string[]
  concurrency: number
  load: RunnerLoad
}

/** One event of `runner.logs`: a job started, or printed a line. */
export interface RunnerJobEvent {
  jobId: string
  type: 'started' | 'log'
  line?: string
  /** Runner clock, ms since the epoch. */
  at: number
}

/** One job of a `runner.execute_many` answer: started, or refused with the error `execute` would give. */
export type ExecuteManyItem = { ok: true } | { ok: false; error: WireError }

/** How a job handed over by `execute_many` ended: what `execute` would have answered, or its error. */
export type ExecuteOutcome =
  | { jobId: string; response: ExecuteResponse }
  | { jobId: string; error: WireError }

/**
 * A `runner.logs` event (of the stream without `jobId`) carrying what happened to the caller's jobs
 * at one moment: the ids of those that started (what a `started` event says of one job; the stream
 * without `jobId` sends no separate `started` events), then the executions of `execute_many` jobs
 * that ended.
 */
export interface RunnerResultsEvent {
  type: 'results'
  started?: string[]
  results: ExecuteOutcome[]
  at: number
}

/** What a `runner.logs` subscription without `jobId` carries. */
export type RunnerStreamEvent = RunnerJobEvent | RunnerResultsEvent

// The result schema's `$id` must appear once per document; here it is embedded, so it goes.
const { $id: _id, ...resultSchema } = jobResultSchema

export const executeResponseSchema = {
  type: 'object',
  required: ['result', 'logs', 'logsTruncated', 'replayed'],
  properties: {
    result: resultSchema,
    logs: { type: 'array', items: { type: 'string' } },
    logsTruncated: { type: 'boolean' },
    replayed: { type: 'boolean' },
  },
} as const

export const runnerDescriptionSchema = {
  type: 'object',
  required: ['peerId', 'publicKey', 'capabilities', 'functions', 'concurrency', 'load'],
  properties: {
    peerId: { type: 'string' },
    publicKey: { type: 'string' },
    capabilities: { type: 'array', items: { type: 'string' } },
    functions: { type: 'array', items: { type: 'string' } },
    concurrency: { type: 'integer' },
    load: {
      type: 'object',
      required: ['running', 'queued', 'capacity'],
      properties: {
        running: { type: 'integer' },
        queued: { type: 'integer' },
        capacity: { type: 'integer' },
      },
    },
  },
} as const

const wireErrorSchema = {
  type: 'object',
  required: ['code', 'message'],
  properties: { code: { type: 'integer' }, message: { type: 'string' }, data: {} },
} as const

export const executeManyItemSchema = {
  type: 'object',
  required: ['ok'],
  properties: { ok: { type: 'boolean' }, error: wireErrorSchema },
} as const

export const runnerJobEventSchema = {
  type: 'object',
  required: ['type', 'at'],
  description:
    '`started` and `log` name their job; `results` carries the ids of jobs that started (`started`) and the executions of execute_many jobs',
  properties: {
    jobId: { type: 'string' },
    type: { type: 'string', enum: ['started', 'log', 'results'] },
    line: { type: 'string' },
    started: { type: 'array', items: { type: 'string' } },
    results: {
      type: 'array',
      items: {
        type: 'object',
        required: ['jobId'],
        properties: { jobId: { type: 'string' }, response: executeResponseSchema, error: wireErrorSchema },
      },
    },
    at: { type: 'integer' },
  },
} as const
