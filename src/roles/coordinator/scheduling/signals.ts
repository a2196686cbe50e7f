/**
 * Delivering a signal to a run (`signal_workflow`): it is stored in the run state, so every
 * coordinator sees it and the step waiting for it completes with its data as output — now, or when
 * the step starts waiting (a signal may arrive early). The first delivery of a name wins.
 */
import { hlcWall } from '../../../protocols/state/hlc.js'
import { type JsonValue, jsonValueProblem } from '../../../protocols/state/json-value.js'
import type { RunState } from '../../../protocols/state/run-state.js'
import type { CompiledWorkflow } from '../workflow/types.js'
import { MAX_RESULT_DEPTH } from './constants.js'
import { SignalAlreadyDeliveredError, SignalDataInvalidError, UnknownSignalError } from './errors.js'

export interface SignalRunOptions {
  readonly name: string
  readonly data?: unknown
  readonly stamp: string
  /** Hex key of who delivered it (recorded in the `signal_received` entry), when known. */
  readonly by?: string
}

/** Log entry type of a delivered signal; `data` is `{ name, by? }`. */
export const SIGNAL_RECEIVED_TYPE = 'signal_received'

/** Records a signal; throws UnknownSignalError, SignalAlreadyDeliveredError, SignalDataInvalidError. */
export function signalRun(workflow: CompiledWorkflow, state: RunState, options: SignalRunOptions): RunState {
  const { name } = options
  if (!workflow.signals.has(name)) throw new UnknownSignalError(state.run, name, workflow.signals)
  const delivered = state.signal(name)
  if (delivered !== undefined)
    throw new SignalAlreadyDeliveredError(state.run, name, new Date(hlcWall(delivered.hlc)).toISOString())
  const data = options.data === undefined ? null : options.data
  const problem = jsonValueProblem(data, MAX_RESULT_DEPTH)
  if (problem !== undefined) throw new SignalDataInvalidError(problem)
  const delta = state.setSignal(name, { hlc: options.stamp, data: data as JsonValue })
  delta.merge(
    state.appendLog({
      hlc: options.stamp,
      kind: 'event',
      type: SIGNAL_RECEIVED_TYPE,
      severity: 'info',
      message: `signal "${name}" received${options.by === undefined ? '' : ` from ${options.by}`}`,
      data: options.by === undefined ? { name } : { name, by: options.by },
    }),
  )
  return delta
}
