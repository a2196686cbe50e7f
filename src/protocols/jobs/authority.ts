/**
 * Whose authority a run's jobs execute under. A client signs its run **submission** (a small
 * document: the run id it chose, the digest of the workflow document, the digest of the inputs, a
 * nonce, a validity window and its key); whoever registers a trigger signs its **registration**
 * the same way. Every step job of the run carries that signed document as `authority`, so a
 * supervisor or runner checks the submitter's trust entry for the step's capability, not only the
 * coordinator's that signed the job (no confused deputy), and a job cannot claim a run its
 * authority does not name.
 *
 * Signatures cover the RFC 8785 canonical JSON of
 *   `{ "submission": <submission without signature>, "type": "horus/v1/submission" }` or
 *   `{ "trigger": <registration without signature>, "type": "horus/v1/trigger" }`;
 * the `type` member is a domain tag, as for jobs and results. Digests are SHA-256 (hex) of the
 * canonical JSON of the parsed workflow document and of the inputs object, so the document itself
 * travels once (in the run's replicated state), never in every job.
 */
import { createHash } from 'node:crypto'
import { validateSubmission, validateTriggerRegistration } from './authority-schema.js'
import { canonicalJson, signedDocumentBytes } from './canonical.js'
import { DEFAULT_SUBMISSION_TTL_MS, SUBMISSION_SIGNING_DOMAIN, TRIGGER_SIGNING_DOMAIN } from './constants.js'
import type { Ed25519Backend } from './ed25519.js'
import { InvalidAuthorityError } from './errors.js'
import { fromHex, toHex } from './keys.js'
import { NONCE_BYTES, randomHex } from './random-hex.js'
import { describeSchemaError } from './schema-validator.js'
import { defaultEd25519, type Signer } from './signer.js'

interface SignedFields {
  /** SHA-256 (hex) of the canonical JSON of the parsed workflow document. */
  workflowDigest: string
  /** SHA-256 (hex) of the canonical JSON of the inputs object. */
  inputsDigest: string
  /** 16 random bytes, hex. */
  nonce: string
  /** Milliseconds since the Unix epoch. */
  createdAt: number
  /** Checked once, where the document is presented (submission, registration); jobs outlive it. */
  expiresAt: number
  /** Hex Ed25519 public key of the signer. */
  submitter: string
  /** Hex Ed25519 signature (64 bytes) over the domain-tagged canonical document. */
  signature: string
}

export interface SignedSubmission extends SignedFields {
  /** Chosen by the client; also the idempotency key of the submission. */
  runId: string
}

export interface SignedTriggerRegistration extends SignedFields {
  name: string
  kind: 'cron' | 'http'
  schedule?: string
  timezone?: string
  /** Cron: a tick while the previous run is unfinished (`skip`, `allow`, `cancel_previous`). */
  overlap?: string
  /** Cron: start missed ticks (true, or at most n). */
  catch_up?: boolean | number
}

export type UnsignedSubmission = Omit<SignedSubmission, 'signature'>
export type UnsignedTriggerRegistration = Omit<SignedTriggerRegistration, 'signature'>

/** What a trigger-fired run adds to the registration: which firing it is. */
export interface TriggerFiring {
  runId: string
  /** Milliseconds since the Unix epoch: the cron tick, or when the hook was called. */
  at: number
}

export type JobAuthority =
  | { submission: SignedSubmission }
  | { trigger: SignedTriggerRegistration; firing: TriggerFiring }

/** A signed document on its own (a registration before any firing). */
export type SignedAuthority = { submission: SignedSubmission } | { trigger: SignedTriggerRegistration }

/** Prefixes of the run ids triggers make; a client's submission may not use them. */
export const TRIGGER_RUN_PREFIXES = ['cron.', 'hook.'] as const

/** SHA-256 (hex) of a value's canonical JSON: what `workflowDigest` and `inputsDigest` hold. */
export function documentDigest(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex')
}

export function submissionSigningBytes(unsigned: UnsignedSubmission): Uint8Array {
  return signedDocumentBytes(canonicalJson({ submission: unsigned, type: SUBMISSION_SIGNING_DOMAIN }))
}

export function triggerSigningBytes(unsigned: UnsignedTriggerRegistration): Uint8Array {
  return signedDocumentBytes(canonicalJson({ trigger: unsigned, type: TRIGGER_SIGNING_DOMAIN }))
}

export interface WindowFields {
  /** @default Date.now() */
  createdAt?: number
  /** Lifetime from `createdAt`. @default DEFAULT_SUBMISSION_TTL_MS */
  ttlMs?: number
  /** Only for tests; never reuse a nonce. @default 16 random bytes */
  nonce?: string
}

export interface SubmissionFields extends WindowFields {
  runId: string
  /** The parsed workflow document (not its text). */
  workflow: unknown
  inputs: Record<string, unknown>
}

export interface TriggerRegistrationFields extends WindowFields {
  name: string
  kind: 'cron' | 'http'
  schedule?: string
  timezone?: string
  overlap?: string
  catch_up?: boolean | number
  workflow: unknown
  inputs: Record<string, unknown>
}

function common(fields: WindowFields & { workflow: unknown; inputs: unknown }, signer: Signer) {
  const createdAt = fields.createdAt ?? Date.now()
  let workflowDigest: string
  let inputsDigest: string
  try {
    workflowDigest = documentDigest(fields.workflow)
    inputsDigest = documentDigest(fields.inputs)
  } catch (err) {
    throw new InvalidAuthorityError(`workflow or inputs: ${(err as Error).message}`, { cause: err })
  }
  return {
    workflowDigest,
    inputsDigest,
    nonce: fields.nonce ?? randomHex(NONCE_BYTES),
    createdAt,
    expiresAt: createdAt + (fields.ttlMs ?? DEFAULT_SUBMISSION_TTL_MS),
    submitter: toHex(signer.publicKey),
  }
}

/** Builds and signs a run submission; throws `InvalidAuthorityError` naming the bad field. */
export function createSubmission(fields: SubmissionFields, signer: Signer): SignedSubmission {
  const unsigned: UnsignedSubmission = { runId: fields.runId, ...common(fields, signer) }
  const submission = { ...unsigned, signature: toHex(signer.sign(submissionSigningBytes(unsigned))) }
  if (!validateSubmission(submission)) {
    throw new InvalidAuthorityError(describeSchemaError('submission', validateSubmission.errors))
  }
  return submission
}

/** Builds and signs a trigger registration; throws `InvalidAuthorityError` naming the bad field. */
export function createTriggerRegistration(
  fields: TriggerRegistrationFields,
  signer: Signer,
): SignedTriggerRegistration {
  const unsigned: UnsignedTriggerRegistration = {
    name: fields.name,
    kind: fields.kind,
    ...(fields.schedule === undefined ? {} : { schedule: fields.schedule }),
    ...(fields.timezone === undefined ? {} : { timezone: fields.timezone }),
    ...(fields.overlap === undefined ? {} : { overlap: fields.overlap }),
    ...(fields.catch_up === undefined ? {} : { catch_up: fields.catch_up }),
    ...common(fields, signer),
  }
  const registration = { ...unsigned, signature: toHex(signer.sign(triggerSigningBytes(unsigned))) }
  if (!validateTriggerRegistration(registration)) {
    throw new InvalidAuthorityError(describeSchemaError('registration', validateTriggerRegistration.errors))
  }
  return registration
}

/** The key whose authority a job (or run) executes under. */
export function authoritySigner(authority: SignedAuthority): string {
  return 'submission' in authority ? authority.submission.submitter : authority.trigger.submitter
}

/** The bytes the authority's signature covers (canonical JSON; doubles as a cache key). */
export function authoritySigningBytes(authority: SignedAuthority): Uint8Array {
  if ('submission' in authority) {
    const { signature: _s, ...unsigned } = authority.submission
    return submissionSigningBytes(unsigned)
  }
  const { signature: _s, ...unsigned } = authority.trigger
  return triggerSigningBytes(unsigned)
}

export function authoritySignature(authority: SignedAuthority): string {
  return 'submission' in authority ? authority.submission.signature : authority.trigger.signature
}

/** Does the signature verify (shape assumed valid)? Never throws. */
export function verifyAuthoritySignature(
  authority: SignedAuthority,
  backend: Ed25519Backend = defaultEd25519,
): boolean {
  try {
    return backend.verify(
      fromHex(authoritySignature(authority)),
      authoritySigningBytes(authority),
      fromHex(authoritySigner(authority)),
    )
  } catch {
    return false
  }
}

/** The run ids a trigger's firings get: `cron.<name>.<tick ms>` and `hook.<name>.<uuid>`. */
export function triggerRunPattern(registration: Pick<SignedTriggerRegistration, 'name' | 'kind'>): RegExp {
  return registration.kind === 'cron'
    ? new RegExp(`^cron\\.${registration.name}\\.\\d{1,16}$`)
    : new RegExp(
        `^hook\\.${registration.name}\\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`,
      )
}

export function isTriggerRunId(run: string): boolean {
  return TRIGGER_RUN_PREFIXES.some((prefix) => run.startsWith(prefix))
}

/**
 * Why `run` is not a run this authority may act for, or undefined when it is: a submission names
 * exactly one run (never one in the triggers' namespace, so a future cron tick cannot be claimed);
 * a trigger's firing names one run of that trigger's scheme.
 */
export function authorityRunMismatch(authority: JobAuthority, run: string): string | undefined {
  if ('submission' in authority) {
    const { runId } = authority.submission
    if (runId !== run) return `authority is the submission of run ${runId}, not of ${run}`
    if (isTriggerRunId(runId)) return `a submission may not name run ${runId} (reserved for triggers)`
    return undefined
  }
  if (authority.firing.runId !== run)
    return `authority is the firing of run ${authority.firing.runId}, not ${run}`
  if (!triggerRunPattern(authority.trigger).test(run))
    return `run ${run} is not a firing of ${authority.trigger.kind} trigger "${authority.trigger.name}"`
  return undefined
}
