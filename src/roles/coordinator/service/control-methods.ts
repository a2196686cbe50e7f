/**
 * The API of issue-13 workflows (../API.md): rerunning a finished run, delivering a signal, and
 * paging through a `for_each` step's children. Registered beside coordinatorMethods (methods.ts).
 */
import { type AnyMethodDefinition, defineMethod } from '../../../protocols/rpc/index.js'
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
          'Succeeded steps keep their outputs; the run goes back to running and its log keeps the earlier attempts.',
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
        errors: errors('RunNotFoundError', 'RunNotFinishedError', 'NothingToRetryError', 'UnknownStepError'),
        handler: ({ runId, steps }, { signal }) => service.retry(runId, steps, signal),
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
          'RunFinishedError',
          'UnknownSignalError',
          'SignalAlreadyDeliveredError',
          'SignalDataInvalidError',
        ),
        handler: ({ runId, name, data }, { signal }) => service.signal(runId, name, data, signal),
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
        errors: errors('RunNotFoundError', 'UnknownStepError', 'StepNotMappedError'),
        handler: ({ runId, stepId, offset, limit }, { signal }) =>
          service.stepItems(
            runId,
            stepId,
            { ...(offset === undefined ? {} : { offset }), ...(limit === undefined ? {} : { limit }) },
            signal,
          ),
      }),
    ),
  ] as unknown as AnyMethodDefinition[]
}
