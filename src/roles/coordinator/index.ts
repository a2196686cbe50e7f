/**
 * The coordinator role: DAG workflows (`workflow/`), pure scheduling over the replicated run state
 * (`scheduling/`), the service that drives runs through supervisors and serves ./API.md
 * (`service/`), and triggers (`triggers/`).
 */
export * from './service/index.js'
export { readTriggerDefinition, type TriggerDefinition, type TriggerKind } from './triggers/definition.js'
export { cronRunId } from './triggers/fire-once.js'
