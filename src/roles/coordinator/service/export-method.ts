/**
 * `coordinator.export_run`: the run's provenance bundle, from any coordinator holding the run,
 * under the run's access rule (its submitter or an admin; audited as `export`).
 */
import { type AnyMethodDefinition, defineMethod } from '../../../protocols/rpc/index.js'
import { type RunBundle, runBundleSchema } from '../provenance/index.js'
import type { CoordinatorService } from './coordinator-service.js'
import { COORDINATOR_ERROR_SPECS, toRpcError } from './errors.js'

const EXPORT_ERRORS = ['RunNotFoundError', 'RunAccessDeniedError', 'RunNotExportableError']

export function exportRunMethod(service: CoordinatorService): AnyMethodDefinition {
  return defineMethod<{ runId: string }, RunBundle>({
    name: 'coordinator.export_run',
    summary:
      "The run's provenance bundle: its signed submission, every step attempt's signed job and result, the DAG and the policy entries of their signers.",
    description:
      'Check it offline with `verifyRunBundle` (SDK) or `horus workflow verify`. Outputs are as recorded in the run; see API.md "Provenance bundle".',
    role: 'coordinator',
    params: {
      type: 'object',
      properties: { runId: { type: 'string', minLength: 1, maxLength: 128 } },
      required: ['runId'],
      additionalProperties: false,
    },
    result: {
      type: 'object',
      title: runBundleSchema.title,
      required: [...runBundleSchema.required],
      properties: { format: runBundleSchema.properties.format, runId: { type: 'string' } },
    },
    resultName: 'bundle',
    errors: COORDINATOR_ERROR_SPECS.filter((spec) => EXPORT_ERRORS.includes(spec.name)),
    handler: async ({ runId }, { signal, caller }) => {
      try {
        return await service.exportRun(runId, signal, caller)
      } catch (err) {
        throw toRpcError(err)
      }
    },
  }) as unknown as AnyMethodDefinition
}
