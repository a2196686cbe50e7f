/**
 * What expressions see during an evaluation pass: per scope (the top level, or the children of a
 * workflow step) its inputs and its steps by local id, plus the run (`run.error`…) and, for a
 * `for_each` child's `env`, its item. Built lazily and memoised per pass, since a `when` reads only
 * a couple of names.
 */

import { isBlobRef } from '../../../protocols/blob/ref.js'
import type { JsonObject, JsonValue } from '../../../protocols/state/json-value.js'
import type { StepEntry, StepError } from '../../../protocols/state/lattice.js'
import type { Expression, RunField } from '../workflow/expression.js'
import { type ExpressionScope, evaluateExpression, type StepView } from '../workflow/expression-evaluate.js'
import type { CompiledStep, CompiledWorkflow } from '../workflow/types.js'
import type { RunContext, StepStatus } from './types.js'

/** The pass's effective view of each step, by index. */
export interface StepFacts {
  readonly status: readonly StepStatus[]
  readonly error: readonly (StepError | undefined)[]
  readonly entries: readonly (StepEntry | undefined)[]
  /** The step's output (derived for a `for_each` step); meaningful once it succeeded. */
  outputOf(index: number): JsonValue
  /** The run as expressions and jobs see it (`run.error` is set once the run failed). */
  runContext(): RunContext
}

/** An expression looked inside a blob whose value is not loaded yet: the step waits. */
export class BlobNotLoaded extends Error {
  readonly digest: string

  constructor(digest: string) {
    super(`output blob ${digest.slice(0, 12)}… is not loaded yet`)
    this.digest = digest
  }
}

export class ScopeEnvironments {
  readonly #workflow: CompiledWorkflow
  readonly #runInputs: JsonObject
  readonly #facts: StepFacts
  readonly #blobs: ((digest: string) => JsonValue | undefined) | undefined
  readonly #inputs = new Map<number, JsonObject>()
  readonly #scopes = new Map<number, ExpressionScope>()

  constructor(
    workflow: CompiledWorkflow,
    runInputs: JsonObject,
    facts: StepFacts,
    blobs?: (digest: string) => JsonValue | undefined,
  ) {
    this.#workflow = workflow
    this.#runInputs = runInputs
    this.#facts = facts
    this.#blobs = blobs
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
        run: (field) => this.#run(field),
        resolve: (ref) => this.resolve(ref),
      }
      this.#scopes.set(scope, env)
    }
    return env
  }

  /** `scope`'s environment with `item` and `index` defined (a `for_each` child's `env`). */
  withItem(scope: number, item: JsonValue, index: number): ExpressionScope {
    return { ...this.scope(scope), item: () => item, index: () => index }
  }

  /** Evaluates in a scope; throws `BlobNotLoaded` when the expression needs a blob not at hand. */
  evaluate(expression: Expression, scope: number | ExpressionScope): JsonValue {
    return evaluateExpression(expression, typeof scope === 'number' ? this.scope(scope) : scope)
  }

  /** The value behind a blob reference, or the value itself. */
  resolve(value: JsonValue): JsonValue {
    if (!isBlobRef(value)) return value
    const loaded = this.#blobs?.(value.$blob)
    if (loaded === undefined) throw new BlobNotLoaded(value.$blob)
    return loaded
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

  #run(field: RunField): JsonValue {
    const run = this.#facts.runContext()
    if (field === 'id') return run.id
    if (field === 'workflow') return run.workflow
    return run.error === null ? null : { ...run.error }
  }

  #view(index: number): StepView {
    const facts = this.#facts
    return {
      output: facts.status[index] === 'succeeded' ? facts.outputOf(index) : null,
      status: facts.status[index] as StepStatus,
      error: facts.error[index]?.message ?? null,
      attempt: facts.entries[index]?.attempt ?? 0,
    }
  }
}
