/**
 * The coordinator's RPC surface, exactly as ../API.md states it (callers need trust role client,
 * coordinator or admin; see src/node/rpc-access.ts). Workflow errors carry their `issues` to the
 * client. Every method passes its caller on: a run is read and controlled only by its submitter or
 * an admin (run-access.ts).
 */
import type { MonitorEvent } from '../../../protocols/events/index.js'
import {
  jobSecretsSchema,
  type SealedSecret,
  secretRecipientSchema,
  submissionSchema,
  triggerRegistrationSchema,
} from '../../../protocols/jobs/index.js'
import {
  type AnyMethodDefinition,
  type AnySubscriptionDefinition,
  assertGrantCovers,
  type Caller,
  defineMethod,
  defineSubscription,
  InvalidParamsError,
  type MethodDefinition,
} from '../../../protocols/rpc/index.js'
import type { RunStatus } from '../scheduling/index.js'
import { readTriggerDefinition } from '../triggers/definition.js'
import * as schema from './api-schemas.js'
import { RUN_STATUSES } from './api-schemas.js'
import { DEFAULT_WAIT_MS, MAX_WAIT_MS } from './constants.js'
import type { CoordinatorService } from './coordinator-service.js'
import { COORDINATOR_ERROR_SPECS, TriggerInvalidError, toRpcError } from './errors.js'
import { isForwarded } from './forwarding.js'
import type { SecretUse } from './run-secrets.js'

export const errors = (...names: string[]) =>
  COORDINATOR_ERROR_SPECS.filter((spec) => names.includes(spec.name))
export const RUN_ID = { type: 'string', minLength: 1, maxLength: 128 } as const
const WORKFLOW = {
  type: ['object', 'string'],
  description: 'the workflow document or its YAML/JSON text',
} as const
const SECRET_USE = {
  type: 'object',
  required: ['name', 'steps', 'capabilities', 'recipients'],
  properties: {
    name: { type: 'string' },
    steps: { type: 'array', items: { type: 'string' } },
    capabilities: { type: 'array', items: { type: 'string' } },
    recipients: { type: 'array', items: secretRecipientSchema },
  },
} as const
const byRun = {
  type: 'object',
  properties: { runId: RUN_ID },
  required: ['runId'],
  additionalProperties: false,
} as const

/** Runs the handler, turning coordinator errors into their wire form. */
export function guarded<P, R>(def: MethodDefinition<P, R>): MethodDefinition<P, R> {
  const handler = def.handler.bind(def)
  return {
    ...def,
    handler: async (params, ctx) => {
      try {
        return await handler(params, ctx)
      } catch (err) {
        throw toRpcError(err)
      }
    },
  }
}

export function coordinatorMethods(service: CoordinatorService): AnyMethodDefinition[] {
  const RUN_ERRORS = errors('RunNotFoundError', 'RunExpiredError', 'RunAccessDeniedError')
  const CONTROL_ERRORS = errors(
    'RunNotFoundError',
    'RunExpiredError',
    'RunFinishedError',
    'RunAccessDeniedError',
  )
  const SIGNED_ERRORS = ['SubmissionRejectedError', 'CapabilityDeniedError'] as const
  return [
    guarded(
      defineMethod<
        {
          workflow: unknown
          inputs?: Record<string, unknown>
          secrets?: Record<string, SealedSecret>
          submission?: unknown
          runId?: string
        },
        { runId: string }
      >({
        name: 'coordinator.submit_workflow',
        summary: 'Validate a workflow (object, or YAML/JSON text) and start a run of it.',
        description:
          "libp2p callers send `submission`, signed by their key over the digests of `workflow` (as parsed) and `inputs`; its `runId` is the run's and makes the call idempotent. Gateway callers act as the node, which signs; they may choose the run's id with `runId` (the same id, workflow and inputs again answer the same run). secrets: the sealed value of every secret the steps name (see coordinator.secret_recipients); the run keeps only these sealed forms.",
        role: 'coordinator',
        params: {
          type: 'object',
          properties: {
            workflow: WORKFLOW,
            inputs: { type: 'object' },
            secrets: jobSecretsSchema,
            submission: submissionSchema,
            runId: {
              type: 'string',
              minLength: 1,
              maxLength: 128,
              description:
                'the run id, for callers without a submission of their own (the node signs one with it); the same id, workflow and inputs again answer the same run. With a submission it must equal submission.runId',
            },
          },
          required: ['workflow'],
          additionalProperties: false,
        },
        result: { type: 'object', required: ['runId'], properties: { runId: { type: 'string' } } },
        resultName: 'run',
        errors: errors(
          'WorkflowValidationError',
          'WorkflowParseError',
          'WorkflowInputError',
          'RunExistsError',
          ...SIGNED_ERRORS,
        ),
        handler: async ({ workflow, inputs, secrets, submission, runId: chosen }, { caller }) => {
          // An HTTP caller's gateway grant must cover every capability the run would use.
          if (caller.grant !== undefined) assertGrantCovers(caller, service.capabilitiesOf(workflow))
          const runId = await service.submit(workflow, inputs ?? {}, {
            caller,
            ...(submission === undefined ? {} : { submission }),
            ...(chosen === undefined ? {} : { runId: chosen }),
            ...(secrets === undefined ? {} : { secrets }),
          })
          return { runId }
        },
      }),
    ),
    guarded(
      defineMethod<{ workflow: unknown }, { secrets: SecretUse[] }>({
        name: 'coordinator.secret_recipients',
        summary:
          'The secrets a workflow’s steps name, each with the runner keys this node trusts for those steps’ capabilities: whom a client seals each value to.',
        role: 'coordinator',
        params: {
          type: 'object',
          properties: { workflow: WORKFLOW },
          required: ['workflow'],
          additionalProperties: false,
        },
        result: {
          type: 'object',
          required: ['secrets'],
          properties: { secrets: { type: 'array', items: SECRET_USE } },
        },
        resultName: 'recipients',
        errors: errors('WorkflowValidationError', 'WorkflowParseError'),
        handler: ({ workflow }) => ({ secrets: service.secretRecipients(workflow) }),
      }),
    ),
    guarded(
      defineMethod<{ runId: string }, unknown>({
        name: 'coordinator.get_workflow_status',
        summary: 'The run: status, owner, inputs, outputs and every step.',
        role: 'coordinator',
        params: byRun,
        result: schema.RUN_VIEW,
        resultName: 'run',
        errors: RUN_ERRORS,
        handler: ({ runId }, { signal, caller }) => service.status(runId, signal, caller),
      }),
    ),
    guarded(
      defineMethod<{ runId: string }, { runId: string; digest: string; owner?: string }>({
        name: 'coordinator.get_run_digest',
        summary: "The hash of this coordinator's replica of a run: replicas that converged have equal ones.",
        description:
          'Answers from the local replica only (no lookup at other coordinators); RunNotFoundError when this coordinator holds no replica.',
        role: 'coordinator',
        params: byRun,
        result: {
          type: 'object',
          required: ['runId', 'digest'],
          properties: { runId: RUN_ID, digest: { type: 'string' }, owner: { type: 'string' } },
        },
        resultName: 'digest',
        errors: RUN_ERRORS,
        handler: ({ runId }) => service.replicaDigest(runId),
      }),
    ),
    guarded(
      defineMethod<
        {
          status?: RunStatus
          limit?: number
          after?: string
          afterCreatedAt?: number
          query?: string
          scope?: 'mesh' | 'local'
        },
        unknown
      >({
        name: 'coordinator.list_workflows',
        summary:
          "Runs of the whole mesh, newest first, each once, optionally only those in one status: the caller's own, or all for an admin.",
        description:
          'Gathered from every live coordinator (each holds the runs of its replica sets); `after` pages through them in a stable order whichever coordinators hold them. `scope: local` answers from this coordinator alone.',
        role: 'coordinator',
        params: {
          type: 'object',
          properties: {
            status: { type: 'string', enum: RUN_STATUSES },
            limit: { type: 'integer', minimum: 1, maximum: 10_000 },
            after: {
              ...RUN_ID,
              description: 'the last run id of the previous page: the list goes on after it',
            },
            afterCreatedAt: {
              type: 'integer',
              minimum: 0,
              description:
                'with `after`: when that run was created (ms epoch), so a coordinator that does not hold it knows where the page starts',
            },
            query: {
              type: 'string',
              minLength: 1,
              maxLength: 128,
              description: 'keep runs whose workflow name or run id contains this (any case)',
            },
            scope: {
              type: 'string',
              enum: ['mesh', 'local'],
              description:
                "'mesh' (default): every live coordinator's runs; 'local': this coordinator's only",
            },
          },
          additionalProperties: false,
        },
        result: { type: 'array', items: schema.RUN_SUMMARY },
        resultName: 'runs',
        errors: errors('RunNotFoundError'),
        timeoutMs: 15_000,
        handler: ({ status, limit, after, afterCreatedAt, query, scope }, { caller, signal }) => {
          const page = {
            ...(after === undefined ? {} : { after }),
            ...(after === undefined || afterCreatedAt === undefined ? {} : { afterCreatedAt }),
            ...(query === undefined ? {} : { query }),
          }
          // A peer's part of a mesh-wide list is its own runs only.
          return scope === 'local' || isForwarded(caller)
            ? service.list(status, limit, caller, page)
            : service.listMesh(status, limit, caller, page, signal)
        },
      }),
    ),
    ...(
      [
        [
          'coordinator.cancel_workflow',
          'Cancel the run: nothing new starts, jobs in flight are cancelled.',
          'cancel',
        ],
        [
          'coordinator.pause_workflow',
          'Pause the run: nothing new is dispatched; steps in flight finish.',
          'pause',
        ],
        ['coordinator.resume_workflow', 'Resume a paused run.', 'resume'],
      ] as const
    ).map(([name, summary, op]) =>
      guarded(
        defineMethod<{ runId: string }, unknown>({
          name,
          summary,
          role: 'coordinator',
          params: byRun,
          result: schema.RUN_VIEW,
          resultName: 'run',
          errors: CONTROL_ERRORS,
          handler: ({ runId }, { signal, caller }) => service[op](runId, signal, caller),
        }),
      ),
    ),
    guarded(
      defineMethod<{ runId: string; stepId?: string }, unknown>({
        name: 'coordinator.get_workflow_logs',
        summary: "The run's events and its jobs' output lines (or one step's), oldest first.",
        role: 'coordinator',
        params: {
          type: 'object',
          properties: { runId: RUN_ID, stepId: { type: 'string', minLength: 1 } },
          required: ['runId'],
          additionalProperties: false,
        },
        result: { type: 'array', items: schema.LOG_LINE },
        resultName: 'log lines',
        errors: RUN_ERRORS,
        handler: ({ runId, stepId }, { signal, caller }) => service.logs(runId, stepId, signal, caller),
      }),
    ),
    guarded(
      defineMethod<{ runId: string; after?: string }, unknown>({
        name: 'coordinator.get_run_events',
        summary:
          "The run's monitor events after the one whose `id` is `after` (all of them without it), oldest first.",
        role: 'coordinator',
        params: {
          type: 'object',
          properties: { runId: RUN_ID, after: { type: 'string', maxLength: 256 } },
          required: ['runId'],
          additionalProperties: false,
        },
        result: { type: 'array', items: schema.MONITOR_EVENT },
        resultName: 'events',
        errors: RUN_ERRORS,
        handler: async ({ runId, after }, { signal, caller }) => {
          await service.authorizeEvents(runId, caller, signal)
          return service.runEvents(runId, after ?? '')
        },
      }),
    ),
    guarded(
      defineMethod<{ runId: string }, unknown>({
        name: 'coordinator.get_workflow_errors',
        summary: 'Every failed attempt of the run, oldest first.',
        role: 'coordinator',
        params: byRun,
        result: { type: 'array', items: schema.ERROR_RECORD },
        resultName: 'errors',
        errors: RUN_ERRORS,
        handler: ({ runId }, { signal, caller }) => service.errors(runId, signal, caller),
      }),
    ),
    guarded(
      defineMethod<{ runId: string }, unknown>({
        name: 'coordinator.get_workflow_metrics',
        summary: 'Run duration and per-step attempts, durations and queueing times.',
        role: 'coordinator',
        params: byRun,
        result: schema.METRICS,
        resultName: 'metrics',
        errors: RUN_ERRORS,
        handler: ({ runId }, { signal, caller }) => service.metrics(runId, signal, caller),
      }),
    ),
    guarded(
      defineMethod<{ runId: string }, unknown>({
        name: 'coordinator.pending_steps',
        summary: 'Steps not finished yet, with what each waits for.',
        role: 'coordinator',
        params: byRun,
        result: { type: 'array', items: schema.PENDING_STEP },
        resultName: 'steps',
        errors: RUN_ERRORS,
        handler: ({ runId }, { signal, caller }) => service.pending(runId, signal, caller),
      }),
    ),
    guarded(
      defineMethod<{ runId: string; timeoutMs?: number }, unknown>({
        name: 'coordinator.wait_for_completion',
        summary: 'Holds the call until the run is completed, failed or cancelled, or `timeoutMs` passes.',
        description: `Answers the run either way; check \`status\`. Default wait ${DEFAULT_WAIT_MS} ms.`,
        role: 'coordinator',
        params: {
          type: 'object',
          properties: { runId: RUN_ID, timeoutMs: { type: 'integer', minimum: 1, maximum: MAX_WAIT_MS } },
          required: ['runId'],
          additionalProperties: false,
        },
        result: schema.RUN_VIEW,
        resultName: 'run',
        errors: RUN_ERRORS,
        timeoutMs: MAX_WAIT_MS + 5_000,
        handler: ({ runId, timeoutMs }, { signal, caller }) =>
          service.waitForCompletion(runId, timeoutMs, signal, caller),
      }),
    ),
    guarded(
      defineMethod<Record<string, unknown>, { name: string }>({
        name: 'coordinator.register_trigger',
        summary:
          'Register (or replace) a cron or HTTP trigger that starts runs of a workflow; replicated to every coordinator.',
        role: 'coordinator',
        params: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            kind: { type: 'string', enum: ['cron', 'http'] },
            schedule: { type: 'string' },
            timezone: { type: 'string' },
            workflow: { type: ['object', 'string'] },
            inputs: { type: 'object' },
            secret: { type: 'string', minLength: 16, description: 'HTTP only: HMAC key of hook calls' },
            registration: triggerRegistrationSchema,
            overlap: { type: 'string', enum: ['skip', 'allow', 'cancel_previous'] },
            catch_up: { type: ['boolean', 'integer'] },
          },
          required: ['name', 'kind', 'workflow'],
          additionalProperties: false,
        },
        result: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
        resultName: 'trigger',
        errors: errors(
          'TriggerInvalidError',
          'WorkflowValidationError',
          'WorkflowParseError',
          'WorkflowInputError',
          ...SIGNED_ERRORS,
        ),
        handler: async (params, { caller }) => {
          const read = readTriggerDefinition(params, 'trigger')
          if (!read.ok) throw new TriggerInvalidError(read.issues.join('; '))
          return service.registerTrigger(read.trigger, caller)
        },
      }),
    ),
    defineMethod<Record<string, never>, unknown>({
      name: 'coordinator.list_triggers',
      summary:
        'Triggers this coordinator serves (registered ones, replicated, and its config’s), with when each last fired.',
      role: 'coordinator',
      params: { type: 'object', properties: {}, additionalProperties: false },
      result: { type: 'array', items: schema.TRIGGER_SUMMARY },
      resultName: 'triggers',
      handler: () => service.listTriggers(),
    }),
  ] as unknown as AnyMethodDefinition[]
}

export function coordinatorSubscriptions(service: CoordinatorService): AnySubscriptionDefinition[] {
  return [
    defineSubscription<{ runId?: string; after?: string }, MonitorEvent>({
      name: 'coordinator.events',
      summary: 'Monitor events as they happen: of one run, or of every run and node.',
      description:
        "With `runId` and `after`, the run's events after the one whose `id` is `after` come first (`after: ''`: from the run's first event), then live ones, with no gap and none twice.",
      role: 'coordinator',
      params: {
        type: 'object',
        properties: {
          runId: RUN_ID,
          after: {
            type: 'string',
            maxLength: 256,
            description: "replay the run's events after this event id ('' for all); needs runId",
          },
        },
        additionalProperties: false,
      },
      event: schema.MONITOR_EVENT,
      subscribe: async ({ runId, after }, ctx) => {
        if (after !== undefined && runId === undefined)
          throw new InvalidParamsError('invalid params: after needs runId (history is replayed per run)')
        if (runId !== undefined && service.forwardsRun(runId))
          return forwardedEvents(service, runId, after, ctx)
        let history: MonitorEvent[] = []
        try {
          await service.authorizeEvents(runId, ctx.caller, ctx.signal)
          if (runId !== undefined && after !== undefined) history = service.runEvents(runId, after)
        } catch (err) {
          throw toRpcError(err)
        }
        // Replayed and live events are taken in the same turn, so none falls between; an event
        // already in the log but not yet announced is replayed once, not sent again live.
        const replayed = new Set<string>()
        const listener = (evt: CustomEvent<MonitorEvent>): void => {
          if (runId !== undefined && evt.detail.runId !== runId) return
          if (runId === undefined && !service.mayReceive(evt.detail, ctx.caller)) return
          if (evt.detail.id !== undefined && replayed.delete(evt.detail.id)) return
          ctx.notify(evt.detail).catch(() => {})
        }
        service.addEventListener('monitor:event', listener)
        const unfollow = service.followPeerEvents()
        for (const event of history) {
          if (event.id !== undefined) replayed.add(event.id)
          ctx.notify(event).catch(() => {})
        }
        return () => {
          service.removeEventListener('monitor:event', listener)
          unfollow()
        }
      },
    }),
  ] as unknown as AnySubscriptionDefinition[]
}

/**
 * `coordinator.events` of a run held by other coordinators: a member authorizes the caller and
 * sends the history (forwarding.ts); live events arrive here on the events topic. Live events are
 * listened to before the history is asked for and held until it came, so none falls between;
 * topic events carry no `id`, so one already replayed is recognised by its content.
 */
async function forwardedEvents(
  service: CoordinatorService,
  runId: string,
  after: string | undefined,
  ctx: { caller: Caller; signal: AbortSignal; notify(event: MonitorEvent): Promise<void> },
): Promise<() => void> {
  let held: MonitorEvent[] | undefined = []
  const listener = (evt: CustomEvent<MonitorEvent>): void => {
    if (evt.detail.runId !== runId) return
    if (held !== undefined) held.push(evt.detail)
    else ctx.notify(evt.detail).catch(() => {})
  }
  service.addEventListener('monitor:event', listener)
  let history: MonitorEvent[]
  try {
    // '\u{10FFFF}' sorts after every event id: without `after`, authorization alone.
    const answer = await service.forward(
      runId,
      'coordinator.get_run_events',
      { runId, after: after ?? '\u{10FFFF}' },
      ctx.caller,
      ctx.signal,
    )
    history = Array.isArray(answer) ? (answer as MonitorEvent[]) : []
  } catch (err) {
    service.removeEventListener('monitor:event', listener)
    throw toRpcError(err)
  }
  const replayed = new Set(history.map(contentKey))
  for (const event of history) ctx.notify(event).catch(() => {})
  const live = held
  held = undefined
  for (const event of live) if (!replayed.has(contentKey(event))) ctx.notify(event).catch(() => {})
  return () => service.removeEventListener('monitor:event', listener)
}

/** An event without its log cursor: equal for a replayed event and its copy from the topic. */
function contentKey(event: MonitorEvent): string {
  const { id: _id, ...rest } = event
  return JSON.stringify(rest, Object.keys(rest).sort())
}
