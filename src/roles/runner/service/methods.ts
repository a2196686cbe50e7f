/**
 * The runner's RPC surface: `runner.describe`, `runner.execute`, `runner.cancel` and the
 * subscription `runner.logs`. Callers need the trust role supervisor (src/node/rpc-access.ts).
 */
import { envelopeBatchSchema, type JobEnvelope } from '../../../protocols/jobs/index.js'
import {
  type AnyMethodDefinition,
  type AnySubscriptionDefinition,
  defineMethod,
  defineSubscription,
} from '../../../protocols/rpc/index.js'
import { EXECUTE_CALL_TIMEOUT_MS, MAX_EXECUTE_BATCH } from './constants.js'
import { RUNNER_ERROR_SPECS } from './error-specs.js'
import type { RunnerService } from './runner-service.js'
import {
  type ExecuteManyItem,
  type ExecuteResponse,
  executeManyItemSchema,
  executeResponseSchema,
  type RunnerDescription,
  type RunnerStreamEvent,
  runnerDescriptionSchema,
  runnerJobEventSchema,
} from './wire.js'

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
      errors: RUNNER_ERROR_SPECS,
      timeoutMs: EXECUTE_CALL_TIMEOUT_MS,
      // `job` is fresh from JSON.parse of the request frame (or HTTP body) and nothing else holds it.
      handler: ({ job }, { caller, traceparent }) =>
        service.execute(job, {
          dispatcher: dispatcherOf(caller),
          owned: true,
          traceparent,
        }),
    }),
    defineMethod<{ jobs: JobEnvelope[] }, { accepted: ExecuteManyItem[] }>({
      name: 'runner.execute_many',
      summary: `Verify and start up to ${MAX_EXECUTE_BATCH} jobs in one call; each is answered on its own, its execution later on \`runner.logs\`.`,
      description:
        "The batch form of `runner.execute`, for a supervisor handing over the jobs it picked at once. `accepted[i]` answers `jobs[i]` as soon as it is verified and started: `{ ok: true }`, or `{ ok: false, error }` with the error `runner.execute` would have answered for it alone (a forged job is refused alone, with its reason). Each accepted job's execution — the signed result and logs `runner.execute` answers, or its error — comes on the caller's `runner.logs` subscription (without `jobId`) in a `results` event; those of one moment travel together. Subscribe first: an execution finished while the caller had no subscription is answered again (`replayed`) when the job is sent again.",
      role: 'runner',
      params: {
        type: 'object',
        properties: {
          jobs: envelopeBatchSchema(MAX_EXECUTE_BATCH),
        },
        required: ['jobs'],
        additionalProperties: false,
      },
      result: {
        type: 'object',
        required: ['accepted'],
        properties: { accepted: { type: 'array', items: executeManyItemSchema } },
      },
      resultName: 'acceptances',
      handler: ({ jobs }, { caller }) =>
        service.executeMany(jobs, dispatcherOf(caller), { owned: true }).then((accepted) => ({ accepted })),
    }),
    defineMethod<{ jobId: string; release?: boolean }, boolean>({
      name: 'runner.cancel',
      summary:
        'Cancel a queued or running job the caller dispatched; false when it is not running here for the caller. With release, only stop following it while another supervisor that sent it does.',
      role: 'runner',
      params: {
        type: 'object',
        properties: { jobId: JOB_ID, release: { type: 'boolean' } },
        required: ['jobId'],
        additionalProperties: false,
      },
      result: { type: 'boolean' },
      resultName: 'cancelled',
      handler: ({ jobId, release }, { caller }) =>
        service.cancel(jobId, dispatcherOf(caller), { release: release === true }),
    }),
  ] as unknown as AnyMethodDefinition[]
}

export function runnerSubscriptions(service: RunnerService): AnySubscriptionDefinition[] {
  return [
    defineSubscription<{ jobId?: string }, RunnerStreamEvent>({
      name: 'runner.logs',
      summary:
        'Start and log-line events of one job, or (without jobId) of every job the caller dispatched: log lines one by one, and the starts and the executions of its execute_many jobs of one moment together (`results`).',
      role: 'runner',
      params: { type: 'object', properties: { jobId: JOB_ID }, additionalProperties: false },
      event: runnerJobEventSchema,
      subscribe: ({ jobId }, ctx) => {
        const notify = (event: RunnerStreamEvent): void => {
          ctx.notify(event).catch(() => {})
        }
        if (jobId !== undefined) return service.watch({ jobId }, notify)
        const dispatcher = dispatcherOf(ctx.caller)
        // Starts and executions of one turn go out as one `results` event; log lines one by one.
        return service.watchDispatcher(dispatcher, notify, ({ started, results }) =>
          notify({ type: 'results', results, ...(started.length === 0 ? {} : { started }), at: Date.now() }),
        )
      },
    }),
  ] as unknown as AnySubscriptionDefinition[]
}

/** Who a caller is to the runner: whose jobs its streams carry and who may cancel them. */
function dispatcherOf(caller: { peerId?: string | undefined; remoteAddress?: string | undefined }): string {
  return caller.peerId ?? caller.remoteAddress ?? 'http'
}
