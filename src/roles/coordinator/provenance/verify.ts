/**
 * Checks a provenance bundle offline (no mesh, no clock but the signed times): every job chains
 * back to the run's signed authority, every output is a result signed by a key the bundle's
 * policy trusts as a runner of that step's capability and bound to that job's envelope, each job
 * was dispatched after its dependencies' results and carries exactly their outputs, and the DAG
 * is the signed document's. Never throws: every failure is reported with the check and the step.
 */
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
  peerIdFromPublicKeyHex,
  signatureChainProblem,
  stepJobId,
  TrustPolicy,
  verifyAuthoritySignature,
  verifyResult,
} from '../../../protocols/jobs/index.js'
import { describeSchemaError } from '../../../protocols/jobs/schema-validator.js'
import type { JsonValue } from '../../../protocols/state/json-value.js'
import { payloadText } from '../scheduling/jobs.js'
import { ScopeEnvironments } from '../scheduling/scopes.js'
import type { RunContext, StepStatus } from '../scheduling/types.js'
import { runnerKindsIn } from '../service/run-entry.js'
import { compileWorkflow } from '../workflow/compile.js'
import { evaluateExpression } from '../workflow/expression-evaluate.js'
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
  more = 0

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
    if (step.kind === 'workflow' && given.attempts.length > 0)
      failures.add('dag', 'a composition step has no jobs of its own', { step: step.id })
  }
  return true
}

interface StepFindings {
  /** Latest `finishedAt` of any believed result (a workflow step: of its children). */
  finishedAt: number | undefined
}

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
      if (step.kind === 'job') this.jobStep(step, given)
      else this.compositionStep(step, given)
    }
  }

  private jobStep(step: CompiledStep, given: BundleStep): void {
    let previous: BundleAttempt | undefined
    let lastSucceeded: unknown[] = []
    let latest: number | undefined
    for (const attempt of given.attempts) {
      const at = { step: step.id, attempt: attempt.attempt }
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
        if (this.job(step, attempt.attempt, job, before)) jobs.set(jobDigest(job), job)
      }
      lastSucceeded = []
      for (const result of attempt.results) {
        this.results++
        const output = this.result(step, attempt.attempt, result, jobs)
        if (output !== undefined) {
          if (result.status === 'succeeded') lastSucceeded.push(output.value)
          latest = Math.max(latest ?? 0, result.finishedAt)
        }
      }
      previous = attempt
    }
    const last = given.attempts.at(-1)
    this.findings[step.index] = { finishedAt: latest }
    this.settle(step, given, () => {
      if (last === undefined) return 'no job was recorded for it'
      return lastSucceeded.some((output) => same(output, given.output ?? null))
        ? undefined
        : `its output is not the output of a signed result of its last attempt (${last.attempt})`
    })
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
  private job(step: CompiledStep, attempt: number, job: JobEnvelope, after: number | undefined): boolean {
    const at = { step: step.id, attempt }
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
      job.step !== step.id ||
      job.attempt !== attempt ||
      job.id !== stepJobId(run, step.id, attempt)
    )
      fail(
        'job_identity',
        `it is ${job.run}/${job.step}/${job.attempt} (id ${job.id}), not ${stepJobId(run, step.id, attempt)}`,
      )
    if (job.runner !== step.runner)
      fail('job_identity', `capability ${job.runner}, the step's is ${step.runner}`)
    if (job.payload !== payloadText(step.payload))
      fail('job_payload', "its payload is not the step's in the signed document")
    if (after !== undefined && job.createdAt + this.skew < after)
      fail('order', `signed at ${job.createdAt}, before the previous attempt's result (${after})`)
    const expected = step.deps.map((d) => (this.workflow.steps[d] as CompiledStep).localId)
    const given = Object.keys(job.input).sort()
    if (!same(given, [...expected].sort()))
      fail(
        'input',
        `its input names ${JSON.stringify(given)}, its dependencies are ${JSON.stringify(expected.sort())}`,
      )
    for (const d of step.deps) {
      const dep = this.workflow.steps[d] as CompiledStep
      const output = this.facts.status[d] === 'succeeded' ? this.facts.output[d] : null
      if (!same(job.input[dep.localId] ?? null, output))
        fail('input', `input.${dep.localId} is not the verified output of step ${dep.id}`)
      const finished = this.findings[d]?.finishedAt
      if (finished !== undefined && job.createdAt + this.skew < finished)
        fail('order', `signed at ${job.createdAt}, before its dependency ${dep.id} finished (${finished})`)
    }
    return true
  }

  /** Checks one result against the attempt's verified jobs; its output when believed. */
  private result(
    step: CompiledStep,
    attempt: number,
    result: RunBundle['steps'][number]['attempts'][number]['results'][number],
    jobs: Map<string, JobEnvelope>,
  ): { value: unknown } | undefined {
    const at = { step: step.id, attempt }
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
      job: { jobId: stepJobId(this.bundle.runId, step.id, attempt), attempt, digest: result.job },
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
    return { value: result.output ?? null }
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
      const expected = Object.fromEntries(
        [...step.outputs].map(([name, expr]) => [name, evaluateExpression(expr, env)]),
      )
      return same(expected, given.output ?? null)
        ? undefined
        : "its output is not its workflow's outputs evaluated over its children's verified outputs"
    })
  }

  /** Records the step's state for the steps after it; a succeeded one only with its output proven. */
  private settle(step: CompiledStep, given: BundleStep, problem: () => string | undefined): void {
    const at = { step: step.id }
    if (given.state !== 'succeeded') {
      if (given.output !== undefined) this.failures.add('output', `a ${given.state} step has an output`, at)
      this.facts.status[step.index] = given.state as StepStatus
      return
    }
    // The recorded output is what dependents are checked against, proven or not: a tampered
    // output fails here, and again at each job that did not get it.
    const why = problem()
    if (why === undefined) this.verifiedOutputs++
    else this.failures.add('output', why, at)
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
