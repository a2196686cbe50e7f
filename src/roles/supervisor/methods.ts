/**
 * The supervisor's RPC surface, with the seed's method names: `supervisor.create_job` (and its
 * batch form `create_jobs`),
 * `get_job_status`, `get_job_result`, `get_job_logs`, `cancel_job`, `list_jobs`, `list_runners`,
 * and the subscription `supervisor.job_events`. Callers need the trust role client or coordinator
 * (src/node/rpc-access.ts); a job is visible only to its submitter, to trusted coordinators for
 * workflow steps and to admins (access.ts) — to anyone else it does not exist.
 */

import { boundedCall } from '../../core/bounded-call.js'
import { jsonSizeWith, TurnBatch } from '../../core/turn-batch.js'
import type { JobEnvelope, SecretRecipient } from '../../protocols/jobs/index.js'
import {
  CAPABILITY_PATTERN,
  envelopeBatchSchema,
  jobResultSchema,
  resultJsonSize,
  secretRecipientSchema,
} from '../../protocols/jobs/index.js'
import {
  type AnyMethodDefinition,
  type AnySubscriptionDefinition,
  assertGrantCovers,
  type CallContext,
  defineMethod,
  defineSubscription,
  type ErrorSpec,
  toWireError,
  UnsupportedError,
  type WireError,
} from '../../protocols/rpc/index.js'
import {
  DEFAULT_LIST_LIMIT,
  DEFAULT_RESULT_WAIT_MS,
  MAX_JOBS_PER_BATCH,
  MAX_OUTCOMES_PER_EVENT,
  MAX_RESULT_WAIT_MS,
} from './constants.js'
import {
  type JobEvent,
  type JobResultView,
  type JobStatusView,
  resultView,
  SUPERVISOR_JOB_STATUSES,
  type SupervisorJobStatus,
  statusView,
} from './job-record.js'
import type { RunnerView } from './runner-pool.js'
import type { JobOutcome, SupervisorService } from './supervisor-service.js'

/** One `supervisor.job_outcomes` notification. */
export interface JobOutcomes {
  events: JobResultView[]
}

const NOT_FOUND: ErrorSpec = { name: 'JobNotFoundError', code: -32020, message: 'no job with that id here' }
const REJECTED: ErrorSpec = {
  name: 'JobRejectedError',
  code: -32021,
  message: 'the job failed verification; data.code is JOB_REJECTED and the message names the reason',
}
const CONFLICT: ErrorSpec = {
  name: 'JobIdConflictError',
  code: -32022,
  message: 'the job id is taken by a different job',
}
const NO_RUNNER: ErrorSpec = {
  name: 'NoRunnerError',
  code: -32024,
  message:
    'no live runner offers the capability; the message lists the ones available (send with waitForRunner to queue it)',
}
const NOT_RUNNING: ErrorSpec = {
  name: 'SupervisorNotRunningError',
  code: -32023,
  message: 'the supervisor is starting (loading its jobs) or stopping; ask again later',
}

const { $id: _id, ...resultSchema } = jobResultSchema
const failureSchema = resultSchema.properties.error
const JOB_ID = { type: 'string', minLength: 1, maxLength: 512, description: 'the job id' } as const
const STATUS = { type: 'string', enum: SUPERVISOR_JOB_STATUSES } as const

const REFUSALS = {
  type: 'array',
  description: 'runners that refused the job (trust, capability…) and what each said',
  items: {
    type: 'object',
    required: ['runner', 'reason'],
    properties: { runner: { type: 'string' }, reason: { type: 'string' } },
  },
} as const

const statusViewSchema = {
  type: 'object',
  required: ['jobId', 'capability', 'attempt', 'status', 'tried', 'source', 'acceptedAt', 'updatedAt'],
  properties: {
    jobId: { type: 'string' },
    capability: { type: 'string' },
    attempt: { type: 'integer' },
    run: { type: 'string' },
    step: { type: 'string' },
    status: STATUS,
    reason: { type: 'string' },
    runner: { type: 'string', description: 'peer ID of the runner it is (or was last) on' },
    tried: { type: 'array', items: { type: 'string' } },
    refusals: REFUSALS,
    source: { type: 'string', enum: ['rpc', 'gossip'] },
    acceptedAt: { type: 'integer' },
    updatedAt: { type: 'integer' },
  },
} as const

const resultViewSchema = {
  type: 'object',
  required: ['jobId', 'status'],
  properties: {
    jobId: { type: 'string' },
    status: STATUS,
    reason: { type: 'string' },
    runner: { type: 'string' },
    result: resultSchema,
    error: failureSchema,
    refusals: REFUSALS,
    job: { type: 'object', description: 'the signed envelope, with includeJob' },
  },
} as const

const byId = {
  type: 'object',
  properties: { jobId: JOB_ID },
  required: ['jobId'],
  additionalProperties: false,
} as const

const cancelParams = {
  ...byId,
  properties: { ...byId.properties, release: { type: 'boolean' } },
} as const

/** One job of a `create_jobs` answer: its status, or why it was refused (the `create_job` error). */
export type CreateJobsItem = { ok: true; job: JobStatusView } | { ok: false; error: WireError }

const createErrors = [REJECTED, CONFLICT, NO_RUNNER, NOT_RUNNING]
const createErrorsByName = new Map(createErrors.map((e) => [e.name, e]))

/** What `create_job` does with one envelope; `create_jobs` does it for each. */
async function createOne(
  service: SupervisorService,
  job: JobEnvelope,
  waitForRunner: boolean | undefined,
  ctx: CallContext,
): Promise<JobStatusView> {
  // Whoever holds the envelope may hand it in (a relay); its answer tells nothing the envelope
  // does not. An HTTP caller's gateway grant may not cover the job's capability.
  if (typeof job.runner === 'string') assertGrantCovers(ctx.caller, [job.runner])
  // `job` is fresh from JSON.parse of the request frame (or HTTP body) and nothing else holds it.
  return statusView(
    await service.submit(job, 'rpc', {
      waitForRunner: waitForRunner === true,
      traceparent: ctx.traceparent,
      owned: true,
    }),
  )
}

export function supervisorMethods(service: SupervisorService): AnyMethodDefinition[] {
  return [
    defineMethod<{ job: JobEnvelope; waitForRunner?: boolean }, JobStatusView>({
      name: 'supervisor.create_job',
      summary: 'Submit a signed job; answered once it is verified and persisted.',
      description:
        'Idempotent by job id: the same job again answers its existing record. The job runs on a runner of its capability as soon as one has a free slot. A job for a capability no live runner offers is refused at once (NoRunnerError, `no_runner`) unless `waitForRunner` is true: then it is queued until a runner appears or it expires.',
      role: 'supervisor',
      params: {
        type: 'object',
        properties: {
          job: { type: 'object', description: 'a signed job envelope' },
          waitForRunner: {
            type: 'boolean',
            default: false,
            description: 'queue the job even when no live runner offers its capability yet',
          },
        },
        required: ['job'],
        additionalProperties: false,
      },
      result: statusViewSchema,
      resultName: 'job status',
      errors: createErrors,
      handler: ({ job, waitForRunner }, ctx) => createOne(service, job, waitForRunner, ctx),
    }),
    defineMethod<{ jobs: JobEnvelope[]; waitForRunner?: boolean }, { results: CreateJobsItem[] }>({
      name: 'supervisor.create_jobs',
      summary: `Submit up to ${MAX_JOBS_PER_BATCH} signed jobs in one call; each is verified, persisted and answered on its own.`,
      description:
        'The batch form of `create_job` (the SDK sends concurrent `createJob` calls this way). `results[i]` answers `jobs[i]`: `{ ok: true, job }` with its status once it is persisted, or `{ ok: false, error }` with the JSON-RPC error `create_job` would have answered for it alone (a forged job is refused with its reason; the others proceed). Idempotent by job id, like `create_job`.',
      role: 'supervisor',
      params: {
        type: 'object',
        properties: {
          jobs: envelopeBatchSchema(MAX_JOBS_PER_BATCH),
          waitForRunner: {
            type: 'boolean',
            default: false,
            description: 'queue the jobs even when no live runner offers their capability yet',
          },
        },
        required: ['jobs'],
        additionalProperties: false,
      },
      result: {
        type: 'object',
        required: ['results'],
        properties: {
          results: {
            type: 'array',
            items: {
              type: 'object',
              required: ['ok'],
              properties: {
                ok: { type: 'boolean' },
                job: statusViewSchema,
                error: {
                  type: 'object',
                  required: ['code', 'message'],
                  properties: { code: { type: 'integer' }, message: { type: 'string' }, data: {} },
                },
              },
            },
          },
        },
      },
      resultName: 'job statuses',
      errors: [NOT_RUNNING],
      handler: async ({ jobs, waitForRunner }, ctx) => {
        const settled = await Promise.allSettled(
          jobs.map((job) => createOne(service, job, waitForRunner, ctx)),
        )
        return {
          results: settled.map(
            (outcome): CreateJobsItem =>
              outcome.status === 'fulfilled'
                ? { ok: true, job: outcome.value }
                : { ok: false, error: toWireError(outcome.reason, createErrorsByName) },
          ),
        }
      },
    }),
    defineMethod<{ jobId: string }, JobStatusView>({
      name: 'supervisor.get_job_status',
      summary: 'Where a job is: status, reason, runner.',
      role: 'supervisor',
      params: byId,
      result: statusViewSchema,
      resultName: 'job status',
      errors: [NOT_FOUND, NOT_RUNNING],
      handler: ({ jobId }, { caller }) => {
        service.recordFor(jobId, caller)
        return statusView(service.status(jobId))
      },
    }),
    defineMethod<
      { jobId: string; wait?: boolean; timeoutMs?: number; includeJob?: boolean; reserve?: boolean },
      JobResultView
    >({
      name: 'supervisor.get_job_result',
      summary: "A job's signed result; with `wait`, holds the call until the job ends or `timeoutMs` passes.",
      description:
        'Without `result`/`error` the job is not finished yet (a wait that timed out answers the current status).',
      role: 'supervisor',
      params: {
        type: 'object',
        properties: {
          jobId: JOB_ID,
          wait: { type: 'boolean', default: false },
          timeoutMs: { type: 'integer', minimum: 1, maximum: MAX_RESULT_WAIT_MS },
          includeJob: {
            type: 'boolean',
            default: false,
            description:
              'also answer the signed envelope, so the caller can check what the result is bound to',
          },
          reserve: {
            type: 'boolean',
            default: false,
            description:
              'a coordinator taking a workflow step over: when this supervisor does not have the job, hold its id for the caller — refuse (JobIdConflictError) an envelope of that id from any other submitter until the job could no longer be alive',
          },
        },
        required: ['jobId'],
        additionalProperties: false,
      },
      result: resultViewSchema,
      resultName: 'job result',
      errors: [NOT_FOUND, NOT_RUNNING],
      timeoutMs: MAX_RESULT_WAIT_MS + 5_000,
      handler: async ({ jobId, wait, timeoutMs, includeJob, reserve }, { signal, caller }) => {
        if (reserve === true && service.findRecord(jobId) === undefined) service.reserveFor(jobId, caller)
        const { job } = service.recordFor(jobId, caller)
        const withJob = (view: JobResultView): JobResultView =>
          includeJob === true ? { ...view, job } : view
        if (wait !== true) return withJob(resultView(service.status(jobId)))
        const waited = await boundedCall(signal, timeoutMs ?? DEFAULT_RESULT_WAIT_MS, (bounded) =>
          service.waitForResult(jobId, bounded),
        )
        return withJob(resultView(waited))
      },
    }),
    defineMethod<{ jobId: string }, string[]>({
      name: 'supervisor.get_job_logs',
      summary: 'Log lines a job printed (as far as they arrived, while it runs).',
      role: 'supervisor',
      params: byId,
      result: { type: 'array', items: { type: 'string' } },
      resultName: 'log lines',
      errors: [NOT_FOUND, NOT_RUNNING],
      handler: ({ jobId }, { caller }) => {
        service.recordFor(jobId, caller)
        return service.logs(jobId)
      },
    }),
    defineMethod<{ jobId: string; release?: boolean }, JobStatusView>({
      name: 'supervisor.cancel_job',
      summary:
        'Cancel a job; a runner executing it is told to stop. With release (a coordinator that moved the job elsewhere), a runner another supervisor also sent it to only stops answering this one.',
      role: 'supervisor',
      params: cancelParams,
      result: statusViewSchema,
      resultName: 'job status',
      errors: [NOT_FOUND, NOT_RUNNING],
      handler: async ({ jobId, release }, { caller }) => {
        service.recordFor(jobId, caller)
        return statusView(await service.cancel(jobId, { release: release === true }))
      },
    }),
    defineMethod<{ status?: SupervisorJobStatus; limit?: number }, JobStatusView[]>({
      name: 'supervisor.list_jobs',
      summary:
        'Jobs on this supervisor the caller may see, newest first, optionally only those in one status.',
      role: 'supervisor',
      params: {
        type: 'object',
        properties: {
          status: STATUS,
          limit: { type: 'integer', minimum: 1, maximum: 100_000, default: DEFAULT_LIST_LIMIT },
        },
        additionalProperties: false,
      },
      result: { type: 'array', items: statusViewSchema },
      resultName: 'jobs',
      handler: ({ status, limit }, { caller }) => {
        service.assertRunning()
        return service
          .list(status)
          .filter((record) => service.mayAccess(caller, record.job))
          .sort((a, b) => b.acceptedAt - a.acceptedAt)
          .slice(0, limit ?? DEFAULT_LIST_LIMIT)
          .map((record) => statusView(service.status(record.job.id)))
      },
    }),
    defineMethod<Record<string, never>, RunnerView[]>({
      name: 'supervisor.list_runners',
      summary: 'Runners this supervisor can dispatch to, with their capabilities and load.',
      role: 'supervisor',
      params: { type: 'object', properties: {}, additionalProperties: false },
      result: {
        type: 'array',
        items: {
          type: 'object',
          required: [
            'peerId',
            'source',
            'capabilities',
            'capacity',
            'running',
            'inFlight',
            'limit',
            'lastSeen',
          ],
          properties: {
            peerId: { type: 'string' },
            source: { type: 'string', enum: ['local', 'liveness', 'dht'] },
            capabilities: { type: 'array', items: { type: 'string' } },
            capacity: { type: 'integer' },
            running: { type: 'integer' },
            inFlight: { type: 'integer' },
            limit: { type: 'integer' },
            lastSeen: { type: 'integer' },
          },
        },
      },
      resultName: 'runners',
      handler: () => service.runners(),
    }),
    defineMethod<{ capability: string }, { capability: string; recipients: SecretRecipient[] }>({
      name: 'supervisor.secret_recipients',
      summary:
        'The runner keys this node trusts for a capability: whom a client seals a job’s secrets to (a job with secrets runs only on one of them).',
      role: 'supervisor',
      params: {
        type: 'object',
        properties: { capability: { type: 'string', pattern: CAPABILITY_PATTERN.source } },
        required: ['capability'],
        additionalProperties: false,
      },
      result: {
        type: 'object',
        required: ['capability', 'recipients'],
        properties: {
          capability: { type: 'string' },
          recipients: { type: 'array', items: secretRecipientSchema },
        },
      },
      resultName: 'recipients',
      handler: ({ capability }) => ({ capability, recipients: service.secretRecipients(capability) }),
    }),
  ] as unknown as AnyMethodDefinition[]
}

export function supervisorSubscriptions(service: SupervisorService): AnySubscriptionDefinition[] {
  return [
    defineSubscription<{ jobId?: string }, JobEvent>({
      name: 'supervisor.job_events',
      summary:
        'Every status change of every job the caller may see (or of one job), so callers learn completions without polling.',
      role: 'supervisor',
      params: {
        type: 'object',
        properties: { jobId: JOB_ID },
        additionalProperties: false,
      },
      // An event is the job's get_job_result answer at that moment (see eventOf).
      event: resultViewSchema,
      subscribe: ({ jobId }, ctx) => {
        const listener = (evt: CustomEvent<JobEvent>): void => {
          if (jobId !== undefined && evt.detail.jobId !== jobId) return
          const record = service.findRecord(evt.detail.jobId)
          if (record === undefined || !service.mayAccess(ctx.caller, record.job)) return
          ctx.notify(evt.detail).catch(() => {})
        }
        service.addEventListener('job:status', listener)
        return () => service.removeEventListener('job:status', listener)
      },
    }),
    defineSubscription<Record<string, never>, JobOutcomes>({
      name: 'supervisor.job_outcomes',
      summary:
        'The outcome of each job the caller itself submitted, once it is terminal and persisted; the outcomes of one moment travel together.',
      description:
        "What `get_job_result` with `wait` answers, for all of the caller's jobs on one stream: `events` holds each job's get_job_result answer (with its signed result), sent once, after its terminal status is on disk. Only jobs whose submitter key is the caller's own (the key its connection authenticated) are sent — not those an admin or coordinator may otherwise read. Jobs that ended before the subscription was set up are not sent: ask `get_job_result` for those. The SDK's `waitForJob` uses it.",
      role: 'supervisor',
      params: { type: 'object', properties: {}, additionalProperties: false },
      event: {
        type: 'object',
        required: ['events'],
        properties: { events: { type: 'array', items: resultViewSchema } },
      },
      subscribe: (_params, ctx) => {
        const key = ctx.caller.publicKeyHex
        if (key === undefined) {
          throw new UnsupportedError(
            'supervisor.job_outcomes needs a caller authenticated by its key (a libp2p session)',
          )
        }
        const batch = new TurnBatch<JobResultView>({
          maxItems: MAX_OUTCOMES_PER_EVENT,
          // The signed result's size was learnt when it was verified: not serialised again here.
          sizeOf: (view) => jsonSizeWith(view, 'result', resultJsonSize),
          send: (events) => {
            ctx.notify({ events }).catch(() => {})
          },
        })
        const listener = (evt: CustomEvent<JobOutcome>): void => {
          if (evt.detail.submitter === key) batch.push(evt.detail.view)
        }
        service.addEventListener('job:outcome', listener)
        return () => {
          service.removeEventListener('job:outcome', listener)
          batch.clear()
        }
      },
    }),
  ] as unknown as AnySubscriptionDefinition[]
}
