/**
 * The coordinator service: the API of ../API.md over the node's RPC registry, runs driven through
 * supervisors, run state replicated among coordinators (gossip + anti-entropy), monitor events,
 * triggers. See coordinator-service.ts for the wiring and run-engine.ts for the engine.
 *
 * ```ts
 * const coordinator = createCoordinator(node, { localSupervisor })
 * await coordinator.start()
 * const runId = await coordinator.submit(yamlText, { url })
 * const run = await coordinator.waitForCompletion(runId, 60_000)
 * ```
 */
import {
  type CoordinatorComponents,
  type CoordinatorOptions,
  CoordinatorService,
} from './coordinator-service.js'

export type { SubmitOptions } from './admission.js'
export type * from './api-types.js'
export { type CoordinatorConfig, readCoordinatorConfig } from './config.js'
export * from './constants.js'
export {
  type CoordinatorComponents,
  type CoordinatorEvents,
  type CoordinatorOptions,
  CoordinatorService,
  type CoordinatorStats,
} from './coordinator-service.js'
export {
  CapabilityDeniedError,
  COORDINATOR_ERROR_SPECS,
  CoordinatorNotRunningError,
  RunAccessDeniedError,
  RunExistsError,
  RunExpiredError,
  RunFinishedError,
  RunNotFoundError,
  SubmissionRejectedError,
  type SubmissionRejectReason,
  TriggerInvalidError,
} from './errors.js'
export type { ResultStats } from './job-reports.js'
export { ADOPTION_REFUSALS, type AdoptionRefusal, type AdoptionStats, payloadText } from './job-tracker.js'
export { AUDIT_TYPE, runAuthority, runSubmitter } from './run-access.js'
export { type ExpiredRun, RunRetention } from './run-retention.js'

/** Creates the coordinator service of a node (a HorusNode is a CoordinatorComponents). */
export function createCoordinator(
  components: CoordinatorComponents,
  options: CoordinatorOptions = {},
): CoordinatorService {
  return new CoordinatorService(components, options)
}
