/**
 * Span attribute names. Where OpenTelemetry's semantic conventions have a name it is used: RPC
 * (`rpc.*`), CI/CD pipelines for workflows (a workflow is a pipeline, a run a pipeline run, a step
 * a task, a step attempt a task run: `cicd.pipeline.*`) and `error.type`. The incubating names are
 * copied here rather than imported, as the conventions package advises for names not yet stable.
 * Only what no convention covers is `horus.*`.
 */
export { ATTR_ERROR_TYPE, ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions'

export const ATTR_SERVICE_INSTANCE_ID = 'service.instance.id'

export const ATTR_RPC_SYSTEM_NAME = 'rpc.system.name'
export const RPC_SYSTEM_NAME_VALUE_JSONRPC = 'jsonrpc'
export const ATTR_RPC_METHOD = 'rpc.method'
export const ATTR_JSONRPC_PROTOCOL_VERSION = 'jsonrpc.protocol.version'

export const ATTR_CICD_PIPELINE_NAME = 'cicd.pipeline.name'
export const ATTR_CICD_PIPELINE_RUN_ID = 'cicd.pipeline.run.id'
export const ATTR_CICD_PIPELINE_RESULT = 'cicd.pipeline.result'
export const ATTR_CICD_PIPELINE_ACTION_NAME = 'cicd.pipeline.action.name'
export const ATTR_CICD_PIPELINE_TASK_NAME = 'cicd.pipeline.task.name'
export const ATTR_CICD_PIPELINE_TASK_RUN_ID = 'cicd.pipeline.task.run.id'
export const ATTR_CICD_PIPELINE_TASK_RUN_RESULT = 'cicd.pipeline.task.run.result'

/** The job's id (a step job's is `run/step/attempt`, also its `cicd.pipeline.task.run.id`). */
export const ATTR_HORUS_JOB_ID = 'horus.job.id'
/** The capability (runner kind) the job runs on. */
export const ATTR_HORUS_JOB_CAPABILITY = 'horus.job.capability'
export const ATTR_HORUS_JOB_ATTEMPT = 'horus.job.attempt'
/** How the supervisor got the job: `rpc` or `gossip`. */
export const ATTR_HORUS_JOB_SOURCE = 'horus.job.source'
/** The runner answered with an execution it had already done (`runner.execute` sent again). */
export const ATTR_HORUS_JOB_REPLAYED = 'horus.job.replayed'
/** Peer ID of the other end: the supervisor a step went to, the runner a job went to, the dispatcher. */
export const ATTR_HORUS_PEER_ID = 'horus.peer.id'
/** The coordinator followed an attempt already in flight (a takeover, a restart) rather than sending it. */
export const ATTR_HORUS_STEP_FOLLOWED = 'horus.step.followed'

/** `cicd.pipeline.result` / `cicd.pipeline.task.run.result` of Horus's terminal statuses. */
export const RESULT_OF_STATUS: Readonly<Record<string, string>> = {
  completed: 'success',
  succeeded: 'success',
  failed: 'failure',
  cancelled: 'cancellation',
  timed_out: 'timeout',
  skipped: 'skip',
}

/** The RPC conventions' attributes of a span for one JSON-RPC method (its span name is `method`). */
export function rpcAttributes(method: string): Record<string, string> {
  return {
    [ATTR_RPC_SYSTEM_NAME]: RPC_SYSTEM_NAME_VALUE_JSONRPC,
    [ATTR_RPC_METHOD]: method,
    [ATTR_JSONRPC_PROTOCOL_VERSION]: '2.0',
  }
}
