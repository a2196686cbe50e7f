/**
 * Builds a run's provenance bundle from its replicated state: the signed authority, the document
 * and inputs it digests, each step attempt's signed envelopes (`job_dispatched` records) and
 * signed results (`job_result` records), and the policy entries of every key that signed any of
 * them, as the exporter's policy holds them now. What the records left out to stay small is put
 * back: an envelope's `input` is its dependencies' outputs, a big result output is its step's.
 */
import {
  authoritySigner,
  type JobAuthority,
  type JobEnvelope,
  type JobResult,
  jobDigest,
  peerIdFromPublicKeyHex,
  type Signer,
  type TrustPolicy,
  toHex,
} from '../../../protocols/jobs/index.js'
import type { JsonObject, JsonValue } from '../../../protocols/state/json-value.js'
import type { RunState } from '../../../protocols/state/run-state.js'
import { mapOutput } from '../scheduling/evaluate.js'
import { childIds, resolveStep } from '../scheduling/map-steps.js'
import { SIGNAL_RECEIVED_TYPE } from '../scheduling/signals.js'
import { JOB_DISPATCHED_TYPE } from '../service/dispatch-record.js'
import { JOB_RESULT_TYPE } from '../service/result-record.js'
import type { CompiledStep, CompiledWorkflow } from '../workflow/types.js'
import {
  type BundleAttempt,
  type BundleItem,
  type BundleKey,
  type BundleSignal,
  type BundleStep,
  RUN_BUNDLE_FORMAT,
  type RunBundle,
  signRunBundle,
} from './bundle.js'

export interface ExportInit {
  state: RunState
  workflow: CompiledWorkflow
  /** The run's signed authority (`runAuthority(meta)`). */
  authority: JobAuthority
  status: string
  policy: TrustPolicy
  /** The exporting coordinator's key: it signs the bundle. */
  signer: Signer
  /** @default Date.now() */
  now?: number
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * The step's output when it succeeded: what its dependents got as input (a `for_each` step's is
 * derived from its children, as the scheduler derives it).
 */
function outputOf(state: RunState, workflow: CompiledWorkflow, id: string): JsonValue {
  const entry = state.step(id)
  if (entry?.phase !== 'succeeded') return null
  const step = workflow.byId.get(id)
  if (step?.forEach !== undefined && entry.items !== undefined) return mapOutput(state, step, entry)
  return entry.result ?? null
}

/** The `input` the scheduler gave a job of `step`: its dependencies' outputs by local id. */
function rebuiltInput(state: RunState, workflow: CompiledWorkflow, step: CompiledStep): JsonObject {
  const input: JsonObject = {}
  for (const d of step.deps) {
    const dep = workflow.steps[d] as CompiledStep
    input[dep.localId] = outputOf(state, workflow, dep.id)
  }
  return input
}

function attemptOf(attempts: Map<number, BundleAttempt>, attempt: number): BundleAttempt {
  let found = attempts.get(attempt)
  if (found === undefined) {
    found = { attempt, jobs: [], results: [] }
    attempts.set(attempt, found)
  }
  return found
}

/**
 * Envelopes and results by step id (a `for_each` child under its own `<step>[<index>]`), from the
 * run's log; duplicates (same digest, same signature) once.
 */
function recordsByStep(state: RunState, workflow: CompiledWorkflow): Map<string, Map<number, BundleAttempt>> {
  const out = new Map<string, Map<number, BundleAttempt>>()
  const seen = new Set<string>()
  for (const entry of state.log()) {
    if (entry.step === undefined || entry.attempt === undefined || !isObject(entry.data)) continue
    const resolved = resolveStep(workflow, entry.step)
    if (resolved === undefined) continue
    const { step, item } = resolved
    let attempts = out.get(entry.step)
    if (attempts === undefined) {
      attempts = new Map()
      out.set(entry.step, attempts)
    }
    const data = entry.data
    if (entry.type === JOB_DISPATCHED_TYPE && isObject(data.envelope)) {
      const envelope = { ...data.envelope } as unknown as JobEnvelope
      // A child's input is its element, which the run does not store: left out, its result's
      // binding to the envelope fails at verification (reported, never passed).
      if (data.inputElided === true && item === undefined)
        envelope.input = rebuiltInput(state, workflow, step)
      const key = `job|${jobDigest(envelope)}|${envelope.signatures.map((s) => s.sig).join(',')}`
      if (seen.has(key)) continue
      seen.add(key)
      attemptOf(attempts, entry.attempt).jobs.push(envelope)
    } else if (entry.type === JOB_RESULT_TYPE && isObject(data.result)) {
      const result = { ...data.result } as unknown as JobResult
      if (data.outputElided === true) result.output = outputOf(state, workflow, entry.step)
      if (seen.has(`result|${result.signature}`)) continue
      seen.add(`result|${result.signature}`)
      attemptOf(attempts, entry.attempt).results.push(result)
    }
  }
  return out
}

function bundleKey(policy: TrustPolicy, key: string): BundleKey {
  const entry = policy.lookup(key)
  return {
    key,
    peerId: peerIdFromPublicKeyHex(key).toString(),
    ...(entry?.name === undefined ? {} : { name: entry.name }),
    roles: entry === undefined ? [] : [...entry.roles].sort(),
    capabilities: entry === undefined ? [] : [...entry.capabilities].sort(),
  }
}

function sortedAttempts(records: Map<string, Map<number, BundleAttempt>>, id: string): BundleAttempt[] {
  return [...(records.get(id)?.values() ?? [])].sort((a, b) => a.attempt - b.attempt)
}

/** The children of a `for_each` step that started. */
function itemsOf(
  state: RunState,
  step: CompiledStep,
  records: Map<string, Map<number, BundleAttempt>>,
): BundleItem[] | undefined {
  const items = state.step(step.id)?.items
  if (step.forEach === undefined || items === undefined) return undefined
  return childIds(step, items).map((id, index) => {
    const child = state.step(id)
    return {
      index,
      state: child?.phase ?? 'pending',
      ...(child?.phase === 'succeeded' ? { output: child.result ?? null } : {}),
      attempts: sortedAttempts(records, id),
    }
  })
}

/** The signal a signal step waits for, once delivered, with who delivered it (from the run's log). */
function signalOf(state: RunState, step: CompiledStep): BundleSignal | undefined {
  if (step.signal === undefined) return undefined
  const delivered = state.signal(step.signal)
  if (delivered === undefined) return undefined
  let deliveredBy: string | null = null
  for (const entry of state.log()) {
    if (entry.type !== SIGNAL_RECEIVED_TYPE || !isObject(entry.data) || entry.data.name !== step.signal)
      continue
    if (typeof entry.data.by === 'string') deliveredBy = entry.data.by
    break
  }
  return { name: step.signal, data: delivered.data, deliveredBy }
}

export function exportRunBundle(init: ExportInit): RunBundle {
  const { state, workflow } = init
  const meta = state.meta
  const records = recordsByStep(state, workflow)
  const signers = new Set<string>([authoritySigner(init.authority), toHex(init.signer.publicKey)])
  const steps: BundleStep[] = workflow.steps.map((step) => {
    const entry = state.step(step.id)
    const attempts = sortedAttempts(records, step.id)
    const items = itemsOf(state, step, records)
    const signal = signalOf(state, step)
    for (const attempt of [...attempts, ...(items ?? []).flatMap((item) => item.attempts)]) {
      for (const job of attempt.jobs) for (const link of job.signatures) signers.add(link.key)
      for (const result of attempt.results) signers.add(result.runner)
    }
    if (signal?.deliveredBy !== null && signal?.deliveredBy !== undefined) signers.add(signal.deliveredBy)
    return {
      id: step.id,
      kind: step.kind,
      ...(step.runner === undefined ? {} : { runner: step.runner }),
      dependsOn: step.deps.map((d) => (workflow.steps[d] as CompiledStep).id),
      state: entry?.phase ?? 'pending',
      // A sleep has no output (the scheduler's null stands for none).
      ...(entry?.phase === 'succeeded' && step.kind !== 'sleep'
        ? { output: outputOf(state, workflow, step.id) }
        : {}),
      attempts,
      ...(items === undefined ? {} : { items }),
      ...(signal === undefined ? {} : { signal }),
    }
  })
  return signRunBundle(
    {
      format: RUN_BUNDLE_FORMAT,
      runId: state.run,
      exportedAt: new Date(init.now ?? Date.now()).toISOString(),
      status: init.status,
      authority: init.authority,
      workflow: meta?.workflow ?? null,
      inputs: meta?.submittedInputs ?? meta?.inputs ?? {},
      steps,
      keys: [...signers].sort().map((key) => bundleKey(init.policy, key)),
    },
    init.signer,
  )
}
