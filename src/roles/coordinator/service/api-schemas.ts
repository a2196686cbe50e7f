/** JSON Schemas of the API's results (../API.md), for the OpenRPC document. */
import { MONITOR_EVENT_TYPES, SEVERITIES } from '../../../protocols/events/index.js'

export const RUN_STATUSES = ['pending', 'running', 'paused', 'completed', 'failed', 'cancelled'] as const
const STEP_STATES = [
  'pending',
  'ready',
  'dispatched',
  'running',
  'retrying',
  'succeeded',
  'failed',
  'skipped',
  'cancelled',
] as const
const TIME = { type: 'string', format: 'date-time' } as const
const STRING = { type: 'string' } as const

export const STEP_VIEW = {
  type: 'object',
  required: ['id', 'dependsOn', 'state', 'attempt'],
  properties: {
    id: STRING,
    runner: STRING,
    dependsOn: { type: 'array', items: STRING },
    state: { type: 'string', enum: STEP_STATES },
    attempt: { type: 'integer' },
    startedAt: TIME,
    finishedAt: TIME,
    durationMs: { type: 'number' },
    jobId: STRING,
    supervisor: STRING,
    runnerPeer: STRING,
    output: {},
    error: { type: 'object', properties: { name: STRING, message: STRING, retryable: { type: 'boolean' } } },
    reason: STRING,
    kind: { type: 'string', enum: ['job', 'workflow', 'sleep', 'signal'] },
    items: {
      type: 'object',
      required: ['total', 'counts'],
      properties: { total: { type: 'integer' }, counts: { type: 'object' } },
    },
    signal: STRING,
    until: TIME,
    triggerRule: STRING,
    onFailure: { type: 'boolean' },
  },
} as const

export const RUN_VIEW = {
  type: 'object',
  required: [
    'runId',
    'workflow',
    'status',
    'inputs',
    'createdAt',
    'steps',
    'epoch',
    'retryable',
    'waitingFor',
  ],
  properties: {
    runId: STRING,
    workflow: STRING,
    status: { type: 'string', enum: RUN_STATUSES },
    owner: STRING,
    submitter: STRING,
    inputs: { type: 'object' },
    outputs: { type: 'object' },
    createdAt: TIME,
    finishedAt: TIME,
    steps: { type: 'array', items: STEP_VIEW },
    error: { type: 'object', properties: { step: STRING, name: STRING, message: STRING } },
    epoch: { type: 'integer' },
    retryable: { type: 'boolean' },
    waitingFor: { type: 'array', items: STRING },
  },
} as const

export const STEP_ITEMS = {
  type: 'object',
  required: ['total', 'offset', 'items'],
  properties: {
    total: { type: 'integer' },
    offset: { type: 'integer' },
    items: { type: 'array', items: STEP_VIEW },
  },
} as const

export const RUN_SUMMARY = {
  type: 'object',
  required: ['runId', 'workflow', 'status', 'createdAt'],
  properties: {
    runId: STRING,
    workflow: STRING,
    status: { type: 'string', enum: RUN_STATUSES },
    submitter: STRING,
    createdAt: TIME,
    finishedAt: TIME,
  },
} as const

export const LOG_LINE = {
  type: 'object',
  required: ['at', 'node', 'level', 'message'],
  properties: {
    at: TIME,
    node: STRING,
    stepId: STRING,
    level: { enum: ['info', 'warn', 'error'] },
    message: STRING,
  },
} as const

export const ERROR_RECORD = {
  type: 'object',
  required: ['name', 'message', 'at'],
  properties: { stepId: STRING, attempt: { type: 'integer' }, name: STRING, message: STRING, at: TIME },
} as const

export const METRICS = {
  type: 'object',
  required: ['steps'],
  properties: {
    durationMs: { type: 'number' },
    steps: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'attempts'],
        properties: {
          id: STRING,
          attempts: { type: 'integer' },
          durationMs: { type: 'number' },
          queuedMs: { type: 'number' },
        },
      },
    },
  },
} as const

export const PENDING_STEP = {
  type: 'object',
  required: ['id', 'state'],
  properties: { id: STRING, state: { type: 'string', enum: STEP_STATES }, reason: STRING },
} as const

export const TRIGGER_SUMMARY = {
  type: 'object',
  required: ['name', 'kind', 'source'],
  properties: {
    name: STRING,
    kind: { enum: ['cron', 'http'] },
    schedule: STRING,
    timezone: STRING,
    overlap: { enum: ['skip', 'allow', 'cancel_previous'] },
    catchUp: { type: ['boolean', 'integer'] },
    source: { enum: ['registered', 'config'] },
    registeredBy: STRING,
    lastFiredAt: TIME,
  },
} as const

export const MONITOR_EVENT = {
  type: 'object',
  required: ['type', 'severity', 'at', 'node', 'message'],
  properties: {
    type: { type: 'string', enum: MONITOR_EVENT_TYPES },
    severity: { type: 'string', enum: SEVERITIES },
    at: TIME,
    node: STRING,
    runId: STRING,
    stepId: STRING,
    message: STRING,
    data: { type: 'object' },
    id: STRING,
  },
} as const
