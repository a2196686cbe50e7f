/**
 * The runner role: executes verified jobs of the kinds it serves and signs their results.
 *
 * - Capabilities: each kind (built-ins `hero`, `sal`, `osiris`, plus custom kinds) is announced in
 *   liveness heartbeats (with the executor's running/capacity as load) and as a DHT provider
 *   record of `capabilityCid(kind)`.
 * - RPC (callers need trust role `supervisor`): `runner.describe`, `runner.execute {job}` →
 *   `{ result (signed), logs, logsTruncated, replayed }`, `runner.cancel {jobId}`, and the
 *   subscription `runner.logs {jobId?}` (events `{ jobId, type: 'started' | 'log', line?, at }`).
 * - At most once per job id: a job id dispatched again is answered from its running or stored
 *   execution (results persist until the job expires), never run twice.
 *
 * ```ts
 * const runner = createRunner(node, { kinds: { noop: async () => null }, functions: { process_data } })
 * await runner.start()
 * ```
 */
import type { RunnerComponents, RunnerOptions } from './service/runner-service.js'
import { RunnerService } from './service/runner-service.js'

export type {
  ExecutableJob,
  ExecutionResult,
  ExecutionStatus,
  JobContext,
  KindHandler,
  RegisteredFunction,
} from './execution/index.js'
export { readRunnerConfig } from './service/config.js'
export { BUILTIN_KINDS, EXECUTE_CALL_TIMEOUT_MS } from './service/constants.js'
export { RUNNER_ERRORS, RunnerConfigError, RunnerStoppingError } from './service/errors.js'
export {
  type RunnerComponents,
  type RunnerOptions,
  RunnerService,
  type RunnerServiceEvents,
} from './service/runner-service.js'
export type {
  ExecuteParams,
  ExecuteResponse,
  RunnerDescription,
  RunnerJobEvent,
  RunnerLoad,
} from './service/wire.js'

/** Creates the runner service of a node (a HorusNode is a RunnerComponents). */
export function createRunner(components: RunnerComponents, options: RunnerOptions = {}): RunnerService {
  return new RunnerService(components, options)
}
