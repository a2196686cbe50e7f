/**
 * What expressions see during an evaluation pass: per scope (the top level, or the children of a
 * workflow step) its inputs and its steps by local id. Built lazily and memoised per pass, since a
 * `when` reads only a couple of names.
 */

import type { JsonObject, JsonValue } from '../../../protocols/state/json-value.js'
import type { StepEntry, StepError } from '../../../protocols/state/lattice.js'
import { type ExpressionScope, evaluateExpression, type StepView } from '../workflow/expression-evaluate.js'
import type { CompiledStep, CompiledWorkflow } from '../workflow/types.js'
import type { StepStatus } from './types.js'

/** The pass's effective view of each step, by index. */
export interface StepFacts {
  readonly status: readonly StepStatus[]
  readonly output: readonly JsonValue[]
  readonly error: readonly (StepError | undefined)[]
  readonly entries: readonly (StepEntry | undefined)[]
}

export class ScopeEnvironments {
  readonly #workflow: CompiledWorkflow
  readonly #runInputs: JsonObject
  readonly #facts: StepFacts
  readonly #inputs = new Map<number, JsonObject>()
  readonly #scopes = new Map<number, ExpressionScope>()

  constructor(workflow: CompiledWorkflow, runInputs: JsonObject, facts: StepFacts) {
    this.#workflow = workflow
    this.#runInputs = runInputs
    this.#facts = facts
  }

  /** The environment of scope `scope` (−1 for the top level, else a workflow step's index). */
  scope(scope: number): ExpressionScope {
    let env = this.#scopes.get(scope)
    if (env === undefined) {
      const ids =
        scope === -1 ? this.#workflow.topLevel : (this.#workflow.steps[scope] as CompiledStep).children
      env = {
        input: (name) => this.inputs(scope)[name] ?? null,
        step: (id) => {
          const index = ids.get(id)
          return index === undefined ? undefined : this.#view(index)
        },
      }
      this.#scopes.set(scope, env)
    }
    return env
  }

  /** Inputs of a scope: the run's (defaults applied), or a workflow step's `with` bindings. */
  inputs(scope: number): JsonObject {
    let inputs = this.#inputs.get(scope)
    if (inputs !== undefined) return inputs
    if (scope === -1) {
      const given = this.#runInputs
      inputs = Object.fromEntries(
        [...this.#workflow.inputs].map(([name, spec]) => [name, given[name] ?? spec.default ?? null]),
      )
    } else {
      const step = this.#workflow.steps[scope] as CompiledStep
      const parent = this.scope(step.scope)
      inputs = Object.fromEntries(
        [...step.childInputs].map(([name, spec]) => {
          const binding = step.with.get(name)
          return [name, binding === undefined ? (spec.default ?? null) : evaluateExpression(binding, parent)]
        }),
      )
    }
    this.#inputs.set(scope, inputs)
    return inputs
  }

  #view(index: number): StepView {
    const facts = this.#facts
    return {
      output: facts.status[index] === 'succeeded' ? (facts.output[index] as JsonValue) : null,
      status: facts.status[index] as StepStatus,
      error: facts.error[index]?.message ?? null,
      attempt: facts.entries[index]?.attempt ?? 0,
    }
  }
}
