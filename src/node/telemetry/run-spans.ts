/**
 * A run's root span, from a coordinator's monitor events: exported when the run ends, by the
 * coordinator that wrote the end (the owner then), with the run's start and end times and the id
 * every node derives from the run id — so the step, accept, dispatch and execute spans that other
 * nodes sent long before find their root. A rerun of a finished run (`retry_workflow`) adds its
 * attempts under the same root; the root itself is exported once, at the run's first end.
 */
import type { MonitorEvent } from '../../protocols/events/index.js'
import type { CoordinatorService } from '../../roles/coordinator/index.js'
import {
  ATTR_CICD_PIPELINE_ACTION_NAME,
  ATTR_CICD_PIPELINE_NAME,
  ATTR_CICD_PIPELINE_RESULT,
  ATTR_CICD_PIPELINE_RUN_ID,
  RESULT_OF_STATUS,
} from './attributes.js'
import type { NodeTracing } from './node-tracing.js'

const ENDINGS: ReadonlyMap<string, string> = new Map([
  ['workflow_completed', 'completed'],
  ['workflow_failed', 'failed'],
  ['workflow_cancelled', 'cancelled'],
])

/** The span name of a run: the CI/CD conventions' `{action} {pipeline}`. */
const RUN_ACTION = 'RUN'

/** Starts exporting run spans; returns the function that stops it. */
export function observeRunSpans(tracing: NodeTracing, coordinator: CoordinatorService): () => void {
  const onEvent = (evt: CustomEvent<MonitorEvent>): void => {
    const event = evt.detail
    const status = ENDINGS.get(event.type)
    if (status === undefined || event.runId === undefined || event.node !== coordinator.peerId) return
    const entry = coordinator.runState(event.runId)
    if (entry === undefined || entry.state.epoch !== 0) return
    const workflow = entry.workflow?.name ?? 'workflow'
    const result = RESULT_OF_STATUS[status] ?? status
    tracing.emitRunSpan(
      event.runId,
      `${RUN_ACTION} ${workflow}`,
      { startMs: entry.createdAt, endMs: Date.parse(event.at) },
      {
        attributes: {
          [ATTR_CICD_PIPELINE_NAME]: workflow,
          [ATTR_CICD_PIPELINE_RUN_ID]: event.runId,
          [ATTR_CICD_PIPELINE_RESULT]: result,
          [ATTR_CICD_PIPELINE_ACTION_NAME]: RUN_ACTION,
        },
        ...(status === 'completed' ? {} : { error: { name: result, message: event.message } }),
      },
    )
  }
  coordinator.addEventListener('monitor:event', onEvent)
  return () => coordinator.removeEventListener('monitor:event', onEvent)
}
