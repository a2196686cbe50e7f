/**
 * The JSON encoding of run state and its validation. Everything a peer sends (gossip deltas,
 * anti-entropy replies) and everything read back from disk goes through `decodeRunStateJson`;
 * the first malformed field refuses the whole input with a `StateDecodeError` listing every issue.
 */

import { validateJobAuthority } from '../jobs/authority-schema.js'
import { describeSchemaError } from '../jobs/schema-validator.js'
import {
  DEFAULT_DECODE_LIMITS,
  RUN_ID_PATTERN,
  STATE_ENCODING_VERSION,
  type StateDecodeLimits,
} from './constants.js'
import { StateDecodeError, type StateIssue } from './errors.js'
import { isHlcString } from './hlc.js'
import {
  describeValue,
  isPlainObject,
  type JsonObject,
  type JsonValue,
  jsonValueProblem,
} from './json-value.js'
import {
  type CancelRecord,
  type LeaseRecord,
  LOG_SEVERITIES,
  type LogEntry,
  type PausedRecord,
  type RerunRecord,
  type RunMeta,
  type SignalRecord,
  STEP_PHASES,
  type StepEntry,
  type StepError,
  type StepPhase,
} from './lattice.js'

export interface RunStateJson {
  readonly v: typeof STATE_ENCODING_VERSION
  readonly run: string
  readonly meta?: RunMeta
  readonly cancelled?: CancelRecord
  readonly paused?: PausedRecord
  readonly lease?: LeaseRecord
  readonly rerun?: RerunRecord
  readonly steps?: Readonly<Record<string, StepEntry>>
  readonly signals?: Readonly<Record<string, SignalRecord>>
  readonly log?: readonly LogEntry[]
}

const PHASES: ReadonlySet<string> = new Set(STEP_PHASES)
const SEVERITIES: ReadonlySet<string> = new Set(LOG_SEVERITIES)

type Fields = Record<string, unknown>

/** Collects issues while reading one untrusted object tree. */
class Reader {
  readonly issues: StateIssue[] = []
  readonly limits: Required<StateDecodeLimits>

  constructor(limits: StateDecodeLimits) {
    this.limits = { ...DEFAULT_DECODE_LIMITS, ...limits }
  }

  fail(path: string, message: string): undefined {
    if (this.issues.length < 100) this.issues.push({ path, message })
    return undefined
  }

  object(value: unknown, path: string, allowed: readonly string[]): Fields | undefined {
    if (!isPlainObject(value)) return this.fail(path, `expected an object, got ${describeValue(value)}`)
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) this.fail(`${path}.${key}`, 'unknown field')
    }
    return value
  }

  string(value: unknown, path: string): string | undefined {
    if (typeof value !== 'string') return this.fail(path, `expected a string, got ${describeValue(value)}`)
    if (value.length > this.limits.maxStringLength) {
      return this.fail(
        path,
        `expected at most ${this.limits.maxStringLength} characters, got ${value.length}`,
      )
    }
    return value
  }

  optionalString(value: unknown, path: string): string | undefined {
    return value === undefined ? undefined : this.string(value, path)
  }

  stamp(value: unknown, path: string): string | undefined {
    if (isHlcString(value)) return value
    return this.fail(path, `expected an HLC stamp "WWWWWWWWWWWWWWW-CCCCCC-node", got ${describeValue(value)}`)
  }

  time(value: unknown, path: string): number | undefined {
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value
    return this.fail(path, `expected a non-negative integer (ms), got ${describeValue(value)}`)
  }

  optionalTime(value: unknown, path: string): number | undefined {
    return value === undefined ? undefined : this.time(value, path)
  }

  json(value: unknown, path: string, maxDepth = this.limits.maxDepth): JsonValue | undefined {
    const problem = jsonValueProblem(value, maxDepth)
    return problem === undefined ? (value as JsonValue) : this.fail(path, problem)
  }
}

/** Copies only defined values, so `exactOptionalPropertyTypes` holds for decoded records. */
function defined<T extends object>(record: { [K in keyof T]: T[K] | undefined }): T {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(record)) if (value !== undefined) out[key] = value
  return out as T
}

function readError(r: Reader, value: unknown, path: string): StepError | undefined {
  const fields = r.object(value, path, ['message', 'type', 'nonRetryable', 'data'])
  if (fields === undefined) return undefined
  const message = r.string(fields.message, `${path}.message`)
  const type = r.optionalString(fields.type, `${path}.type`)
  if (fields.nonRetryable !== undefined && typeof fields.nonRetryable !== 'boolean') {
    r.fail(`${path}.nonRetryable`, `expected a boolean, got ${describeValue(fields.nonRetryable)}`)
  }
  const data = fields.data === undefined ? undefined : r.json(fields.data, `${path}.data`)
  if (message === undefined) return undefined
  return defined<StepError>({ message, type, nonRetryable: fields.nonRetryable as boolean | undefined, data })
}

const STEP_FIELDS = [
  'attempt',
  'phase',
  'hlc',
  'result',
  'error',
  'reason',
  'retryAt',
  'dispatchedAt',
  'startedAt',
  'finishedAt',
  'firstDispatchedAt',
  'items',
  'base',
]

function optionalCount(r: Reader, value: unknown, path: string, min: number): number | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= min) return value
  return r.fail(path, `expected an integer ≥ ${min}, got ${describeValue(value)}`)
}

function readStep(r: Reader, value: unknown, path: string): StepEntry | undefined {
  const f = r.object(value, path, STEP_FIELDS)
  if (f === undefined) return undefined
  const before = r.issues.length
  const attempt = f.attempt
  if (typeof attempt !== 'number' || !Number.isSafeInteger(attempt) || attempt < 1) {
    r.fail(`${path}.attempt`, `expected an integer ≥ 1, got ${describeValue(attempt)}`)
  }
  const phase = f.phase
  if (typeof phase !== 'string' || !PHASES.has(phase)) {
    r.fail(`${path}.phase`, `expected one of ${STEP_PHASES.join(', ')}, got ${describeValue(phase)}`)
  }
  // Named in the messages below: a phase that is not a string (an object whose toString is not a
  // function, even) is described, never converted.
  const phaseText = typeof phase === 'string' ? phase : describeValue(phase)
  const hlc = r.stamp(f.hlc, `${path}.hlc`)
  const result = f.result === undefined ? undefined : r.json(f.result, `${path}.result`)
  if (f.result !== undefined && phase !== 'succeeded')
    r.fail(`${path}.result`, `not allowed in phase ${phaseText}`)
  const error = f.error === undefined ? undefined : readError(r, f.error, `${path}.error`)
  // A retrying entry may keep the error that caused the retry.
  if (phase === 'failed' && f.error === undefined) r.fail(`${path}.error`, 'required in phase failed')
  if (f.error !== undefined && phase !== 'failed' && phase !== 'retrying') {
    r.fail(`${path}.error`, `not allowed in phase ${phaseText}`)
  }
  const retryAt = r.optionalTime(f.retryAt, `${path}.retryAt`)
  if ((f.retryAt !== undefined) !== (phase === 'retrying')) {
    r.fail(
      `${path}.retryAt`,
      phase === 'retrying' ? 'required in phase retrying' : `not allowed in phase ${phaseText}`,
    )
  }
  const reason = r.optionalString(f.reason, `${path}.reason`)
  const dispatchedAt = r.optionalTime(f.dispatchedAt, `${path}.dispatchedAt`)
  const startedAt = r.optionalTime(f.startedAt, `${path}.startedAt`)
  const finishedAt = r.optionalTime(f.finishedAt, `${path}.finishedAt`)
  const firstDispatchedAt = r.optionalTime(f.firstDispatchedAt, `${path}.firstDispatchedAt`)
  const items = optionalCount(r, f.items, `${path}.items`, 0)
  if (items !== undefined && items > r.limits.maxSteps)
    r.fail(`${path}.items`, `more than ${r.limits.maxSteps} items`)
  const base = optionalCount(r, f.base, `${path}.base`, 1)
  if (base !== undefined && typeof attempt === 'number' && base > attempt)
    r.fail(`${path}.base`, `expected at most the attempt (${attempt}), got ${base}`)
  if (r.issues.length > before || hlc === undefined) return undefined
  return defined<StepEntry>({
    attempt: attempt as number,
    phase: phase as StepPhase,
    hlc,
    result,
    error,
    reason,
    retryAt,
    dispatchedAt,
    startedAt,
    finishedAt,
    firstDispatchedAt,
    items,
    base,
  })
}

function readLogEntry(r: Reader, value: unknown, path: string): LogEntry | undefined {
  const f = r.object(value, path, ['hlc', 'kind', 'type', 'severity', 'message', 'step', 'attempt', 'data'])
  if (f === undefined) return undefined
  const before = r.issues.length
  const hlc = r.stamp(f.hlc, `${path}.hlc`)
  if (f.kind !== 'event' && f.kind !== 'log')
    r.fail(`${path}.kind`, `expected "event" or "log", got ${describeValue(f.kind)}`)
  const type = r.string(f.type, `${path}.type`)
  if (typeof f.severity !== 'string' || !SEVERITIES.has(f.severity)) {
    r.fail(
      `${path}.severity`,
      `expected one of ${LOG_SEVERITIES.join(', ')}, got ${describeValue(f.severity)}`,
    )
  }
  const message = r.string(f.message, `${path}.message`)
  const step = r.optionalString(f.step, `${path}.step`)
  if (
    f.attempt !== undefined &&
    (typeof f.attempt !== 'number' || !Number.isSafeInteger(f.attempt) || f.attempt < 1)
  ) {
    r.fail(`${path}.attempt`, `expected an integer ≥ 1, got ${describeValue(f.attempt)}`)
  }
  const data = f.data === undefined ? undefined : r.json(f.data, `${path}.data`)
  if (r.issues.length > before || hlc === undefined || type === undefined || message === undefined)
    return undefined
  return defined<LogEntry>({
    hlc,
    kind: f.kind as LogEntry['kind'],
    type,
    severity: f.severity as LogEntry['severity'],
    message,
    step,
    attempt: f.attempt as number | undefined,
    data,
  })
}

function readMeta(r: Reader, value: unknown, path: string): RunMeta | undefined {
  const f = r.object(value, path, ['hlc', 'workflow', 'inputs', 'secrets', 'authority', 'submittedInputs'])
  if (f === undefined) return undefined
  const hlc = r.stamp(f.hlc, `${path}.hlc`)
  const workflow = r.json(f.workflow, `${path}.workflow`, r.limits.maxDefinitionDepth)
  if (!isPlainObject(f.inputs))
    return r.fail(`${path}.inputs`, `expected an object, got ${describeValue(f.inputs)}`)
  const inputs = r.json(f.inputs, `${path}.inputs`)
  if (f.secrets !== undefined && !isPlainObject(f.secrets))
    return r.fail(`${path}.secrets`, `expected an object, got ${describeValue(f.secrets)}`)
  const secrets = f.secrets === undefined ? undefined : r.json(f.secrets, `${path}.secrets`)
  if (f.authority !== undefined && !validateJobAuthority(f.authority)) {
    return r.fail(
      `${path}.authority`,
      `not a signed submission or trigger registration (${describeSchemaError('authority', validateJobAuthority.errors)})`,
    )
  }
  if (f.submittedInputs !== undefined && !isPlainObject(f.submittedInputs))
    return r.fail(`${path}.submittedInputs`, `expected an object, got ${describeValue(f.submittedInputs)}`)
  const submittedInputs =
    f.submittedInputs === undefined ? undefined : r.json(f.submittedInputs, `${path}.submittedInputs`)
  if (hlc === undefined || workflow === undefined || inputs === undefined) return undefined
  if (f.secrets !== undefined && secrets === undefined) return undefined
  if (f.submittedInputs !== undefined && submittedInputs === undefined) return undefined
  return defined<RunMeta>({
    hlc,
    workflow,
    inputs: inputs as JsonObject,
    secrets: secrets as JsonObject | undefined,
    authority: f.authority as JsonObject | undefined,
    submittedInputs: submittedInputs as JsonObject | undefined,
  })
}

function readCancel(r: Reader, value: unknown, path: string): CancelRecord | undefined {
  const f = r.object(value, path, ['hlc', 'reason', 'epoch'])
  if (f === undefined) return undefined
  const hlc = r.stamp(f.hlc, `${path}.hlc`)
  const reason = r.optionalString(f.reason, `${path}.reason`)
  const epoch = optionalCount(r, f.epoch, `${path}.epoch`, 0)
  return hlc === undefined ? undefined : defined<CancelRecord>({ hlc, reason, epoch })
}

function readRerun(r: Reader, value: unknown, path: string): RerunRecord | undefined {
  const f = r.object(value, path, ['epoch', 'hlc', 'steps'])
  if (f === undefined) return undefined
  const hlc = r.stamp(f.hlc, `${path}.hlc`)
  const epoch = optionalCount(r, f.epoch, `${path}.epoch`, 1)
  if (f.epoch === undefined) r.fail(`${path}.epoch`, 'required')
  let steps: string[] | undefined
  if (f.steps !== undefined) {
    if (!Array.isArray(f.steps) || f.steps.length > r.limits.maxSteps)
      return r.fail(`${path}.steps`, `expected an array of step ids, got ${describeValue(f.steps)}`)
    steps = []
    f.steps.forEach((step, i) => {
      const id = r.string(step, `${path}.steps[${i}]`)
      if (id !== undefined) steps?.push(id)
    })
  }
  if (hlc === undefined || epoch === undefined) return undefined
  return defined<RerunRecord>({ epoch, hlc, steps })
}

function readSignals(r: Reader, value: unknown): Record<string, SignalRecord> | undefined {
  if (!isPlainObject(value)) return r.fail('signals', `expected an object, got ${describeValue(value)}`)
  const out: Array<[string, SignalRecord]> = []
  for (const [name, raw] of Object.entries(value)) {
    const path = `signals[${JSON.stringify(name.slice(0, 80))}]`
    if (name.length === 0 || name.length > 256) r.fail(path, 'signal name must be 1-256 characters')
    const f = r.object(raw, path, ['hlc', 'data'])
    if (f === undefined) continue
    const hlc = r.stamp(f.hlc, `${path}.hlc`)
    const data = r.json(f.data === undefined ? null : f.data, `${path}.data`)
    if (hlc !== undefined && data !== undefined) out.push([name, { hlc, data }])
  }
  return Object.fromEntries(out)
}

function readPaused(r: Reader, value: unknown, path: string): PausedRecord | undefined {
  const f = r.object(value, path, ['paused', 'hlc'])
  if (f === undefined) return undefined
  const hlc = r.stamp(f.hlc, `${path}.hlc`)
  if (typeof f.paused !== 'boolean')
    return r.fail(`${path}.paused`, `expected a boolean, got ${describeValue(f.paused)}`)
  return hlc === undefined ? undefined : { paused: f.paused, hlc }
}

function readLease(r: Reader, value: unknown, path: string): LeaseRecord | undefined {
  const f = r.object(value, path, ['owner', 'expiresAt', 'hlc'])
  if (f === undefined) return undefined
  const owner = r.string(f.owner, `${path}.owner`)
  const expiresAt = r.time(f.expiresAt, `${path}.expiresAt`)
  const hlc = r.stamp(f.hlc, `${path}.hlc`)
  if (owner === undefined || expiresAt === undefined || hlc === undefined) return undefined
  return { owner, expiresAt, hlc }
}

function readSteps(r: Reader, value: unknown): Record<string, StepEntry> | undefined {
  if (!isPlainObject(value)) return r.fail('steps', `expected an object, got ${describeValue(value)}`)
  const entries = Object.entries(value)
  if (entries.length > r.limits.maxSteps) return r.fail('steps', `more than ${r.limits.maxSteps} steps`)
  const out: Array<[string, StepEntry]> = []
  for (const [id, raw] of entries) {
    const path = `steps[${JSON.stringify(id.slice(0, 80))}]`
    if (id.length === 0 || id.length > 256) r.fail(path, 'step id must be 1-256 characters')
    const entry = readStep(r, raw, path)
    if (entry !== undefined) out.push([id, entry])
  }
  return Object.fromEntries(out)
}

function readLog(r: Reader, value: unknown): LogEntry[] | undefined {
  if (!Array.isArray(value)) return r.fail('log', `expected an array, got ${describeValue(value)}`)
  if (value.length > r.limits.maxLogEntries)
    return r.fail('log', `more than ${r.limits.maxLogEntries} entries`)
  const out: LogEntry[] = []
  value.forEach((raw, index) => {
    const entry = readLogEntry(r, raw, `log[${index}]`)
    if (entry !== undefined) out.push(entry)
  })
  return out
}

/** Parses (when given text or bytes) and validates run state; throws `StateDecodeError`. */
export function decodeRunStateJson(input: unknown, limits: StateDecodeLimits = {}): RunStateJson {
  let value = input
  if (typeof input === 'string' || input instanceof Uint8Array) {
    try {
      value = JSON.parse(typeof input === 'string' ? input : new TextDecoder().decode(input))
    } catch (err) {
      throw new StateDecodeError([{ path: '', message: `not JSON: ${(err as Error).message}` }], err)
    }
  }
  const r = new Reader(limits)
  const f = r.object(value, '', [
    'v',
    'run',
    'meta',
    'cancelled',
    'paused',
    'lease',
    'rerun',
    'steps',
    'signals',
    'log',
  ])
  if (f === undefined) throw new StateDecodeError(r.issues)
  if (f.v !== STATE_ENCODING_VERSION)
    r.fail('v', `expected ${STATE_ENCODING_VERSION}, got ${describeValue(f.v)}`)
  if (typeof f.run !== 'string' || !RUN_ID_PATTERN.test(f.run)) {
    r.fail('run', `expected a run id (1-128 of A-Z a-z 0-9 _ . : -), got ${describeValue(f.run)}`)
  }
  const decoded = defined<RunStateJson>({
    v: STATE_ENCODING_VERSION,
    run: f.run as string,
    meta: f.meta === undefined ? undefined : readMeta(r, f.meta, 'meta'),
    cancelled: f.cancelled === undefined ? undefined : readCancel(r, f.cancelled, 'cancelled'),
    paused: f.paused === undefined ? undefined : readPaused(r, f.paused, 'paused'),
    lease: f.lease === undefined ? undefined : readLease(r, f.lease, 'lease'),
    rerun: f.rerun === undefined ? undefined : readRerun(r, f.rerun, 'rerun'),
    steps: f.steps === undefined ? undefined : readSteps(r, f.steps),
    signals: f.signals === undefined ? undefined : readSignals(r, f.signals),
    log: f.log === undefined ? undefined : readLog(r, f.log),
  })
  if (r.issues.length > 0) throw new StateDecodeError(r.issues)
  return decoded
}
