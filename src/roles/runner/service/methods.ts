/**
 * The runner's RPC surface: `runner.describe`, `runner.execute`, `runner.cancel` and the
 * subscription `runner.logs`. Callers need the trust role supervisor (src/node/rpc-access.ts).
 */
import type { JobEnvelope } from '../../../protocols/jobs/index.js'
import {
  type AnyMethodDefinition,
  type AnySubscriptionDefinition,
  defineMethod,
  defineSubscription,
  type ErrorSpec,
} from '../../../protocols/rpc/index.js'
import { EXECUTE_CALL_TIMEOUT_MS } from './constants.js'
import type { RunnerService } from './runner-service.js'
import {
  type ExecuteResponse,
  executeResponseSchema,
  type RunnerDescription,
  type RunnerJobEvent,
  runnerDescriptionSchema,
  runnerJobEventSchema,
} from './wire.js'

const ERRORS: ErrorSpec[] = [
  { name: 'JobRejectedError', code: -32030, message: 'the job failed verification (reason in the message)' },
  { name: 'UnknownKindError', code: -32031, message: 'this runner does not serve the job’s capability' },
  { name: 'RunnerBusyError', code: -32032, message: 'the runner’s queue is full; retry later or elsewhere' },
  {
    name: 'RunnerStoppingError',
    code: -32033,
    message: 'the runner is stopping; the job did not finish here',
  },
  {
    name: 'InvalidJobError',
    code: -32034,
    message: 'the job cannot be executed as given (e.g. timeout too long)',
  },
  { name: 'ExecutorNotRunningError', code: -32035, message: 'the executor is not running' },
  {
    name: 'SecretNotRecipientError',
    code: -32036,
    message: 'the job carries secrets not sealed to this runner; only their recipients can run it',
  },
  { name: 'SecretOpenError', code: -32037, message: 'a secret of the job does not decrypt here' },
]

const JOB_ID = { type: 'string', minLength: 1, maxLength: 512 } as const

export function runnerMethods(service: RunnerService): AnyMethodDefinition[] {
  return [
    defineMethod<Record<string, never>, RunnerDescription>({
      name: 'runner.describe',
      summary: 'Capabilities, registered functions, concurrency and current load of this runner.',
      role: 'runner',
      params: { type: 'object', properties: {}, additionalProperties: false },
      result: runnerDescriptionSchema,
      resultName: 'runner',
      handler: () => service.describe(),
    }),
    defineMethod<{ job: JobEnvelope }, ExecuteResponse>({
      name: 'runner.execute',
      summary: 'Verify and execute a job; answers with the result signed by this runner and its logs.',
      description:
        'At most once per job id: the same job again answers its (running or finished) execution with `replayed: true`. The execution does not depend on the call: a caller that goes away can dispatch again and be re-attached. Log lines stream on `runner.logs`.',
      role: 'runner',
      params: {
        type: 'object',
        properties: { job: { type: 'object', description: 'a signed job envelope' } },
        required: ['job'],
        additionalProperties: false,
      },
      result: executeResponseSchema,
      resultName: 'execution',
      errors: ERRORS,
      timeoutMs: EXECUTE_CALL_TIMEOUT_MS,
      handler: ({ job }, { caller, traceparent }) =>
        service.execute(job, { dispatcher: caller.peerId ?? caller.remoteAddress ?? 'http', traceparent }),
    }),
    defineMethod<{ jobId: string }, boolean>({
      name: 'runner.cancel',
      summary: 'Cancel a queued or running job; false when it is not running here.',
      role: 'runner',
      params: {
        type: 'object',
        properties: { jobId: JOB_ID },
        required: ['jobId'],
        additionalProperties: false,
      },
      result: { type: 'boolean' },
      resultName: 'cancelled',
      handler: ({ jobId }) => service.cancel(jobId),
    }),
  ] as unknown as AnyMethodDefinition[]
}

export function runnerSubscriptions(service: RunnerService): AnySubscriptionDefinition[] {
  return [
    defineSubscription<{ jobId?: string }, RunnerJobEvent>({
      name: 'runner.logs',
      summary: 'Start and log-line events of one job, or (without jobId) of every job the caller dispatched.',
      role: 'runner',
      params: { type: 'object', properties: { jobId: JOB_ID }, additionalProperties: false },
      event: runnerJobEventSchema,
      subscribe: ({ jobId }, ctx) => {
        const filter =
          jobId === undefined
            ? { dispatcher: ctx.caller.peerId ?? ctx.caller.remoteAddress ?? 'http' }
            : { jobId }
        return service.watch(filter, (event) => {
          ctx.notify(event).catch(() => {})
        })
      },
    }),
  ] as unknown as AnySubscriptionDefinition[]
}
