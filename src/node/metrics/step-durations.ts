/**
 * Step attempt durations, from a coordinator's monitor events: dispatch to success or failure.
 * Dispatch times are remembered from every event (a run taken over was dispatched by another
 * coordinator); a duration is observed only where this coordinator wrote the end of the attempt,
 * so each attempt is counted once in the mesh, by the coordinator that saw it end.
 */
import { Histogram, type Registry } from 'prom-client'
import type { MonitorEvent } from '../../protocols/events/index.js'
import type { CoordinatorService } from '../../roles/coordinator/index.js'
import { MAX_TRACKED_ATTEMPTS, METRIC_PREFIX, STEP_DURATION_BUCKETS } from './constants.js'

const ENDINGS: ReadonlyMap<string, string> = new Map([
  ['step_succeeded', 'succeeded'],
  ['step_failed', 'failed'],
])

/** Starts observing; returns the function that stops it. */
export function observeStepDurations(registry: Registry, coordinator: CoordinatorService): () => void {
  const histogram = new Histogram({
    name: `${METRIC_PREFIX}step_duration_seconds`,
    help: 'Step attempts from dispatch to their end, by workflow, runner capability and outcome.',
    labelNames: ['workflow', 'runner', 'outcome'],
    buckets: STEP_DURATION_BUCKETS,
    registers: [registry],
  })
  const dispatched = new Map<string, number>()
  const onEvent = (evt: CustomEvent<MonitorEvent>): void => {
    const event = evt.detail
    const attempt = event.data?.attempt
    if (event.runId === undefined || event.stepId === undefined || typeof attempt !== 'number') return
    const key = `${event.runId}\0${event.stepId}\0${attempt}`
    if (event.type === 'step_dispatched') {
      if (dispatched.size >= MAX_TRACKED_ATTEMPTS) {
        const oldest = dispatched.keys().next().value
        if (oldest !== undefined) dispatched.delete(oldest)
      }
      dispatched.set(key, Date.parse(event.at))
      return
    }
    const outcome = ENDINGS.get(event.type)
    if (outcome === undefined) return
    const start = dispatched.get(key)
    dispatched.delete(key)
    if (start === undefined || event.node !== coordinator.peerId) return
    const workflow = coordinator.runState(event.runId)?.workflow
    const runner = workflow?.steps.find((step) => step.id === event.stepId)?.runner
    histogram.observe(
      { workflow: workflow?.name ?? 'unknown', runner: runner ?? 'none', outcome },
      Math.max(0, Date.parse(event.at) - start) / 1000,
    )
  }
  coordinator.addEventListener('monitor:event', onEvent)
  return () => coordinator.removeEventListener('monitor:event', onEvent)
}
