/**
 * A trigger definition: a name, a kind (`cron` with a schedule, or `http`), the workflow to run
 * and its inputs. Read from the config or from `coordinator.register_trigger`, checked once here.
 */
import { Cron } from 'croner'
import { type SignedTriggerRegistration, validateTriggerRegistration } from '../../../protocols/jobs/index.js'
import { type CatchUp, OVERLAP_POLICIES, type OverlapPolicy } from './cron-plan.js'

export type TriggerKind = 'cron' | 'http'

export interface TriggerDefinition {
  /** `[A-Za-z0-9_-]{1,64}`: it appears in `/hooks/<name>` and in run ids. */
  name: string
  kind: TriggerKind
  /** Cron expression (5 or 6 fields, seconds first when 6); `cron` only. */
  schedule?: string
  /** IANA time zone of the schedule. @default the process's */
  timezone?: string
  /** The workflow document (object) or its YAML/JSON text. */
  workflow: unknown
  /** Run inputs; an HTTP trigger's JSON body is merged over them. */
  inputs?: Record<string, unknown>
  /**
   * HTTP only: the key of the `X-Horus-Signature-256: sha256=<hex HMAC-SHA256 of the body>` header
   * a hook call must carry (unless it carries the gateway's bearer token). At least 16 characters.
   */
  secret?: string
  /**
   * Who the trigger's runs execute for: signed by the client that registered it, or by this
   * coordinator for the config's own triggers (signed at start).
   */
  registration?: SignedTriggerRegistration
  /** `cron` only: a tick while an earlier run of this trigger is unfinished. @default 'skip' */
  overlap?: OverlapPolicy
  /** `cron` only: start ticks missed while no coordinator ran (true, or at most n). @default false */
  catch_up?: CatchUp
}

export const TRIGGER_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/

export type TriggerRead = { ok: true; trigger: TriggerDefinition } | { ok: false; issues: string[] }

const KEYS = [
  'name',
  'kind',
  'schedule',
  'timezone',
  'workflow',
  'inputs',
  'secret',
  'registration',
  'overlap',
  'catch_up',
]
const MIN_SECRET_LENGTH = 16

export function readTriggerDefinition(raw: unknown, path: string): TriggerRead {
  const issues: string[] = []
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, issues: [`${path}: expected a mapping { name, kind, schedule?, workflow, inputs? }`] }
  }
  const t = raw as Record<string, unknown>
  for (const key of Object.keys(t)) {
    if (!KEYS.includes(key)) issues.push(`${path}.${key}: unknown field (known: ${KEYS.join(', ')})`)
  }
  if (typeof t.name !== 'string' || !TRIGGER_NAME_PATTERN.test(t.name))
    issues.push(`${path}.name: expected 1-64 letters, digits, "_" or "-", got ${JSON.stringify(t.name)}`)
  if (t.kind !== 'cron' && t.kind !== 'http')
    issues.push(`${path}.kind: expected "cron" or "http", got ${JSON.stringify(t.kind)}`)
  if (t.timezone !== undefined && typeof t.timezone !== 'string')
    issues.push(`${path}.timezone: expected an IANA time zone name, got ${JSON.stringify(t.timezone)}`)
  if (t.kind === 'cron') {
    if (typeof t.schedule !== 'string')
      issues.push(`${path}.schedule: expected a cron expression, got ${JSON.stringify(t.schedule)}`)
    else {
      try {
        new Cron(t.schedule, {
          paused: true,
          ...(typeof t.timezone === 'string' ? { timezone: t.timezone } : {}),
        }).stop()
      } catch (err) {
        issues.push(`${path}.schedule: ${(err as Error).message}`)
      }
    }
  } else {
    for (const key of ['schedule', 'overlap', 'catch_up'])
      if (t[key] !== undefined) issues.push(`${path}.${key}: only allowed on a cron trigger`)
  }
  if (t.overlap !== undefined && !OVERLAP_POLICIES.includes(t.overlap as OverlapPolicy))
    issues.push(
      `${path}.overlap: expected one of ${OVERLAP_POLICIES.join(', ')}, got ${JSON.stringify(t.overlap)}`,
    )
  const catchUp = t.catch_up
  if (
    catchUp !== undefined &&
    typeof catchUp !== 'boolean' &&
    !(typeof catchUp === 'number' && Number.isSafeInteger(catchUp) && catchUp >= 1)
  )
    issues.push(
      `${path}.catch_up: expected true, false or a number of ticks ≥ 1, got ${JSON.stringify(catchUp)}`,
    )
  if (
    t.workflow === undefined ||
    t.workflow === null ||
    (typeof t.workflow !== 'string' && typeof t.workflow !== 'object')
  )
    issues.push(`${path}.workflow: expected a workflow document or its YAML/JSON text`)
  if (
    t.inputs !== undefined &&
    (typeof t.inputs !== 'object' || t.inputs === null || Array.isArray(t.inputs))
  )
    issues.push(`${path}.inputs: expected a mapping of input names to values`)
  if (t.secret !== undefined) {
    if (typeof t.secret !== 'string' || t.secret.length < MIN_SECRET_LENGTH)
      issues.push(`${path}.secret: expected a string of at least ${MIN_SECRET_LENGTH} characters`)
    else if (t.kind !== 'http') issues.push(`${path}.secret: only an HTTP trigger has a secret`)
  }
  if (t.registration !== undefined && !validateTriggerRegistration(t.registration))
    issues.push(`${path}.registration: expected a signed trigger registration`)
  if (issues.length > 0) return { ok: false, issues }
  const trigger: TriggerDefinition = {
    name: t.name as string,
    kind: t.kind as TriggerKind,
    workflow: t.workflow,
  }
  if (typeof t.schedule === 'string') trigger.schedule = t.schedule
  if (typeof t.timezone === 'string') trigger.timezone = t.timezone
  if (t.inputs !== undefined) trigger.inputs = t.inputs as Record<string, unknown>
  if (typeof t.secret === 'string') trigger.secret = t.secret
  if (t.registration !== undefined) trigger.registration = t.registration as SignedTriggerRegistration
  if (t.overlap !== undefined) trigger.overlap = t.overlap as OverlapPolicy
  if (catchUp !== undefined) trigger.catch_up = catchUp as CatchUp
  return { ok: true, trigger }
}
