/**
 * The workflow format (as written in YAML/JSON) and its compiled form. The source types describe
 * the file exactly as the seed shows it (`workflow: { name, steps: [{ id, runner, payload,
 * depends_on }] }`) plus the extensions documented in README.md.
 */

import type { JsonObject, JsonValue } from '../../../protocols/state/json-value.js'
import type { Expression } from './expression.js'
import type { RetryPolicy } from './retry-policy.js'

/** Milliseconds, or `"500ms"`, `"2s"`, `"1m30s"`… */
export type Duration = number | string

export interface RetryDefinition {
  readonly max_attempts?: number
  readonly initial_delay?: Duration
  readonly backoff_base?: number
  readonly max_delay?: Duration
  readonly jitter?: number
}

/**
 * When a step runs, given how its dependencies ended (Airflow's trigger rules; see README.md).
 * `all_success` is the default.
 */
export type TriggerRule =
  | 'all_success'
  | 'all_done'
  | 'all_failed'
  | 'one_failed'
  | 'one_success'
  | 'none_failed'
  | 'always'

/** A declared run input; `null` in the file means optional with no default. */
export interface InputDeclaration {
  readonly required?: boolean
  readonly default?: JsonValue
  readonly description?: string
}

export interface StepDefinition {
  readonly id: string
  readonly name?: string
  readonly description?: string
  /** Runner kind (`hero`, `sal`, `osiris` or a custom kind). Absent on a workflow step. */
  readonly runner?: string
  readonly payload?: JsonValue
  /** Composition: run this workflow (a name, or an inline definition) as the step. */
  readonly workflow?: string | WorkflowDefinition
  /** Inputs of the composed workflow: strings are expressions, other values literals. */
  readonly with?: Readonly<Record<string, JsonValue>>
  readonly depends_on?: readonly string[]
  readonly retry?: RetryDefinition
  readonly timeout?: Duration
  /** Expression on inputs and dependencies' results; false → the step is skipped. */
  readonly when?: string | boolean
  readonly continue_on_failure?: boolean
  /** When the step runs given how its dependencies ended. @default all_success */
  readonly trigger_rule?: TriggerRule
  /** Map: an expression yielding a list; one child task per element (job steps). */
  readonly for_each?: string
  /** Most children of a `for_each` step in flight at once. */
  readonly max_parallel?: number
  /** A durable timer step: waits this long, dispatching nothing. */
  readonly sleep?: Duration
  /** Waits until `coordinator.signal_workflow` delivers this signal; its output is the data. */
  readonly wait_for_signal?: string
  /** Environment of the step's job: strings are expressions, numbers and booleans literals. */
  readonly env?: Readonly<Record<string, JsonValue>>
  /** Names of run secrets (given sealed at submit time) the step's job gets as environment variables. */
  readonly secrets?: readonly string[]
}

export interface WorkflowDefinition {
  readonly name: string
  readonly description?: string
  readonly inputs?: Readonly<Record<string, InputDeclaration | null>>
  /** Output name → expression (`steps.store.output.id`). */
  readonly outputs?: Readonly<Record<string, string>>
  readonly steps: readonly StepDefinition[]
  /** Steps that run once the run has failed (top-level workflow only). */
  readonly on_failure?: readonly StepDefinition[]
  /** The whole run fails (`RunTimeout`) when it is not finished this long after it started. */
  readonly timeout?: Duration
}

/** A workflow file: the workflow, and optionally a library of workflows its steps may run by name. */
export interface WorkflowDocument {
  readonly workflow: WorkflowDefinition
  readonly workflows?: Readonly<Record<string, WorkflowDefinition>>
}

export interface InputSpec {
  readonly required: boolean
  readonly default: JsonValue | undefined
}

/** `job` runs on a runner; `workflow` runs a composed workflow; `sleep` and `signal` wait. */
export type StepKind = 'job' | 'workflow' | 'sleep' | 'signal'

/**
 * One step after compilation. Steps of composed workflows are expanded in place: a child step's
 * `id` is prefixed by the id of the workflow step that runs it (`etl.fetch`), while `localId`
 * (`fetch`) is what its siblings and expressions call it. Index fields point into
 * `CompiledWorkflow.steps`.
 */
export interface CompiledStep {
  readonly index: number
  readonly id: string
  readonly localId: string
  /** Where the step is defined, for messages (`workflow.steps[2]`). */
  readonly path: string
  readonly kind: StepKind
  readonly runner: string | undefined
  readonly payload: JsonValue
  /** Declared dependencies (same workflow), as indices. */
  readonly deps: readonly number[]
  /** Steps that declared this one as a dependency, as indices. */
  readonly dependents: readonly number[]
  /** Index of the workflow step this step belongs to; -1 for top-level steps. */
  readonly scope: number
  readonly retry: RetryPolicy
  /** Per attempt of a job (per child of a `for_each`), or how long a signal is waited for. */
  readonly timeoutMs: number | undefined
  readonly when: Expression | undefined
  readonly continueOnFailure: boolean
  readonly triggerRule: TriggerRule
  /** Job steps: the list to map over, evaluated when the step starts. */
  readonly forEach: Expression | undefined
  /** `for_each` steps: most children in flight at once (the run's concurrency still applies). */
  readonly maxParallel: number | undefined
  /** Sleep steps: how long. */
  readonly sleepMs: number | undefined
  /** Signal steps: the signal's name. */
  readonly signal: string | undefined
  /** Job steps: environment variable → expression (evaluated at dispatch). */
  readonly env: ReadonlyMap<string, Expression>
  /** Declared under the workflow's `on_failure`: runs only once the run has failed. */
  readonly onFailure: boolean
  /** Job steps only: names of the run's secrets its jobs carry (sealed) as environment variables. */
  readonly secrets: readonly string[]
  /** Workflow steps only: the composed workflow's name. */
  readonly workflowName: string | undefined
  /** Workflow steps only: direct child steps, by local id. */
  readonly children: ReadonlyMap<string, number>
  /** Workflow steps only: bindings of the child's inputs, evaluated in this step's workflow. */
  readonly with: ReadonlyMap<string, Expression>
  /** Workflow steps only: the child's declared inputs. */
  readonly childInputs: ReadonlyMap<string, InputSpec>
  /** Workflow steps only: the child's outputs, which become this step's output. */
  readonly outputs: ReadonlyMap<string, Expression>
}

/** A validated workflow, compiled once; immutable. */
export interface CompiledWorkflow {
  readonly name: string
  /** Self-contained document (every composed workflow inlined in `workflows`): store this. */
  readonly source: WorkflowDocument
  /** All steps, composed ones expanded, in a topological order (a step after its dependencies, a workflow step after its children). */
  readonly steps: readonly CompiledStep[]
  readonly byId: ReadonlyMap<string, CompiledStep>
  /** Step id → ids of the steps that depend on it. */
  readonly dependents: ReadonlyMap<string, readonly string[]>
  /** Top-level steps by id. */
  readonly topLevel: ReadonlyMap<string, number>
  readonly inputs: ReadonlyMap<string, InputSpec>
  readonly outputs: ReadonlyMap<string, Expression>
  /** The run fails when not finished this long after it started (or was retried). */
  readonly timeoutMs: number | undefined
  /** Indices of the `on_failure` steps (after every other step in `steps`). */
  readonly handlers: readonly number[]
  /** Names of the signals the run's steps wait for. */
  readonly signals: ReadonlySet<string>
}

export type { JsonObject, JsonValue }
