/**
 * Reading and checking one workflow definition (its own fields, steps, dependency graph and
 * expressions). Composition across definitions is `compile.ts`'s job. Every problem is recorded;
 * nothing stops at the first.
 */

import { isPlainObject, type JsonValue, jsonValueProblem } from '../../../protocols/state/json-value.js'
import { IDENTIFIER_PATTERN, MAX_VALUE_DEPTH } from './constants.js'
import { DURATION_EXPECTED, parseDuration } from './duration.js'
import type { Expression } from './expression.js'
import { analyzeGraph } from './graph.js'
import { type Issues, pathIndex, pathKey } from './issues.js'
import {
  type DraftStep,
  type RawStep,
  readExpression,
  readRawSteps,
  readStep,
  unknownFields,
} from './step-reader.js'
import { suggest } from './suggest.js'
import type { InputSpec, WorkflowDefinition } from './types.js'

export type { ChildReference, DraftStep } from './step-reader.js'

export interface DefinitionDraft {
  readonly name: string
  readonly path: string
  readonly raw: WorkflowDefinition
  readonly steps: readonly DraftStep[]
  /** Local topological order. */
  readonly order: readonly number[]
  /** `on_failure` steps, and their own topological order (indices into `handlers`). */
  readonly handlers: readonly DraftStep[]
  readonly handlerOrder: readonly number[]
  readonly inputs: ReadonlyMap<string, InputSpec>
  readonly outputs: ReadonlyMap<string, Expression>
  readonly timeoutMs: number | undefined
}

export interface DefinitionContext {
  readonly runners: ReadonlySet<string>
  readonly issues: Issues
}

const DEFINITION_FIELDS = ['name', 'description', 'inputs', 'outputs', 'steps', 'on_failure', 'timeout']

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
    unknownFields(decl, ['required', 'default', 'description'], at, ctx.issues)
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
    const expression = readExpression(source, at, ctx.issues)
    if (expression !== undefined) outputs.set(name, expression)
  }
  return outputs
}

function resolveDeps(
  raw: readonly RawStep[],
  ids: ReadonlyMap<string, number>,
  ctx: DefinitionContext,
  unknownHint = '',
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
        ctx.issues.add(pathIndex(at(), j), `unknown step "${dep}"${suggest(dep, candidates)}${unknownHint}`)
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

/** Which steps an expression may read: the step's dependencies, and every index below `always`. */
interface Dependent {
  readonly id: string
  readonly deps: ReadonlySet<number>
  readonly always?: number
  /** `item` and `index` are defined (a `for_each` step's env). */
  readonly mapItem?: boolean
}

/** Checks the steps and inputs an expression names; without `dependent` any step may be named. */
function checkReferences(
  expression: Expression,
  path: string,
  ids: ReadonlyMap<string, number>,
  inputs: ReadonlyMap<string, InputSpec>,
  ctx: DefinitionContext,
  dependent?: Dependent,
): void {
  for (const step of expression.steps) {
    const index = ids.get(step)
    if (index === undefined)
      ctx.issues.add(path, `unknown step "${step}"${suggest(step, ids.size <= 2_000 ? [...ids.keys()] : [])}`)
    else if (dependent !== undefined && !dependent.deps.has(index) && index >= (dependent.always ?? 0)) {
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
  if (expression.usesItem && dependent?.mapItem !== true)
    ctx.issues.add(path, 'item and index are only defined in the env of a for_each step')
}

/** The expressions of one step, each checked against what the step may read. */
function checkStepReferences(
  step: DraftStep,
  ids: ReadonlyMap<string, number>,
  inputs: ReadonlyMap<string, InputSpec>,
  ctx: DefinitionContext,
  dependent: Dependent,
): void {
  if (step.when !== undefined)
    checkReferences(step.when, pathKey(step.path, 'when'), ids, inputs, ctx, dependent)
  if (step.forEach !== undefined)
    checkReferences(step.forEach, pathKey(step.path, 'for_each'), ids, inputs, ctx, dependent)
  for (const [input, binding] of step.with)
    checkReferences(binding, pathKey(pathKey(step.path, 'with'), input), ids, inputs, ctx, dependent)
  const inEnv = { ...dependent, mapItem: step.forEach !== undefined }
  for (const [name, value] of step.env)
    checkReferences(value, pathKey(pathKey(step.path, 'env'), name), ids, inputs, ctx, inEnv)
}

interface StepList {
  readonly raw: RawStep[]
  readonly steps: DraftStep[]
  readonly order: number[]
}

function readStepList(
  raw: RawStep[],
  ids: ReadonlyMap<string, number>,
  ctx: DefinitionContext,
  unknownHint?: string,
): StepList {
  const depLists = resolveDeps(raw, ids, ctx, unknownHint)
  const steps: DraftStep[] = raw.map((s, i) => readStep(s, depLists[i] as number[], ctx))
  const { order, cycles } = analyzeGraph(depLists)
  reportCycles(steps, raw, cycles, ctx)
  return { raw, steps, order }
}

function idsOf(raw: readonly RawStep[]): Map<string, number> {
  const ids = new Map<string, number>()
  raw.forEach((s, i) => {
    if (s.id !== undefined) ids.set(s.id, i)
  })
  return ids
}

/** `on_failure` steps: their own DAG; they may depend on each other, and read any step. */
function readHandlers(
  value: unknown,
  path: string,
  main: StepList,
  mainIds: ReadonlyMap<string, number>,
  inputs: ReadonlyMap<string, InputSpec>,
  ctx: DefinitionContext,
  taken: Map<string, string>,
): StepList {
  if (value === undefined) return { raw: [], steps: [], order: [] }
  const raw = readRawSteps(value, path, ctx.issues, { allowEmpty: true, taken })
  const list = readStepList(
    raw,
    idsOf(raw),
    ctx,
    ' (on_failure steps may depend only on other on_failure steps)',
  )
  const offset = main.steps.length
  const ids = new Map(mainIds)
  for (const [id, i] of idsOf(raw)) ids.set(id, offset + i)
  for (const step of list.steps) {
    if (step.kind === 'workflow')
      ctx.issues.add(pathKey(step.path, 'workflow'), 'an on_failure step cannot run a composed workflow')
    const deps = new Set(step.deps.map((d) => offset + d))
    checkStepReferences(step, ids, inputs, ctx, { id: step.localId, deps, always: offset })
  }
  return list
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
  unknownFields(value, DEFINITION_FIELDS, path, ctx.issues)
  const name = typeof value.name === 'string' && value.name.trim() !== '' ? value.name : ''
  if (name === '') ctx.issues.expected(pathKey(path, 'name'), 'a non-empty string', value.name)
  if (value.description !== undefined && typeof value.description !== 'string') {
    ctx.issues.expected(pathKey(path, 'description'), 'a string', value.description)
  }
  let timeoutMs: number | undefined
  if (value.timeout !== undefined) {
    timeoutMs = parseDuration(value.timeout)
    if (timeoutMs === undefined || timeoutMs <= 0) {
      ctx.issues.expected(pathKey(path, 'timeout'), `${DURATION_EXPECTED} greater than 0`, value.timeout)
      timeoutMs = undefined
    }
  }
  const inputs = readInputs(value.inputs, pathKey(path, 'inputs'), ctx)
  const taken = new Map<string, string>()
  const raw = readRawSteps(value.steps, pathKey(path, 'steps'), ctx.issues, { taken })
  const ids = idsOf(raw)
  const main = readStepList(raw, ids, ctx)
  for (const step of main.steps) {
    const reads = step.when ?? step.forEach
    if (reads === undefined && step.with.size === 0 && step.env.size === 0) continue
    checkStepReferences(step, ids, inputs, ctx, { id: step.localId, deps: new Set(step.deps) })
  }
  const handlers = readHandlers(value.on_failure, pathKey(path, 'on_failure'), main, ids, inputs, ctx, taken)
  const outputs = readOutputs(value.outputs, pathKey(path, 'outputs'), ctx)
  for (const [output, expression] of outputs)
    checkReferences(expression, pathKey(pathKey(path, 'outputs'), output), ids, inputs, ctx)
  return {
    name,
    path,
    raw: value as unknown as WorkflowDefinition,
    steps: main.steps,
    order: main.order,
    handlers: handlers.steps,
    handlerOrder: handlers.order,
    inputs,
    outputs,
    timeoutMs,
  }
}
