/**
 * Reading and checking one workflow definition (its own fields, steps, dependency graph and
 * expressions). Composition across definitions is `compile.ts`'s job. Every problem is recorded;
 * nothing stops at the first.
 */

import { SECRET_NAME_PATTERN } from '../../../protocols/jobs/secrets.js'
import { isPlainObject, type JsonValue, jsonValueProblem } from '../../../protocols/state/json-value.js'
import { IDENTIFIER_PATTERN, MAX_VALUE_DEPTH } from './constants.js'
import { DURATION_EXPECTED, parseDuration } from './duration.js'
import { ExpressionSyntaxError } from './errors.js'
import { type Expression, literalExpression, parseExpression } from './expression.js'
import { analyzeGraph } from './graph.js'
import { type Issues, pathIndex, pathKey } from './issues.js'
import { NO_RETRY, type RetryPolicy, readRetryPolicy } from './retry-policy.js'
import { suggest } from './suggest.js'
import type { InputSpec, StepKind, WorkflowDefinition } from './types.js'

/** A `workflow:` field of a step: a name to resolve, or an inline definition. */
export interface ChildReference {
  readonly name: string | undefined
  readonly inline: unknown
  readonly path: string
}

export interface DraftStep {
  readonly localId: string
  readonly path: string
  readonly kind: StepKind
  readonly runner: string | undefined
  readonly payload: JsonValue
  /** Local indices of valid, distinct dependencies. */
  readonly deps: number[]
  readonly retry: RetryPolicy
  readonly timeoutMs: number | undefined
  readonly when: Expression | undefined
  readonly continueOnFailure: boolean
  /** Names of the run's secrets the step's job gets as environment variables. */
  readonly secrets: readonly string[]
  readonly with: Map<string, Expression>
  readonly child: ChildReference | undefined
}

export interface DefinitionDraft {
  readonly name: string
  readonly path: string
  readonly raw: WorkflowDefinition
  readonly steps: readonly DraftStep[]
  /** Local topological order. */
  readonly order: readonly number[]
  readonly inputs: ReadonlyMap<string, InputSpec>
  readonly outputs: ReadonlyMap<string, Expression>
}

export interface DefinitionContext {
  readonly runners: ReadonlySet<string>
  readonly issues: Issues
}

const DEFINITION_FIELDS = ['name', 'description', 'inputs', 'outputs', 'steps']
const STEP_FIELDS = [
  'id',
  'name',
  'description',
  'runner',
  'payload',
  'workflow',
  'with',
  'depends_on',
  'retry',
  'timeout',
  'when',
  'continue_on_failure',
  'secrets',
]
const JOB_ONLY = ['runner', 'payload', 'retry', 'timeout', 'secrets']
const NO_SECRETS: readonly string[] = []
// Shared by every job step (bindings are read-only once drafted).
const NO_BINDINGS: Map<string, Expression> = new Map()

function unknownFields(
  value: Record<string, unknown>,
  allowed: readonly string[],
  path: string,
  ctx: DefinitionContext,
) {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      ctx.issues.add(
        pathKey(path, key),
        `unknown field${suggest(key, allowed)} (expected one of ${allowed.join(', ')})`,
      )
    }
  }
}

function readExpression(value: unknown, path: string, ctx: DefinitionContext): Expression | undefined {
  try {
    return parseExpression(value as string)
  } catch (err) {
    if (!(err instanceof ExpressionSyntaxError)) throw err
    ctx.issues.add(path, err.message)
    return undefined
  }
}

function readInputs(value: unknown, path: string, ctx: DefinitionContext): Map<string, InputSpec> {
  const inputs = new Map<string, InputSpec>()
  if (value === undefined) return inputs
  if (!isPlainObject(value)) {
    ctx.issues.expected(path, 'an object of input name → { required, default, description } or null', value)
    return inputs
  }
  for (const [name, decl] of Object.entries(value)) {
    const at = pathKey(path, name)
    if (!IDENTIFIER_PATTERN.test(name))
      ctx.issues.add(at, 'expected an input name matching [A-Za-z_][A-Za-z0-9_-]*')
    if (decl === null) {
      inputs.set(name, { required: false, default: undefined })
      continue
    }
    if (!isPlainObject(decl)) {
      ctx.issues.expected(at, 'an object { required, default, description } or null', decl)
      continue
    }
    unknownFields(decl, ['required', 'default', 'description'], at, ctx)
    if (decl.required !== undefined && typeof decl.required !== 'boolean') {
      ctx.issues.expected(pathKey(at, 'required'), 'a boolean', decl.required)
    }
    if (decl.description !== undefined && typeof decl.description !== 'string') {
      ctx.issues.expected(pathKey(at, 'description'), 'a string', decl.description)
    }
    const problem = decl.default === undefined ? undefined : jsonValueProblem(decl.default, MAX_VALUE_DEPTH)
    if (problem !== undefined) ctx.issues.add(pathKey(at, 'default'), problem)
    if (decl.required === true && decl.default !== undefined) {
      ctx.issues.add(pathKey(at, 'default'), 'a required input cannot have a default')
    }
    inputs.set(name, { required: decl.required === true, default: decl.default as JsonValue | undefined })
  }
  return inputs
}

function readOutputs(value: unknown, path: string, ctx: DefinitionContext): Map<string, Expression> {
  const outputs = new Map<string, Expression>()
  if (value === undefined) return outputs
  if (!isPlainObject(value)) {
    ctx.issues.expected(path, 'an object of output name → expression', value)
    return outputs
  }
  for (const [name, source] of Object.entries(value)) {
    const at = pathKey(path, name)
    if (!IDENTIFIER_PATTERN.test(name))
      ctx.issues.add(at, 'expected an output name matching [A-Za-z_][A-Za-z0-9_-]*')
    if (typeof source !== 'string') {
      ctx.issues.expected(at, 'an expression string (e.g. "steps.store.output")', source)
      continue
    }
    const expression = readExpression(source, at, ctx)
    if (expression !== undefined) outputs.set(name, expression)
  }
  return outputs
}

interface RawStep {
  readonly index: number
  readonly path: string
  readonly fields: Record<string, unknown>
  readonly id: string | undefined
}

function readStepKind(
  s: RawStep,
  ctx: DefinitionContext,
): { kind: StepKind; child: ChildReference | undefined } {
  const { fields, path } = s
  const hasRunner = fields.runner !== undefined
  const hasWorkflow = fields.workflow !== undefined
  if (hasRunner && hasWorkflow)
    ctx.issues.add(path, 'runner and workflow are mutually exclusive (a step runs a job or a workflow)')
  if (!hasRunner && !hasWorkflow)
    ctx.issues.add(pathKey(path, 'runner'), 'required (or workflow, to run another workflow)')
  if (hasWorkflow && !hasRunner) {
    for (const key of JOB_ONLY) {
      if (fields[key] !== undefined) ctx.issues.add(pathKey(path, key), 'not allowed on a workflow step')
    }
    const at = pathKey(path, 'workflow')
    const ref = fields.workflow
    if (typeof ref === 'string' && ref.length > 0)
      return { kind: 'workflow', child: { name: ref, inline: undefined, path: at } }
    if (isPlainObject(ref)) return { kind: 'workflow', child: { name: undefined, inline: ref, path: at } }
    ctx.issues.expected(at, 'a workflow name or an inline workflow definition', ref)
    return { kind: 'workflow', child: undefined }
  }
  if (fields.with !== undefined) ctx.issues.add(pathKey(path, 'with'), 'only allowed on a workflow step')
  if (hasRunner) {
    const runner = fields.runner
    if (typeof runner !== 'string') ctx.issues.expected(pathKey(path, 'runner'), 'a runner kind', runner)
    else if (!ctx.runners.has(runner)) {
      const known = [...ctx.runners]
      ctx.issues.add(
        pathKey(path, 'runner'),
        `unknown runner kind "${runner}"${suggest(runner, known)} (known: ${known.join(', ')})`,
      )
    }
  }
  return { kind: 'job', child: undefined }
}

function readWith(value: unknown, path: string, ctx: DefinitionContext): Map<string, Expression> {
  const bindings = new Map<string, Expression>()
  if (value === undefined) return bindings
  if (!isPlainObject(value)) {
    ctx.issues.expected(path, 'an object of input name → expression or value', value)
    return bindings
  }
  for (const [name, binding] of Object.entries(value)) {
    const at = pathKey(path, name)
    if (typeof binding === 'string') {
      // A binding that does not parse still counts as given (no extra "missing input" error).
      bindings.set(name, readExpression(binding, at, ctx) ?? literalExpression(null))
      continue
    }
    const problem = jsonValueProblem(binding, MAX_VALUE_DEPTH)
    if (problem === undefined) bindings.set(name, literalExpression(binding as JsonValue))
    else ctx.issues.add(at, problem)
  }
  return bindings
}

function readStep(s: RawStep, deps: number[], ctx: DefinitionContext): DraftStep {
  const { fields, path } = s
  unknownFields(fields, STEP_FIELDS, path, ctx)
  for (const key of ['name', 'description']) {
    if (fields[key] !== undefined && typeof fields[key] !== 'string')
      ctx.issues.expected(pathKey(path, key), 'a string', fields[key])
  }
  const { kind, child } = readStepKind(s, ctx)
  const payloadProblem =
    fields.payload === undefined ? undefined : jsonValueProblem(fields.payload, MAX_VALUE_DEPTH)
  if (payloadProblem !== undefined) ctx.issues.add(pathKey(path, 'payload'), payloadProblem)
  let timeoutMs: number | undefined
  if (fields.timeout !== undefined && kind === 'job') {
    timeoutMs = parseDuration(fields.timeout)
    if (timeoutMs === undefined || timeoutMs <= 0) {
      ctx.issues.expected(pathKey(path, 'timeout'), `${DURATION_EXPECTED} greater than 0`, fields.timeout)
    }
  }
  let when: Expression | undefined
  if (typeof fields.when === 'boolean') when = literalExpression(fields.when)
  else if (typeof fields.when === 'string') when = readExpression(fields.when, pathKey(path, 'when'), ctx)
  else if (fields.when !== undefined)
    ctx.issues.expected(pathKey(path, 'when'), 'an expression string or a boolean', fields.when)
  const cof = fields.continue_on_failure
  if (cof !== undefined && typeof cof !== 'boolean')
    ctx.issues.expected(pathKey(path, 'continue_on_failure'), 'a boolean', cof)
  return {
    localId: s.id ?? `#${s.index}`,
    path,
    kind,
    runner: typeof fields.runner === 'string' ? fields.runner : undefined,
    payload: fields.payload === undefined ? null : (fields.payload as JsonValue),
    deps,
    retry:
      kind === 'job' && fields.retry !== undefined
        ? readRetryPolicy(fields.retry, pathKey(path, 'retry'), ctx.issues)
        : NO_RETRY,
    timeoutMs,
    when,
    continueOnFailure: cof === true,
    secrets:
      kind === 'job' && fields.secrets !== undefined
        ? readSecretNames(fields.secrets, pathKey(path, 'secrets'), ctx)
        : NO_SECRETS,
    with:
      kind === 'workflow' && fields.with !== undefined
        ? readWith(fields.with, pathKey(path, 'with'), ctx)
        : NO_BINDINGS,
    child,
  }
}

function readSecretNames(value: unknown, path: string, ctx: DefinitionContext): string[] {
  if (!Array.isArray(value)) {
    ctx.issues.expected(path, 'a list of secret names', value)
    return []
  }
  const names: string[] = []
  value.forEach((name: unknown, index) => {
    if (typeof name !== 'string' || !SECRET_NAME_PATTERN.test(name)) {
      ctx.issues.expected(pathIndex(path, index), 'a variable name matching [A-Za-z_][A-Za-z0-9_]*', name)
    } else if (names.includes(name)) {
      ctx.issues.add(pathIndex(path, index), `duplicate secret "${name}"`)
    } else names.push(name)
  })
  return names
}

function readRawSteps(value: unknown, path: string, ctx: DefinitionContext): RawStep[] {
  if (!Array.isArray(value) || value.length === 0) {
    ctx.issues.expected(path, 'a non-empty array of steps', value)
    return []
  }
  const firstPath = new Map<string, string>()
  const steps: RawStep[] = []
  value.forEach((fields: unknown, index) => {
    const at = pathIndex(path, index)
    if (!isPlainObject(fields)) {
      ctx.issues.expected(at, 'a step object', fields)
      return
    }
    let id: string | undefined
    if (typeof fields.id !== 'string' || !IDENTIFIER_PATTERN.test(fields.id)) {
      ctx.issues.expected(pathKey(at, 'id'), 'a step id matching [A-Za-z_][A-Za-z0-9_-]*', fields.id)
    } else if (firstPath.has(fields.id)) {
      ctx.issues.add(
        pathKey(at, 'id'),
        `duplicate step id "${fields.id}" (first defined at ${firstPath.get(fields.id)})`,
      )
    } else {
      id = fields.id
      firstPath.set(id, at)
    }
    steps.push({ index, path: at, fields, id })
  })
  return steps
}

function resolveDeps(
  raw: readonly RawStep[],
  ids: ReadonlyMap<string, number>,
  ctx: DefinitionContext,
): number[][] {
  let candidates: string[] | undefined
  return raw.map((s) => {
    const value = s.fields.depends_on
    if (value === undefined) return []
    // Paths are only built when there is something to report: this runs once per step of 100k.
    const at = () => pathKey(s.path, 'depends_on')
    if (!Array.isArray(value)) {
      ctx.issues.expected(at(), 'an array of step ids', value)
      return []
    }
    const deps: number[] = []
    const seen = value.length > 16 ? new Set<number>() : undefined
    for (let j = 0; j < value.length; j++) {
      const dep: unknown = value[j]
      if (typeof dep !== 'string') {
        ctx.issues.expected(pathIndex(at(), j), 'a step id', dep)
        continue
      }
      const index = ids.get(dep)
      if (index === undefined) {
        candidates ??= ids.size <= 2_000 ? [...ids.keys()] : []
        ctx.issues.add(pathIndex(at(), j), `unknown step "${dep}"${suggest(dep, candidates)}`)
      } else if (seen === undefined ? deps.includes(index) : seen.has(index)) {
        ctx.issues.add(pathIndex(at(), j), `duplicate dependency "${dep}"`)
      } else {
        deps.push(index)
        seen?.add(index)
      }
    }
    return deps
  })
}

function reportCycles(
  steps: readonly DraftStep[],
  raw: readonly RawStep[],
  cycles: number[][],
  ctx: DefinitionContext,
) {
  for (const cycle of cycles) {
    const first = cycle[0] as number
    const last = cycle[cycle.length - 1] as number
    const names = [...cycle, first].map((i) => (steps[i] as DraftStep).localId)
    const depList = (raw[first] as RawStep).fields.depends_on as unknown[]
    const closing = depList.indexOf((steps[last] as DraftStep).localId)
    ctx.issues.add(
      pathIndex(pathKey((raw[first] as RawStep).path, 'depends_on'), closing),
      `cycle: ${names.join(' → ')}`,
    )
  }
}

/** Checks the steps and inputs an expression names; `allowedSteps` undefined means any step of the workflow. */
function checkReferences(
  expression: Expression,
  path: string,
  ids: ReadonlyMap<string, number>,
  inputs: ReadonlyMap<string, InputSpec>,
  ctx: DefinitionContext,
  dependent?: { readonly id: string; readonly deps: ReadonlySet<number> },
): void {
  for (const step of expression.steps) {
    const index = ids.get(step)
    if (index === undefined)
      ctx.issues.add(path, `unknown step "${step}"${suggest(step, ids.size <= 2_000 ? [...ids.keys()] : [])}`)
    else if (dependent !== undefined && !dependent.deps.has(index)) {
      ctx.issues.add(
        path,
        `steps.${step} is not a dependency of step "${dependent.id}" (add it to depends_on)`,
      )
    }
  }
  for (const name of expression.inputs) {
    if (!inputs.has(name)) {
      const declared =
        inputs.size === 0 ? 'the workflow declares no inputs' : `declared: ${[...inputs.keys()].join(', ')}`
      ctx.issues.add(path, `unknown input "${name}" (${declared})`)
    }
  }
}

/** Reads one definition at `path`; returns `undefined` only when it is not even an object. */
export function readDefinition(
  value: unknown,
  path: string,
  ctx: DefinitionContext,
): DefinitionDraft | undefined {
  if (!isPlainObject(value)) {
    ctx.issues.expected(path, 'a workflow definition object { name, steps }', value)
    return undefined
  }
  unknownFields(value, DEFINITION_FIELDS, path, ctx)
  const name = typeof value.name === 'string' && value.name.trim() !== '' ? value.name : ''
  if (name === '') ctx.issues.expected(pathKey(path, 'name'), 'a non-empty string', value.name)
  if (value.description !== undefined && typeof value.description !== 'string') {
    ctx.issues.expected(pathKey(path, 'description'), 'a string', value.description)
  }
  const inputs = readInputs(value.inputs, pathKey(path, 'inputs'), ctx)
  const raw = readRawSteps(value.steps, pathKey(path, 'steps'), ctx)
  const ids = new Map<string, number>()
  raw.forEach((s, i) => {
    if (s.id !== undefined) ids.set(s.id, i)
  })
  const depLists = resolveDeps(raw, ids, ctx)
  const steps: DraftStep[] = raw.map((s, i) => readStep(s, depLists[i] as number[], ctx))
  const { order, cycles } = analyzeGraph(depLists)
  reportCycles(steps, raw, cycles, ctx)
  steps.forEach((step) => {
    if (step.when === undefined && step.with.size === 0) return
    const dependent = { id: step.localId, deps: new Set(step.deps) }
    if (step.when !== undefined)
      checkReferences(step.when, pathKey(step.path, 'when'), ids, inputs, ctx, dependent)
    for (const [input, binding] of step.with) {
      checkReferences(binding, pathKey(pathKey(step.path, 'with'), input), ids, inputs, ctx, dependent)
    }
  })
  const outputs = readOutputs(value.outputs, pathKey(path, 'outputs'), ctx)
  for (const [output, expression] of outputs)
    checkReferences(expression, pathKey(pathKey(path, 'outputs'), output), ids, inputs, ctx)
  return { name, path, raw: value as unknown as WorkflowDefinition, steps, order, inputs, outputs }
}
