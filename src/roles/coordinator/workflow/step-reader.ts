/**
 * Reading one step of a definition: its kind (job, composed workflow, sleep, signal wait), the
 * fields each kind allows, and the values of those fields. Dependencies and the expressions'
 * references are checked by definition.ts, which sees the whole list of steps.
 */

import { MAX_JOB_TIMEOUT_MS } from '../../../protocols/jobs/constants.js'
import { SECRET_NAME_PATTERN } from '../../../protocols/jobs/secrets.js'
import { isPlainObject, type JsonValue, jsonValueProblem } from '../../../protocols/state/json-value.js'
import {
  ENV_NAME_PATTERN,
  IDENTIFIER_PATTERN,
  MAX_ENV_ENTRIES,
  MAX_VALUE_DEPTH,
  SIGNAL_NAME_PATTERN,
  TRIGGER_RULES,
} from './constants.js'
import { DURATION_EXPECTED, parseDuration } from './duration.js'
import { ExpressionSyntaxError } from './errors.js'
import { type Expression, literalExpression, parseExpression } from './expression.js'
import { type Issues, pathIndex, pathKey } from './issues.js'
import { NO_RETRY, readRetryPolicy } from './retry-policy.js'
import { suggest } from './suggest.js'
import type { CompiledStep, StepKind, TriggerRule } from './types.js'

/** A `workflow:` field of a step: a name to resolve, or an inline definition. */
export interface ChildReference {
  readonly name: string | undefined
  readonly inline: unknown
  readonly path: string
}

/** A step as read from its definition, before compilation places it (same fields as CompiledStep). */
export interface DraftStep
  extends Pick<
    CompiledStep,
    | 'localId'
    | 'path'
    | 'kind'
    | 'runner'
    | 'payload'
    | 'retry'
    | 'timeoutMs'
    | 'when'
    | 'continueOnFailure'
    | 'triggerRule'
    | 'forEach'
    | 'maxParallel'
    | 'sleepMs'
    | 'signal'
    | 'secrets'
  > {
  /** Local indices of valid, distinct dependencies. */
  readonly deps: number[]
  readonly env: Map<string, Expression>
  readonly with: Map<string, Expression>
  readonly child: ChildReference | undefined
}

export interface RawStep {
  readonly index: number
  readonly path: string
  readonly fields: Record<string, unknown>
  readonly id: string | undefined
}

export interface StepReaderContext {
  readonly runners: ReadonlySet<string>
  readonly issues: Issues
}

const COMMON_FIELDS = [
  'id',
  'name',
  'description',
  'depends_on',
  'when',
  'continue_on_failure',
  'trigger_rule',
]
/** The field that makes a step of each kind, and the fields only that kind may have. */
const KINDS: Readonly<Record<StepKind, { marker: string; label: string; fields: readonly string[] }>> = {
  job: {
    marker: 'runner',
    label: 'job step',
    fields: ['runner', 'payload', 'retry', 'timeout', 'for_each', 'max_parallel', 'env', 'secrets'],
  },
  workflow: { marker: 'workflow', label: 'workflow step', fields: ['workflow', 'with'] },
  sleep: { marker: 'sleep', label: 'sleep step', fields: ['sleep'] },
  signal: {
    marker: 'wait_for_signal',
    label: 'wait_for_signal step',
    fields: ['wait_for_signal', 'timeout'],
  },
}
const STEP_KINDS = Object.keys(KINDS) as StepKind[]
export const STEP_FIELDS: readonly string[] = [
  ...COMMON_FIELDS,
  ...new Set(STEP_KINDS.flatMap((kind) => KINDS[kind].fields)),
]
// Shared by every step without bindings, env or secrets (read-only once drafted).
const NO_EXPRESSIONS: Map<string, Expression> = new Map()
const NO_SECRETS: readonly string[] = []

export function unknownFields(
  value: Record<string, unknown>,
  allowed: readonly string[],
  path: string,
  issues: Issues,
): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      issues.add(
        pathKey(path, key),
        `unknown field${suggest(key, allowed)} (expected one of ${allowed.join(', ')})`,
      )
    }
  }
}

export function readExpression(
  value: unknown,
  path: string,
  issues: Issues,
  hint = '',
): Expression | undefined {
  try {
    return parseExpression(value as string)
  } catch (err) {
    if (!(err instanceof ExpressionSyntaxError)) throw err
    issues.add(path, `${err.message}${err.reason.startsWith('unknown name') ? hint : ''}`)
    return undefined
  }
}

function readKind(s: RawStep, ctx: StepReaderContext): StepKind {
  const { fields, path } = s
  // The common case — a job step with only job and common fields — allocates nothing (100k-step files).
  if (
    fields.runner !== undefined &&
    fields.workflow === undefined &&
    fields.sleep === undefined &&
    fields.wait_for_signal === undefined &&
    fields.with === undefined
  )
    return 'job'
  const present = STEP_KINDS.filter((kind) => fields[KINDS[kind].marker] !== undefined)
  if (present.length > 1) {
    const markers = present.map((kind) => KINDS[kind].marker)
    ctx.issues.add(
      path,
      `${markers.slice(0, -1).join(', ')} and ${markers.at(-1)} are mutually exclusive (a step runs a job, runs a workflow, sleeps or waits for a signal)`,
    )
  }
  if (present.length === 0) {
    ctx.issues.add(
      pathKey(path, 'runner'),
      'required (or workflow to run another workflow, sleep to wait a while, wait_for_signal to wait for a signal)',
    )
  }
  const kind = present[0] ?? 'job'
  const own = KINDS[kind].fields
  for (const key of Object.keys(fields)) {
    if (COMMON_FIELDS.includes(key) || own.includes(key) || !STEP_FIELDS.includes(key)) continue
    if (present.some((k) => KINDS[k].fields.includes(key))) continue
    ctx.issues.add(
      pathKey(path, key),
      key === 'with' ? 'only allowed on a workflow step' : `not allowed on a ${KINDS[kind].label}`,
    )
  }
  return kind
}

function readChild(
  fields: Record<string, unknown>,
  path: string,
  issues: Issues,
): ChildReference | undefined {
  const at = pathKey(path, 'workflow')
  const ref = fields.workflow
  if (typeof ref === 'string' && ref.length > 0) return { name: ref, inline: undefined, path: at }
  if (isPlainObject(ref)) return { name: undefined, inline: ref, path: at }
  issues.expected(at, 'a workflow name or an inline workflow definition', ref)
  return undefined
}

function checkRunner(runner: unknown, path: string, ctx: StepReaderContext): void {
  if (typeof runner !== 'string') {
    ctx.issues.expected(pathKey(path, 'runner'), 'a runner kind', runner)
    return
  }
  if (ctx.runners.has(runner)) return
  const known = [...ctx.runners]
  ctx.issues.add(
    pathKey(path, 'runner'),
    `unknown runner kind "${runner}"${suggest(runner, known)} (known: ${known.join(', ')})`,
  )
}

/** Expressions by name: strings are expressions, other JSON values literals (`with`, `env`). */
function readBindings(
  value: unknown,
  path: string,
  issues: Issues,
  options: { what: string; names?: RegExp; max?: number; literals?: 'any' | 'scalar'; hint?: string },
): Map<string, Expression> {
  const bindings = new Map<string, Expression>()
  if (!isPlainObject(value)) {
    issues.expected(path, `an object of ${options.what}`, value)
    return bindings
  }
  const entries = Object.entries(value)
  if (options.max !== undefined && entries.length > options.max)
    issues.add(path, `expected at most ${options.max} entries, got ${entries.length}`)
  for (const [name, binding] of entries) {
    const at = pathKey(path, name)
    if (options.names !== undefined && !options.names.test(name))
      issues.add(at, `expected a name matching ${options.names.source}`)
    if (typeof binding === 'string') {
      // A binding that does not parse still counts as given (no extra "missing input" error).
      bindings.set(name, readExpression(binding, at, issues, options.hint) ?? literalExpression(null))
      continue
    }
    if (options.literals === 'scalar' && binding !== null && typeof binding === 'object') {
      issues.expected(at, 'an expression string, a number, a boolean or null', binding)
      continue
    }
    const problem = jsonValueProblem(binding, MAX_VALUE_DEPTH)
    if (problem === undefined) bindings.set(name, literalExpression(binding as JsonValue))
    else issues.add(at, problem)
  }
  return bindings
}

function readPositiveDuration(value: unknown, path: string, issues: Issues): number | undefined {
  if (value === undefined) return undefined
  const ms = parseDuration(value)
  if (ms === undefined || ms <= 0) {
    issues.expected(path, `${DURATION_EXPECTED} greater than 0`, value)
    return undefined
  }
  return ms
}

function readTriggerRule(value: unknown, path: string, issues: Issues): TriggerRule {
  if (value === undefined) return 'all_success'
  if (typeof value === 'string' && (TRIGGER_RULES as readonly string[]).includes(value))
    return value as TriggerRule
  const hint = typeof value === 'string' ? suggest(value, TRIGGER_RULES) : ''
  issues.add(
    pathKey(path, 'trigger_rule'),
    `expected one of ${TRIGGER_RULES.join(', ')}, got ${JSON.stringify(value)}${hint}`,
  )
  return 'all_success'
}

interface MapFields {
  forEach: Expression | undefined
  maxParallel: number | undefined
}

function readMap(fields: Record<string, unknown>, path: string, issues: Issues): MapFields {
  let forEach: Expression | undefined
  const source = fields.for_each
  if (typeof source === 'string') forEach = readExpression(source, pathKey(path, 'for_each'), issues)
  else if (source !== undefined)
    issues.expected(
      pathKey(path, 'for_each'),
      'an expression yielding a list (e.g. steps.split.output)',
      source,
    )
  let maxParallel: number | undefined
  const max = fields.max_parallel
  if (max !== undefined) {
    if (source === undefined) issues.add(pathKey(path, 'max_parallel'), 'only allowed with for_each')
    else if (typeof max === 'number' && Number.isSafeInteger(max) && max >= 1) maxParallel = max
    else issues.expected(pathKey(path, 'max_parallel'), 'an integer ≥ 1', max)
  }
  return { forEach, maxParallel }
}

function readSignal(value: unknown, path: string, issues: Issues): string | undefined {
  if (typeof value === 'string' && SIGNAL_NAME_PATTERN.test(value)) return value
  issues.expected(
    pathKey(path, 'wait_for_signal'),
    'a signal name (letters, digits, "_", "-", "."; starting with a letter or "_")',
    value,
  )
  return undefined
}

const ENV_HINT = ` (a literal string needs quotes inside the expression, e.g. "'text'")`

function readSecretNames(value: unknown, path: string, issues: Issues): string[] {
  if (!Array.isArray(value)) {
    issues.expected(path, 'a list of secret names', value)
    return []
  }
  const names: string[] = []
  value.forEach((name: unknown, index) => {
    if (typeof name !== 'string' || !SECRET_NAME_PATTERN.test(name)) {
      issues.expected(pathIndex(path, index), 'a variable name matching [A-Za-z_][A-Za-z0-9_]*', name)
    } else if (names.includes(name)) {
      issues.add(pathIndex(path, index), `duplicate secret "${name}"`)
    } else names.push(name)
  })
  return names
}

/** A variable is set by `env` or by `secrets`, not both (which would win is not obvious). */
function checkEnvAgainstSecrets(
  env: ReadonlyMap<string, Expression>,
  secrets: readonly string[],
  path: string,
  issues: Issues,
): void {
  for (const name of env.keys())
    if (secrets.includes(name))
      issues.add(
        pathKey(pathKey(path, 'env'), name),
        `also named in secrets (a variable comes from one or the other)`,
      )
}

/** Reads one step (fields, kind and values); `deps` were resolved by the caller. */
export function readStep(s: RawStep, deps: number[], ctx: StepReaderContext): DraftStep {
  const { fields, path } = s
  const issues = ctx.issues
  unknownFields(fields, STEP_FIELDS, path, issues)
  for (const key of ['name', 'description']) {
    if (fields[key] !== undefined && typeof fields[key] !== 'string')
      issues.expected(pathKey(path, key), 'a string', fields[key])
  }
  const kind = readKind(s, ctx)
  if (kind === 'job' && fields.runner !== undefined) checkRunner(fields.runner, path, ctx)
  const payloadProblem =
    fields.payload === undefined ? undefined : jsonValueProblem(fields.payload, MAX_VALUE_DEPTH)
  if (payloadProblem !== undefined) issues.add(pathKey(path, 'payload'), payloadProblem)
  const timeoutMs =
    kind === 'job' || kind === 'signal'
      ? readPositiveDuration(fields.timeout, pathKey(path, 'timeout'), issues)
      : undefined
  // A job step's timeout becomes its job's `timeoutMs`, which no envelope may carry beyond the max.
  if (kind === 'job' && timeoutMs !== undefined && timeoutMs > MAX_JOB_TIMEOUT_MS) {
    issues.expected(
      pathKey(path, 'timeout'),
      `a job step's timeout of at most ${MAX_JOB_TIMEOUT_MS} ms (7d)`,
      fields.timeout,
    )
  }
  let when: Expression | undefined
  if (typeof fields.when === 'boolean') when = literalExpression(fields.when)
  else if (typeof fields.when === 'string') when = readExpression(fields.when, pathKey(path, 'when'), issues)
  else if (fields.when !== undefined)
    issues.expected(pathKey(path, 'when'), 'an expression string or a boolean', fields.when)
  const cof = fields.continue_on_failure
  if (cof !== undefined && typeof cof !== 'boolean')
    issues.expected(pathKey(path, 'continue_on_failure'), 'a boolean', cof)
  const map = kind === 'job' ? readMap(fields, path, issues) : { forEach: undefined, maxParallel: undefined }
  const env =
    kind === 'job' && fields.env !== undefined
      ? readBindings(fields.env, pathKey(path, 'env'), issues, {
          what: 'environment variable → expression or value',
          names: ENV_NAME_PATTERN,
          max: MAX_ENV_ENTRIES,
          literals: 'scalar',
          hint: ENV_HINT,
        })
      : NO_EXPRESSIONS
  const secrets =
    kind === 'job' && fields.secrets !== undefined
      ? readSecretNames(fields.secrets, pathKey(path, 'secrets'), issues)
      : NO_SECRETS
  if (env.size > 0 && secrets.length > 0) checkEnvAgainstSecrets(env, secrets, path, issues)
  return {
    localId: s.id ?? `#${s.index}`,
    path,
    kind,
    runner: typeof fields.runner === 'string' ? fields.runner : undefined,
    payload: fields.payload === undefined ? null : (fields.payload as JsonValue),
    deps,
    retry:
      kind === 'job' && fields.retry !== undefined
        ? readRetryPolicy(fields.retry, pathKey(path, 'retry'), issues)
        : NO_RETRY,
    timeoutMs,
    when,
    continueOnFailure: cof === true,
    triggerRule: readTriggerRule(fields.trigger_rule, path, issues),
    forEach: map.forEach,
    maxParallel: map.maxParallel,
    sleepMs:
      kind === 'sleep' ? readPositiveDuration(fields.sleep, pathKey(path, 'sleep'), issues) : undefined,
    signal: kind === 'signal' ? readSignal(fields.wait_for_signal, path, issues) : undefined,
    env,
    secrets,
    with:
      kind === 'workflow' && fields.with !== undefined
        ? readBindings(fields.with, pathKey(path, 'with'), issues, {
            what: 'input name → expression or value',
          })
        : NO_EXPRESSIONS,
    child: kind === 'workflow' && fields.workflow !== undefined ? readChild(fields, path, issues) : undefined,
  }
}

/** The step objects of a `steps` (or `on_failure`) list, with valid unique ids recorded. */
export function readRawSteps(
  value: unknown,
  path: string,
  issues: Issues,
  options: { allowEmpty?: boolean; taken?: Map<string, string> } = {},
): RawStep[] {
  if (!Array.isArray(value) || (value.length === 0 && options.allowEmpty !== true)) {
    issues.expected(
      path,
      options.allowEmpty === true ? 'an array of steps' : 'a non-empty array of steps',
      value,
    )
    return []
  }
  const firstPath = options.taken ?? new Map<string, string>()
  const steps: RawStep[] = []
  value.forEach((fields: unknown, index) => {
    const at = pathIndex(path, index)
    if (!isPlainObject(fields)) {
      issues.expected(at, 'a step object', fields)
      return
    }
    let id: string | undefined
    if (typeof fields.id !== 'string' || !IDENTIFIER_PATTERN.test(fields.id)) {
      issues.expected(pathKey(at, 'id'), 'a step id matching [A-Za-z_][A-Za-z0-9_-]*', fields.id)
    } else if (firstPath.has(fields.id)) {
      issues.add(
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
