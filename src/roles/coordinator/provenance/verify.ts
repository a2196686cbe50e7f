/**
 * Checks a provenance bundle offline (no mesh, no clock but the signed times): every job chains
 * back to the run's signed authority, every output is a result signed by a key the bundle's
 * policy trusts as a runner of that step's capability and bound to that job's envelope, each job
 * was dispatched after its dependencies' results and carries exactly their outputs, and the DAG
 * is the signed document's. Never throws: every failure is reported with the check and the step.
 */

import { blobRef, isBlobRef } from '../../../protocols/blob/ref.js'
import {
  authorityRunMismatch,
  authoritySigner,
  canonicalJson,
  DEFAULT_CLOCK_SKEW_MS,
  defaultEd25519,
  documentDigest,
  fromHex,
  type JobEnvelope,
  jobDigest,
  normalizePublicKey,
  outputDigest,
  peerIdFromPublicKeyHex,
  signatureChainProblem,
  stepJobId,
  TrustPolicy,
  verifyAuthoritySignature,
  verifyResult,
} from '../../../protocols/jobs/index.js'
import { describeSchemaError } from '../../../protocols/jobs/schema-validator.js'
import { isPlainObject, type JsonObject, type JsonValue } from '../../../protocols/state/json-value.js'
import { payloadText } from '../scheduling/jobs.js'
import { ScopeEnvironments } from '../scheduling/scopes.js'
import { triggerRuleVerdict, type UpstreamCounts } from '../scheduling/trigger-rules.js'
import type { RunContext, StepStatus } from '../scheduling/types.js'
import { runnerKindsIn } from '../service/run-entry.js'
import { compileWorkflow } from '../workflow/compile.js'
import type { CompiledStep, CompiledWorkflow } from '../workflow/types.js'
import { type BundleAttempt, type BundleStep, bundleSigningBytes, type RunBundle } from './bundle.js'
import { validateRunBundle } from './bundle-schema.js'

/** What `verifyRunBundle` checks; each failure names one. */
export const BUNDLE_CHECKS = [
  'format',
  'export',
  'keys',
  'authority',
  'document',
  'inputs',
  'dag',
  'job_signature',
  'job_signer',
  'job_authority',
  'job_identity',
  'job_payload',
  'input',
  'order',
  'result',
  'result_binding',
  'output',
  'trigger_rule',
  'items',
  'signal',
] as const
export type BundleCheck = (typeof BUNDLE_CHECKS)[number]

export interface BundleFailure {
  check: BundleCheck
  step?: string
  attempt?: number
  message: string
}

export interface RunBundleReport {
  /** True only when no check failed. */
  ok: boolean
  runId?: string
  /** Hex key the run executed for (the authority's signer). */
  submitter?: string
  steps: number
  jobs: number
  results: number
  /** Succeeded steps whose output was traced to signed results. */
  verifiedOutputs: number
  failures: BundleFailure[]
  /** Failures beyond `MAX_REPORTED_FAILURES`, not listed. */
  moreFailures: number
  /**
   * What the bundle cannot prove either way, listed rather than passed in silence: a signal's data
   * (the deliverer signs nothing: the exporter attests who delivered it), the order of steps after
   * a sleep or signal step (no signed time), an expression over a blob the bundle does not carry.
   * `ok` does not depend on them; read them before relying on those steps.
   */
  notProven: BundleFailure[]
}

export interface VerifyBundleOptions {
  /**
   * How far a signed time may be behind the one it must follow (a job's `createdAt` after its
   * dependencies' `finishedAt`), for clocks of different machines. @default DEFAULT_CLOCK_SKEW_MS
   */
  clockSkewMs?: number
  /** When given (hex key or peer ID), the run's authority must be signed by this key. */
  submitter?: string
}

/** Failures listed in a report; more are only counted. */
export const MAX_REPORTED_FAILURES = 100

class Failures {
  readonly list: BundleFailure[] = []
  readonly unproven: BundleFailure[] = []
  more = 0

  notProven(check: BundleCheck, message: string, at: { step?: string; attempt?: number } = {}): void {
    if (this.unproven.length < MAX_REPORTED_FAILURES) this.unproven.push({ check, ...at, message })
  }

  add(check: BundleCheck, message: string, at: { step?: string; attempt?: number } = {}): void {
    if (this.list.length >= MAX_REPORTED_FAILURES) this.more++
    else this.list.push({ check, ...at, message })
  }

  get count(): number {
    return this.list.length + this.more
  }
}

function same(a: unknown, b: unknown): boolean {
  try {
    return canonicalJson(a) === canonicalJson(b)
  } catch {
    return false
  }
}

function parse(input: unknown, failures: Failures): RunBundle | undefined {
  let value = input
  if (typeof input === 'string' || input instanceof Uint8Array) {
    try {
      value = JSON.parse(
        typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: true }).decode(input),
      )
    } catch (err) {
      failures.add('format', `the bundle is not JSON: ${(err as Error).message}`)
      return undefined
    }
  }
  if (!validateRunBundle(value)) {
    failures.add('format', describeSchemaError('bundle', validateRunBundle.errors))
    return undefined
  }
  return value
}

/** The bundle's keys as a policy (entries without roles trust nothing). */
function policyOf(bundle: RunBundle, failures: Failures): TrustPolicy {
  for (const [i, entry] of bundle.keys.entries()) {
    if (peerIdFromPublicKeyHex(entry.key).toString() !== entry.peerId)
      failures.add('keys', `keys[${i}].peerId ${entry.peerId} is not the peer ID of key ${entry.key}`)
  }
  try {
    return TrustPolicy.parse(
      {
        keys: bundle.keys
          .filter((entry) => entry.roles.length > 0)
          .map((entry) => ({
            key: entry.key,
            ...(entry.name === undefined ? {} : { name: entry.name }),
            roles: entry.roles,
            capabilities: entry.capabilities,
          })),
      },
      { path: 'keys' },
    )
  } catch (err) {
    failures.add('keys', (err as Error).message)
    return TrustPolicy.parse({})
  }
}

/** The exporter's signature over every byte, by a key the bundle names as a coordinator. */
function checkExporter(bundle: RunBundle, policy: TrustPolicy, failures: Failures): void {
  const { signature, ...unsigned } = bundle
  let valid = false
  try {
    valid = defaultEd25519.verify(
      fromHex(signature),
      bundleSigningBytes(unsigned),
      fromHex(bundle.exportedBy),
    )
  } catch {
    valid = false
  }
  if (!valid)
    failures.add(
      'export',
      `the exporter's signature by ${bundle.exportedBy} does not verify: the bundle was changed after export`,
    )
  const decision = policy.decide(bundle.exportedBy, { role: 'coordinator' })
  if (!decision.admitted)
    failures.add('export', `the exporter is not a coordinator of the bundle's keys: ${decision.message}`)
}

/** The authority's signature, its run, its digests and the signer's trust for every step. */
function checkAuthority(bundle: RunBundle, failures: Failures, options: VerifyBundleOptions): void {
  const { authority } = bundle
  const signer = authoritySigner(authority)
  if (!verifyAuthoritySignature(authority))
    failures.add('authority', `the authority's signature by ${signer} does not verify`)
  const mismatch = authorityRunMismatch(authority, bundle.runId)
  if (mismatch !== undefined) failures.add('authority', mismatch)
  if (options.submitter !== undefined) {
    let expected: string
    try {
      expected = normalizePublicKey(options.submitter)
    } catch {
      expected = options.submitter
    }
    if (expected !== signer)
      failures.add('authority', `the run was submitted by ${signer}, not by ${options.submitter}`)
  }
  const signed = 'submission' in authority ? authority.submission : authority.trigger
  if (documentDigest(bundle.workflow) !== signed.workflowDigest)
    failures.add('document', "the workflow document is not the one the authority's workflowDigest covers")
  // A hook firing's inputs are the request body, which the registrar never saw: not covered.
  const inputsSigned = 'submission' in authority || authority.trigger.kind === 'cron'
  if (inputsSigned && documentDigest(bundle.inputs) !== signed.inputsDigest)
    failures.add('inputs', "the inputs are not the ones the authority's inputsDigest covers")
}

function compile(bundle: RunBundle, failures: Failures): CompiledWorkflow | undefined {
  try {
    return compileWorkflow(bundle.workflow, { runners: runnerKindsIn(bundle.workflow) })
  } catch (err) {
    failures.add('document', `the workflow document does not compile: ${(err as Error).message}`)
    return undefined
  }
}

/** The bundle's steps must be the compiled document's, in its order, with its dependencies. */
function checkDag(bundle: RunBundle, workflow: CompiledWorkflow, failures: Failures): boolean {
  if (bundle.steps.length !== workflow.steps.length) {
    failures.add('dag', `the bundle has ${bundle.steps.length} steps, the workflow ${workflow.steps.length}`)
    return false
  }
  for (const [i, step] of workflow.steps.entries()) {
    const given = bundle.steps[i] as BundleStep
    const expected = {
      id: step.id,
      kind: step.kind,
      runner: step.runner,
      dependsOn: step.deps.map((d) => (workflow.steps[d] as CompiledStep).id),
    }
    const actual = { id: given.id, kind: given.kind, runner: given.runner, dependsOn: given.dependsOn }
    if (!same(expected, actual)) {
      failures.add(
        'dag',
        `steps[${i}] is ${JSON.stringify(actual)}; the workflow's step there is ${JSON.stringify(expected)}`,
        { step: step.id },
      )
      return false
    }
    if ((step.kind !== 'job' || step.forEach !== undefined) && given.attempts.length > 0)
      failures.add(
        'dag',
        `a ${step.forEach === undefined ? step.kind : 'for_each'} step has no jobs of its own`,
        {
          step: step.id,
        },
      )
    if (given.items !== undefined && step.forEach === undefined)
      failures.add('dag', 'only a for_each step has items', { step: step.id })
    if (given.signal !== undefined && step.signal !== given.signal.name)
      failures.add('dag', `it waits for no signal "${given.signal.name}"`, { step: step.id })
  }
  return true
}

interface StepFindings {
  /** Latest `finishedAt` of any believed result (a workflow or for_each step: of its children). */
  finishedAt: number | undefined
}

type Where = { step: string; attempt?: number }

/**
 * The digest a value is known by: a blob reference's, else its canonical JSON's SHA-256 (what a
 * runner's `outputDigest` holds). Comparing digests compares values without the bundle carrying
 * the bytes of a blob.
 */
function valueDigest(value: unknown): string {
  return isBlobRef(value) ? value.$blob : outputDigest(value ?? null)
}

function sameValue(a: unknown, b: unknown): boolean {
  try {
    return valueDigest(a) === valueDigest(b)
  } catch {
    return false
  }
}

/** Upstream outcomes as the trigger rules count them; a `skipped` one counted as `skippedAs`. */
function upstreamCounts(states: readonly string[], skippedAs: 'skipped' | 'failed'): UpstreamCounts {
  const c = { total: states.length, succeeded: 0, failed: 0, skipped: 0, unfinished: 0 }
  for (const state of states) {
    if (state === 'succeeded') c.succeeded++
    else if (state === 'failed' || state === 'cancelled') c.failed++
    else if (state === 'skipped') c[skippedAs]++
    else c.unfinished++
  }
  return c
}

/** Rules under which a step waits for every dependency to finish before it runs. */
const WAITS_FOR_ALL: ReadonlySet<string> = new Set(['all_success', 'none_failed', 'all_done', 'all_failed'])

class BundleVerifier {
  readonly facts: {
    status: StepStatus[]
    output: JsonValue[]
    error: undefined[]
    entries: undefined[]
    outputOf(index: number): JsonValue
    runContext(): RunContext
  }
  readonly findings: StepFindings[]
  readonly envs: ScopeEnvironments
  jobs = 0
  results = 0
  verifiedOutputs = 0

  constructor(
    readonly bundle: RunBundle,
    readonly workflow: CompiledWorkflow,
    readonly policy: TrustPolicy,
    readonly failures: Failures,
    readonly skew: number,
  ) {
    const n = workflow.steps.length
    const output: JsonValue[] = Array(n).fill(null)
    this.facts = {
      status: Array(n).fill('pending'),
      output,
      error: [],
      entries: [],
      outputOf: (index) => output[index] ?? null,
      runContext: () => ({ id: bundle.runId, workflow: workflow.name, error: null }),
    }
    this.findings = Array.from({ length: n }, () => ({ finishedAt: undefined }))
    // No blob loader: an expression that looks inside a blob throws, and is reported not proven.
    this.envs = new ScopeEnvironments(workflow, bundle.inputs as Record<string, JsonValue>, this.facts)
  }

  run(): void {
    const authority = this.bundle.authority
    const signer = authoritySigner(authority)
    for (const step of this.workflow.steps) {
      if (step.kind !== 'job' || step.runner === undefined) continue
      const decision = this.policy.decide(signer, {
        role: ['client', 'coordinator'],
        capability: step.runner,
      })
      if (!decision.admitted)
        this.failures.add('authority', `the submitter may not run this step: ${decision.message}`, {
          step: step.id,
        })
    }
    for (const step of this.workflow.steps) {
      const given = this.bundle.steps[step.index] as BundleStep
      this.checkTrigger(step, given)
      if (step.forEach !== undefined) this.mapStep(step, given)
      else if (step.kind === 'job') this.jobStep(step, given)
      else if (step.kind === 'workflow') this.compositionStep(step, given)
      else if (step.kind === 'signal') this.signalStep(step, given)
      else this.sleepStep(step, given)
    }
  }

  /**
   * A step that ran must have been allowed to by its trigger rule, given how its dependencies
   * ended; an `on_failure` step only once the run failed. A `skipped` dependency may have been
   * skipped by choice or because something upstream failed (the bundle does not say): the rule
   * must allow the run under one of the two.
   */
  private checkTrigger(step: CompiledStep, given: BundleStep): void {
    // A step cancelled or skipped before it started did not run (a cancelled job step did).
    const started = given.attempts.length > 0 || given.items !== undefined
    if (!started && ['pending', 'skipped', 'cancelled'].includes(given.state)) return
    const at = { step: step.id }
    if (step.onFailure) {
      const failed = this.bundle.steps.some(
        (other, i) => !(this.workflow.steps[i] as CompiledStep).onFailure && other.state === 'failed',
      )
      if (!failed && this.bundle.status !== 'failed')
        this.failures.add(
          'trigger_rule',
          `an on_failure step ran (${given.state}) though the run did not fail`,
          at,
        )
    }
    const states = step.deps.map((d) => (this.bundle.steps[d] as BundleStep).state)
    const verdicts = [
      triggerRuleVerdict(step.triggerRule, upstreamCounts(states, 'skipped')),
      triggerRuleVerdict(step.triggerRule, upstreamCounts(states, 'failed')),
    ]
    if (!verdicts.includes('run'))
      this.failures.add(
        'trigger_rule',
        `it ran (${given.state}) though its trigger rule ${step.triggerRule} does not allow it after its dependencies ended ${JSON.stringify(states)}`,
        at,
      )
  }

  /** The attempts of one job (a step, or a for_each child `id`): what they prove. */
  private attempts(
    step: CompiledStep,
    id: string,
    attempts: readonly BundleAttempt[],
    item: { index: number; list: JsonValue[] | undefined } | undefined,
  ): { last: BundleAttempt | undefined; lastSucceeded: unknown[]; finishedAt: number | undefined } {
    let previous: BundleAttempt | undefined
    let lastSucceeded: unknown[] = []
    let latest: number | undefined
    for (const attempt of attempts) {
      const at = { step: id, attempt: attempt.attempt }
      // Retries and reruns (retry_workflow epochs) alike are further attempts, numbered upwards.
      if (previous !== undefined && attempt.attempt <= previous.attempt)
        this.failures.add(
          'job_identity',
          `attempts out of order: ${attempt.attempt} after ${previous.attempt}`,
          at,
        )
      const before = previous === undefined ? undefined : this.latestFinish(previous)
      const jobs = new Map<string, JobEnvelope>()
      for (const job of attempt.jobs) {
        this.jobs++
        if (this.job(step, id, attempt.attempt, job, before, item)) jobs.set(jobDigest(job), job)
      }
      lastSucceeded = []
      for (const result of attempt.results) {
        this.results++
        const output = this.result(step, id, attempt.attempt, result, jobs)
        if (output !== undefined) {
          if (result.status === 'succeeded') lastSucceeded.push(output.value)
          latest = Math.max(latest ?? 0, result.finishedAt)
        }
      }
      previous = attempt
    }
    return { last: attempts.at(-1), lastSucceeded, finishedAt: latest }
  }

  /** Why `output` is not proven by the attempts, or undefined when it is. */
  private outputProblem(
    proof: { last: BundleAttempt | undefined; lastSucceeded: unknown[] },
    output: unknown,
  ) {
    if (proof.last === undefined) return 'no job was recorded for it'
    return proof.lastSucceeded.some((value) => sameValue(value, output ?? null))
      ? undefined
      : `its output is not the output of a signed result of its last attempt (${proof.last.attempt})`
  }

  private jobStep(step: CompiledStep, given: BundleStep): void {
    const proof = this.attempts(step, step.id, given.attempts, undefined)
    this.findings[step.index] = { finishedAt: proof.finishedAt }
    this.settle(step, given, () => this.outputProblem(proof, given.output))
  }

  /**
   * A for_each step: each child is a job step of its own (`<step>[<index>]`) whose input is its
   * element of the list; the step's output is the list of its children's outputs.
   */
  private mapStep(step: CompiledStep, given: BundleStep): void {
    const items = given.items ?? []
    let list: JsonValue[] | undefined
    // A list that was empty completes the step at once, with no children recorded.
    if (given.items !== undefined || given.state === 'succeeded') {
      const value = this.tryEvaluate(step.id, 'its for_each list', () =>
        this.envs.resolve(this.envs.evaluate(step.forEach as NonNullable<typeof step.forEach>, step.scope)),
      )
      if (value !== undefined) {
        if (!Array.isArray(value))
          this.failures.add('items', 'its for_each expression is not a list', { step: step.id })
        else {
          list = value
          if (value.length !== items.length)
            this.failures.add('items', `it has ${items.length} children for a list of ${value.length}`, {
              step: step.id,
            })
        }
      }
    }
    let finished: number | undefined
    const outputs: unknown[] = []
    for (const [i, child] of items.entries()) {
      const id = `${step.id}[${i}]`
      if (child.index !== i)
        this.failures.add('items', `items[${i}] has index ${child.index}`, { step: step.id })
      const proof = this.attempts(step, id, child.attempts, { index: i, list })
      if (proof.finishedAt !== undefined) finished = Math.max(finished ?? 0, proof.finishedAt)
      if (child.state === 'succeeded') {
        const why = this.outputProblem(proof, child.output)
        if (why !== undefined) this.failures.add('output', why, { step: id })
        outputs.push(child.output ?? null)
      } else {
        if (child.output !== undefined)
          this.failures.add('output', `a ${child.state} child has an output`, { step: id })
        outputs.push(null)
      }
    }
    this.findings[step.index] = { finishedAt: finished }
    this.settle(step, given, () =>
      same(outputs, given.output ?? null)
        ? undefined
        : "its output is not the list of its children's outputs",
    )
  }

  /**
   * A signal step's output is the signal's data, delivered by a key allowed to control the run:
   * its submitter or an `admin` of the bundle's keys. The deliverer signs nothing, so who it was is
   * the exporter's word: reported not proven even when it checks out.
   */
  private signalStep(step: CompiledStep, given: BundleStep): void {
    const at = { step: step.id }
    const signal = given.signal
    if (given.state === 'succeeded') {
      if (signal === undefined)
        this.failures.add('signal', 'it succeeded but no delivered signal was recorded', at)
      else {
        const by = signal.deliveredBy
        const submitter = authoritySigner(this.bundle.authority)
        if (by === null)
          this.failures.notProven('signal', `who delivered signal "${signal.name}" is not recorded`, at)
        else if (by !== submitter && !this.policy.admits(by, { role: 'admin' }))
          this.failures.add(
            'signal',
            `signal "${signal.name}" was delivered by ${by}, neither the submitter nor an admin of the bundle's keys`,
            at,
          )
        else
          this.failures.notProven(
            'signal',
            `signal "${signal.name}" is attested by the exporter as delivered by ${by === submitter ? 'the submitter' : `admin ${by}`}; the deliverer did not sign its data`,
            at,
          )
      }
    }
    this.findings[step.index] = { finishedAt: undefined }
    this.noSignedTime(step, given)
    this.settle(
      step,
      given,
      () =>
        signal !== undefined && same(signal.data, given.output ?? null)
          ? undefined
          : "its output is not the delivered signal's data",
      false,
    )
  }

  /** A sleep step has no output; when it ended is not signed by anyone. */
  private sleepStep(step: CompiledStep, given: BundleStep): void {
    this.findings[step.index] = { finishedAt: undefined }
    this.noSignedTime(step, given)
    const { output, ...rest } = given
    if (output !== undefined && output !== null)
      this.failures.add('output', 'a sleep step has no output', { step: step.id })
    this.settle(step, rest, () => undefined, false)
  }

  private noSignedTime(step: CompiledStep, given: BundleStep): void {
    if (given.state === 'succeeded' && step.dependents.length > 0)
      this.failures.notProven(
        'order',
        `a ${step.kind} step carries no signed time: that its dependents started after it ended is not proven`,
        { step: step.id },
      )
  }

  /** Evaluates an expression over the verified outputs; undefined (reported) when it needs a blob. */
  private tryEvaluate(at: string, what: string, evaluate: () => JsonValue): JsonValue | undefined {
    try {
      return evaluate()
    } catch (err) {
      this.failures.notProven('input', `${what} cannot be evaluated offline: ${(err as Error).message}`, {
        step: at,
      })
      return undefined
    }
  }

  /** The latest `finishedAt` among an attempt's results (signed by runners). */
  private latestFinish(attempt: BundleAttempt): number | undefined {
    const times = attempt.results.map((r) => r.finishedAt)
    return times.length === 0 ? undefined : Math.max(...times)
  }

  /**
   * Checks one envelope; true when its signatures verify, so results may be bound to it (a job
   * that fails another check is reported once, not again at its result and its step's output).
   */
  private job(
    step: CompiledStep,
    id: string,
    attempt: number,
    job: JobEnvelope,
    after: number | undefined,
    item: { index: number; list: JsonValue[] | undefined } | undefined,
  ): boolean {
    const at: Where = { step: id, attempt }
    const chain = signatureChainProblem(job)
    if (chain !== undefined) {
      this.failures.add('job_signature', `job ${job.id}: ${chain.message}`, at)
      return false
    }
    const fail = (check: BundleCheck, message: string): void => {
      this.failures.add(check, `job ${job.id}: ${message}`, at)
    }
    for (const link of job.signatures) {
      const decision = this.policy.decide(link.key, { role: 'coordinator' })
      if (!decision.admitted) fail('job_signer', `signed by ${link.key}: ${decision.message}`)
    }
    if (!same(job.authority ?? null, this.bundle.authority))
      fail('job_authority', "its authority is not the run's signed authority")
    const run = this.bundle.runId
    if (
      job.run !== run ||
      job.step !== id ||
      job.attempt !== attempt ||
      job.id !== stepJobId(run, id, attempt)
    )
      fail(
        'job_identity',
        `it is ${job.run}/${job.step}/${job.attempt} (id ${job.id}), not ${stepJobId(run, id, attempt)}`,
      )
    if (job.runner !== step.runner)
      fail('job_identity', `capability ${job.runner}, the step's is ${step.runner}`)
    if (job.payload !== payloadText(step.payload))
      fail('job_payload', "its payload is not the step's in the signed document")
    if (after !== undefined && job.createdAt + this.skew < after)
      fail('order', `signed at ${job.createdAt}, before the previous attempt's result (${after})`)
    if (item === undefined) this.dependencyInput(step, job, fail)
    else this.itemInput(item, job, fail)
    this.orderAfterDependencies(step, job, fail)
    this.context(step, id, job, item, fail)
    return true
  }

  /** A step's job gets its dependencies' outputs (null for one that had not succeeded). */
  private dependencyInput(
    step: CompiledStep,
    job: JobEnvelope,
    fail: (c: BundleCheck, m: string) => void,
  ): void {
    const expected = step.deps.map((d) => (this.workflow.steps[d] as CompiledStep).localId)
    const given = Object.keys(job.input).sort()
    if (!same(given, [...expected].sort()))
      fail(
        'input',
        `its input names ${JSON.stringify(given)}, its dependencies are ${JSON.stringify(expected.sort())}`,
      )
    // Under a rule that does not wait for every dependency, one may not have finished yet.
    const early = !WAITS_FOR_ALL.has(step.triggerRule)
    for (const d of step.deps) {
      const dep = this.workflow.steps[d] as CompiledStep
      const output = this.facts.status[d] === 'succeeded' ? this.facts.output[d] : null
      const value = job.input[dep.localId] ?? null
      if (!sameValue(value, output) && !(early && value === null))
        fail('input', `input.${dep.localId} is not the verified output of step ${dep.id}`)
    }
  }

  /** A for_each child's job gets `{ item, index }`: its element of the evaluated list. */
  private itemInput(
    item: { index: number; list: JsonValue[] | undefined },
    job: JobEnvelope,
    fail: (c: BundleCheck, m: string) => void,
  ): void {
    if (!same(Object.keys(job.input).sort(), ['index', 'item']) || job.input.index !== item.index)
      fail('input', `its input is not { item, index: ${item.index} }`)
    else if (item.list !== undefined && !sameValue(job.input.item, item.list[item.index] ?? null))
      fail('input', `input.item is not element ${item.index} of the step's for_each list`)
  }

  /** Signed after the dependencies it had to wait for finished (by their signed results' times). */
  private orderAfterDependencies(
    step: CompiledStep,
    job: JobEnvelope,
    fail: (c: BundleCheck, m: string) => void,
  ): void {
    if (step.triggerRule === 'always' || step.deps.length === 0) return
    const times = step.deps.map((d) => ({
      id: (this.workflow.steps[d] as CompiledStep).id,
      finished: this.findings[d]?.finishedAt,
    }))
    if (WAITS_FOR_ALL.has(step.triggerRule)) {
      for (const { id, finished } of times)
        if (finished !== undefined && job.createdAt + this.skew < finished)
          fail('order', `signed at ${job.createdAt}, before its dependency ${id} finished (${finished})`)
      return
    }
    // one_failed / one_success: after the first dependency that finished.
    const known = times.flatMap((t) => (t.finished === undefined ? [] : [t.finished]))
    if (known.length === times.length && job.createdAt + this.skew < Math.min(...known))
      fail('order', `signed at ${job.createdAt}, before any of its dependencies finished`)
  }

  /** The signed `env` and `context` are what the document and the verified outputs give. */
  private context(
    step: CompiledStep,
    id: string,
    job: JobEnvelope,
    item: { index: number; list: JsonValue[] | undefined } | undefined,
    fail: (c: BundleCheck, m: string) => void,
  ): void {
    const context = job.context
    if (context !== undefined) {
      const run = isPlainObject(context.run) ? context.run : {}
      // A job of another run is reported once, by its identity.
      const otherRun = job.run !== this.bundle.runId
      if (!otherRun && (run.id !== this.bundle.runId || run.workflow !== this.workflow.name))
        fail('job_identity', 'its context names another run or workflow')
      const inputs = this.tryEvaluate(id, 'its context inputs', () => this.envs.inputs(step.scope))
      if (inputs !== undefined && !same(context.inputs ?? null, inputs))
        fail('input', "its context inputs are not its workflow's inputs")
    }
    if (step.env.size === 0) return
    const env = this.tryEvaluate(id, 'its env', () => {
      const list = item?.list
      const element = list === undefined || item === undefined ? undefined : (list[item.index] ?? null)
      if (item !== undefined && element === undefined) throw new Error('its for_each list is not known')
      const scope =
        item === undefined ? step.scope : this.envs.withItem(step.scope, element as JsonValue, item.index)
      const out: JsonObject = {}
      for (const [name, expression] of step.env) {
        const value = this.envs.evaluate(expression, scope)
        if (value !== null) out[name] = typeof value === 'string' ? value : JSON.stringify(value)
      }
      return out
    })
    if (env !== undefined && !same(job.env ?? {}, env))
      fail('input', "its env is not the step's env evaluated")
  }

  /** Checks one result against the attempt's verified jobs; its output when believed. */
  private result(
    step: CompiledStep,
    id: string,
    attempt: number,
    result: BundleAttempt['results'][number],
    jobs: Map<string, JobEnvelope>,
  ): { value: unknown } | undefined {
    const at = { step: id, attempt }
    const job = jobs.get(result.job)
    if (job === undefined) {
      this.failures.add(
        'result_binding',
        `result of ${result.jobId} answers envelope ${result.job}, which is not a verified job of this attempt`,
        at,
      )
      return undefined
    }
    const capability = step.runner as string
    const outcome = verifyResult(result, {
      job: { jobId: stepJobId(this.bundle.runId, id, attempt), attempt, digest: result.job },
      trusted: (key) => this.policy.admits(key, { role: 'runner', capability }),
    })
    if (!outcome.ok) {
      this.failures.add('result', `${outcome.reason}: ${outcome.message}`, at)
      return undefined
    }
    if (result.startedAt + this.skew < job.createdAt) {
      this.failures.add(
        'order',
        `result of ${result.jobId} started at ${result.startedAt}, before its job was signed (${job.createdAt})`,
        at,
      )
      return undefined
    }
    // A big output travels as its signed digest only: it proves a blob reference with that digest.
    return {
      value: result.outputDigest === undefined ? (result.output ?? null) : blobRef(result.outputDigest, 0),
    }
  }

  /** A composition step's output is its child workflow's outputs over its children's verified ones. */
  private compositionStep(step: CompiledStep, given: BundleStep): void {
    let finished: number | undefined
    for (const child of step.children.values()) {
      const t = this.findings[child]?.finishedAt
      if (t !== undefined) finished = Math.max(finished ?? 0, t)
    }
    this.findings[step.index] = { finishedAt: finished }
    this.settle(step, given, () => {
      const env = this.envs.scope(step.index)
      let expected: JsonObject
      try {
        expected = Object.fromEntries(
          [...step.outputs].map(([name, expr]) => [name, this.envs.evaluate(expr, env)]),
        )
      } catch (err) {
        this.failures.notProven(
          'output',
          `its outputs cannot be evaluated offline: ${(err as Error).message}`,
          { step: step.id },
        )
        return undefined
      }
      return same(expected, given.output ?? null)
        ? undefined
        : "its output is not its workflow's outputs evaluated over its children's verified outputs"
    })
  }

  /** Records the step's state for the steps after it; a succeeded one only with its output proven. */
  private settle(
    step: CompiledStep,
    given: BundleStep,
    problem: () => string | undefined,
    traced = true,
  ): void {
    const at = { step: step.id }
    if (given.state !== 'succeeded') {
      if (given.output !== undefined) this.failures.add('output', `a ${given.state} step has an output`, at)
      this.facts.status[step.index] = given.state as StepStatus
      return
    }
    // The recorded output is what dependents are checked against, proven or not: a tampered
    // output fails here, and again at each job that did not get it.
    const why = problem()
    if (why === undefined) {
      if (traced) this.verifiedOutputs++
    } else this.failures.add('output', why, at)
    this.facts.status[step.index] = 'succeeded'
    this.facts.output[step.index] = (given.output ?? null) as JsonValue
  }
}

/** Checks a bundle (object, JSON text or bytes) offline; see the module comment. Never throws. */
export function verifyRunBundle(input: unknown, options: VerifyBundleOptions = {}): RunBundleReport {
  const failures = new Failures()
  const report = (bundle?: RunBundle, verifier?: BundleVerifier): RunBundleReport => ({
    ok: failures.count === 0,
    ...(bundle === undefined ? {} : { runId: bundle.runId, submitter: authoritySigner(bundle.authority) }),
    steps: bundle?.steps.length ?? 0,
    jobs: verifier?.jobs ?? 0,
    results: verifier?.results ?? 0,
    verifiedOutputs: verifier?.verifiedOutputs ?? 0,
    failures: failures.list,
    moreFailures: failures.more,
    notProven: failures.unproven,
  })
  try {
    const bundle = parse(input, failures)
    if (bundle === undefined) return report()
    const policy = policyOf(bundle, failures)
    checkExporter(bundle, policy, failures)
    checkAuthority(bundle, failures, options)
    const workflow = compile(bundle, failures)
    if (workflow === undefined || !checkDag(bundle, workflow, failures)) return report(bundle)
    const verifier = new BundleVerifier(
      bundle,
      workflow,
      policy,
      failures,
      options.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS,
    )
    verifier.run()
    return report(bundle, verifier)
  } catch (err) {
    failures.add(
      'format',
      `the bundle cannot be checked: ${err instanceof Error ? err.message : String(err)}`,
    )
    return report()
  }
}
