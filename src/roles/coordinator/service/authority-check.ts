/**
 * What the coordinator checks before a signed submission (or trigger registration) becomes a run
 * (or a trigger): the document's shape and signature, that its digests are those of the workflow
 * and inputs that came with it, that the RPC caller is its signer, its validity window, and that
 * the signer may use **every** step's capability — composed workflows included, since they are
 * expanded into steps at compile time. Throws `SubmissionRejectedError` / `CapabilityDeniedError`.
 */
import type { CallerAuthority, CallerIdentity } from '../../../node/caller-authority.js'
import {
  DEFAULT_CLOCK_SKEW_MS,
  documentDigest,
  isTriggerRunId,
  type SignedSubmission,
  type SignedTriggerRegistration,
  validateSubmission,
  validateTriggerRegistration,
  verifyAuthoritySignature,
} from '../../../protocols/jobs/index.js'
import { describeSchemaError } from '../../../protocols/jobs/schema-validator.js'
import type { CompiledWorkflow } from '../workflow/types.js'
import { CapabilityDeniedError, SubmissionRejectedError } from './errors.js'

type Signed = SignedSubmission | SignedTriggerRegistration

/** Checks common to submissions and registrations, in order of cost. */
function checkSigned(
  what: 'submission' | 'registration',
  signed: Signed,
  document: unknown,
  inputs: unknown,
  who: CallerIdentity,
): void {
  if (who.key !== signed.submitter) {
    throw new SubmissionRejectedError(
      'submitter_mismatch',
      `the ${what} is signed by ${signed.submitter} but sent by ${who.key ?? 'an unknown key'}`,
    )
  }
  const authority =
    what === 'submission'
      ? { submission: signed as SignedSubmission }
      : { trigger: signed as SignedTriggerRegistration }
  if (!verifyAuthoritySignature(authority)) {
    throw new SubmissionRejectedError(
      'bad_signature',
      `the ${what}'s signature by ${signed.submitter} does not verify`,
    )
  }
  if (documentDigest(document) !== signed.workflowDigest) {
    throw new SubmissionRejectedError(
      'digest_mismatch',
      `${what}.workflowDigest is not the SHA-256 of the workflow document sent with it`,
    )
  }
  if (documentDigest(inputs) !== signed.inputsDigest) {
    throw new SubmissionRejectedError(
      'digest_mismatch',
      `${what}.inputsDigest is not the SHA-256 of the inputs sent with it`,
    )
  }
}

/** Validity window: checked only where the document is presented, never on its run's jobs. */
export function checkWindow(what: string, signed: Signed, now: number): void {
  if (now >= signed.expiresAt) {
    throw new SubmissionRejectedError(
      'expired',
      `the ${what} expired at ${new Date(signed.expiresAt).toISOString()}`,
    )
  }
  if (signed.createdAt > now + DEFAULT_CLOCK_SKEW_MS) {
    throw new SubmissionRejectedError(
      'not_yet_valid',
      `the ${what} was created ${signed.createdAt - now} ms in the future (tolerance ${DEFAULT_CLOCK_SKEW_MS} ms)`,
    )
  }
  if (signed.expiresAt <= signed.createdAt) {
    throw new SubmissionRejectedError('malformed', `the ${what} expires before it was created`)
  }
}

export function checkSubmission(
  value: unknown,
  document: unknown,
  inputs: unknown,
  who: CallerIdentity,
): SignedSubmission {
  if (!validateSubmission(value)) {
    throw new SubmissionRejectedError(
      'malformed',
      describeSchemaError('submission', validateSubmission.errors),
    )
  }
  if (isTriggerRunId(value.runId)) {
    throw new SubmissionRejectedError(
      'malformed',
      `submission.runId ${JSON.stringify(value.runId)}: the "cron." and "hook." prefixes are reserved for triggers`,
    )
  }
  checkSigned('submission', value, document, inputs, who)
  return value
}

export interface RegistrationFields {
  name: string
  kind: 'cron' | 'http'
  schedule?: string | undefined
  timezone?: string | undefined
  overlap?: string | undefined
  catch_up?: boolean | number | undefined
}

export function checkRegistration(
  value: unknown,
  fields: RegistrationFields,
  document: unknown,
  inputs: unknown,
  who: CallerIdentity,
): SignedTriggerRegistration {
  if (!validateTriggerRegistration(value)) {
    throw new SubmissionRejectedError(
      'malformed',
      describeSchemaError('registration', validateTriggerRegistration.errors),
    )
  }
  for (const key of ['name', 'kind', 'schedule', 'timezone', 'overlap', 'catch_up'] as const) {
    if (value[key] !== fields[key]) {
      throw new SubmissionRejectedError(
        'digest_mismatch',
        `registration.${key} is ${JSON.stringify(value[key])}, the trigger's is ${JSON.stringify(fields[key])}`,
      )
    }
  }
  checkSigned('registration', value, document, inputs, who)
  return value
}

/**
 * Every job step's capability must be allowed to `who` (policy and, for gateway callers, grant):
 * the message names the first step that is not, by path and id.
 */
export function checkStepCapabilities(
  workflow: CompiledWorkflow,
  authority: CallerAuthority,
  who: CallerIdentity,
): void {
  for (const step of workflow.steps) {
    if (step.kind !== 'job' || step.runner === undefined) continue
    const decision = authority.decide(who, ['client', 'coordinator'], step.runner)
    if (!decision.admitted) {
      throw new CapabilityDeniedError(`${step.path} "${step.id}"`, step.runner, decision.message)
    }
  }
}
