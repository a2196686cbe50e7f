/** Cron and HTTP triggers that start workflow runs; see trigger-service.ts and fire-once.ts. */
export {
  readTriggerDefinition,
  TRIGGER_NAME_PATTERN,
  type TriggerDefinition,
  type TriggerKind,
} from './definition.js'
export { cronRunId, rendezvousWinner } from './fire-once.js'
export { TriggerService, type TriggerServiceInit } from './trigger-service.js'
