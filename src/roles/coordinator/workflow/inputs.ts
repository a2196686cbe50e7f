/** The inputs a run starts with, checked against the workflow's declared `inputs`. */

import {
  isPlainObject,
  type JsonObject,
  type JsonValue,
  jsonValueProblem,
} from '../../../protocols/state/json-value.js'
import { MAX_VALUE_DEPTH } from './constants.js'
import { WorkflowInputError } from './errors.js'
import { Issues, pathKey } from './issues.js'
import { suggest } from './suggest.js'
import type { CompiledWorkflow } from './types.js'

/**
 * Returns the run's inputs with defaults applied (an undeclared optional input without default is
 * `null`). Throws `WorkflowInputError` for missing required inputs, undeclared names and values
 * that are not JSON.
 */
export function resolveRunInputs(workflow: CompiledWorkflow, provided: unknown = {}): JsonObject {
  const issues = new Issues()
  if (!isPlainObject(provided)) {
    issues.expected('inputs', 'an object', provided)
    throw new WorkflowInputError(issues.list)
  }
  const resolved: Array<[string, JsonValue]> = []
  for (const [name, value] of Object.entries(provided)) {
    if (!workflow.inputs.has(name)) {
      issues.add(
        pathKey('inputs', name),
        `unknown input${suggest(name, workflow.inputs.keys())} (workflow "${workflow.name}" declares ${[...workflow.inputs.keys()].join(', ') || 'none'})`,
      )
      continue
    }
    const problem = jsonValueProblem(value, MAX_VALUE_DEPTH)
    if (problem !== undefined) issues.add(pathKey('inputs', name), problem)
  }
  for (const [name, spec] of workflow.inputs) {
    if (Object.hasOwn(provided, name)) resolved.push([name, provided[name] as JsonValue])
    else if (spec.required) issues.add(pathKey('inputs', name), 'required input missing')
    else resolved.push([name, spec.default ?? null])
  }
  if (issues.size > 0) throw new WorkflowInputError(issues.list)
  return Object.fromEntries(resolved)
}
