/**
 * Controls of runs and triggers beyond submit/cancel/pause (../API.md): rerunning a finished run,
 * delivering a signal, paging through a `for_each` step's children, removing a trigger.
 * Registered beside coordinatorMethods (methods.ts); run-level authorization as for cancel.
 */
import { type AnyMethodDefinition, defineMethod } from '../../../protocols/rpc/index.js'
import { TRIGGER_NAME_PATTERN } from '../triggers/definition.js'
import { SIGNAL_NAME_PATTERN } from '../workflow/constants.js'
import * as schema from './api-schemas.js'
import type { CoordinatorService } from './coordinator-service.js'
import { errors, guarded, RUN_ID } from './methods.js'
import { MAX_ITEMS_PAGE } from './step-items.js'

const STEP_ID = { type: 'string', minLength: 1, maxLength: 256 } as const

export function controlMethods(service: CoordinatorService): AnyMethodDefinition[] {
  return [
    guarded(
      defineMethod<{ runId: string; steps?: string[] }, unknown>({
        name: 'coordinator.retry_workflow',
        summary:
          'Rerun a finished run: its failed, cancelled and skipped steps, or `steps` and what follows them.',
        description:
          "Succeeded steps keep their outputs; the run goes back to running and its log keeps the earlier attempts. Over the HTTP gateway, the gateway's grant must cover every capability the workflow's steps run on (CapabilityDeniedError), as for a submission.",
        role: 'coordinator',
        params: {
          type: 'object',
          properties: {
            runId: RUN_ID,
            steps: { type: 'array', minItems: 1, maxItems: 10_000, items: STEP_ID },
          },
          required: ['runId'],
          additionalProperties: false,
        },
        result: schema.RUN_VIEW,
        resultName: 'run',
        errors: errors(
          'RunNotFoundError',
          'RunAccessDeniedError',
          'CapabilityDeniedError',
          'RunNotFinishedError',
          'NothingToRetryError',
          'UnknownStepError',
        ),
        handler: ({ runId, steps }, { signal, caller }) => service.retry(runId, steps, signal, caller),
      }),
    ),
    guarded(
      defineMethod<{ runId: string; name: string; data?: unknown }, unknown>({
        name: 'coordinator.signal_workflow',
        summary:
          'Deliver a signal to a run: the step waiting for it (now or later) completes with `data` as output.',
        role: 'coordinator',
        params: {
          type: 'object',
          properties: {
            runId: RUN_ID,
            name: { type: 'string', pattern: SIGNAL_NAME_PATTERN.source },
            data: {},
          },
          required: ['runId', 'name'],
          additionalProperties: false,
        },
        result: schema.RUN_VIEW,
        resultName: 'run',
        errors: errors(
          'RunNotFoundError',
          'RunAccessDeniedError',
          'RunFinishedError',
          'UnknownSignalError',
          'SignalAlreadyDeliveredError',
          'SignalDataInvalidError',
        ),
        handler: ({ runId, name, data }, { signal, caller }) =>
          service.signal(runId, name, data, signal, caller),
      }),
    ),
    guarded(
      defineMethod<{ runId: string; stepId: string; offset?: number; limit?: number }, unknown>({
        name: 'coordinator.get_step_items',
        summary: "A page of a for_each step's children (`step[i]`), each a StepView.",
        role: 'coordinator',
        params: {
          type: 'object',
          properties: {
            runId: RUN_ID,
            stepId: STEP_ID,
            offset: { type: 'integer', minimum: 0 },
            limit: { type: 'integer', minimum: 1, maximum: MAX_ITEMS_PAGE },
          },
          required: ['runId', 'stepId'],
          additionalProperties: false,
        },
        result: schema.STEP_ITEMS,
        resultName: 'items',
        errors: errors('RunNotFoundError', 'RunAccessDeniedError', 'UnknownStepError', 'StepNotMappedError'),
        handler: ({ runId, stepId, offset, limit }, { signal, caller }) =>
          service.stepItems(
            runId,
            stepId,
            { ...(offset === undefined ? {} : { offset }), ...(limit === undefined ? {} : { limit }) },
            signal,
            caller,
          ),
      }),
    ),
    guarded(
      defineMethod<{ name: string }, { name: string }>({
        name: 'coordinator.remove_trigger',
        summary: 'Remove a registered trigger from every coordinator (its registrant or an admin).',
        role: 'coordinator',
        params: {
          type: 'object',
          properties: { name: { type: 'string', pattern: TRIGGER_NAME_PATTERN.source } },
          required: ['name'],
          additionalProperties: false,
        },
        result: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
        resultName: 'trigger',
        errors: errors('TriggerNotFoundError', 'TriggerAccessDeniedError', 'TriggerInvalidError'),
        handler: ({ name }, { caller }) => service.removeTrigger(name, caller),
      }),
    ),
  ] as unknown as AnyMethodDefinition[]
}
