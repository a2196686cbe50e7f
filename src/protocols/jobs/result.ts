/**
 * The signed record of one job attempt, produced by the runner that executed it and verified
 * wherever it is recorded (supervisor, coordinator state, SDK). The signature covers the RFC 8785
 * canonical JSON of `{ "result": <result without signature>, "type": "horus/v1/result" }`.
 * `job` is the digest of the envelope it answers (`jobDigest`), so a result is bound to one job:
 * it cannot be presented as the result of another job that shares its id.
 * Outputs above a size limit are replaced by `outputDigest`, the SHA-256 of their canonical JSON,
 * so a large output can be shipped separately and still be checked against the signed result.
 */
import { createHash } from 'node:crypto'
import {
  canonicalJson,
  isObjectRecord,
  lengthWithMember,
  signedDocumentBytes,
  utf8Length,
} from './canonical.js'
import {
  DEFAULT_MAX_RESULT_BYTES,
  DEFAULT_MAX_RESULT_OUTPUT_BYTES,
  RESULT_SIGNING_DOMAIN,
} from './constants.js'
import type { Ed25519Backend } from './ed25519.js'
import { InvalidResultError } from './errors.js'
import { fromHex, toHex } from './keys.js'
import { type JOB_STATUSES, validateJobResult } from './result-schema.js'
import { describeSchemaError } from './schema-validator.js'
import { defaultEd25519, type Signer, signerKeyHex } from './signer.js'

export type JobStatus = (typeof JOB_STATUSES)[number]

export interface JobFailure {
  name: string
  message: string
  retryable: boolean
}

export interface JobResult {
  jobId: string
  /** `jobDigest` of the envelope this result answers. */
  job: string
  attempt: number
  status: JobStatus
  output?: unknown
  /** SHA-256 (hex) of the canonical JSON of an output too large to carry inline. */
  outputDigest?: string
  error?: JobFailure
  startedAt: number
  finishedAt: number
  /** Hex public key of the runner that signed the result. */
  runner: string
  signature: string
}

export type UnsignedResult = Omit<JobResult, 'signature'>

export interface ResultFields {
  jobId: string
  /** `jobDigest` of the envelope executed. */
  job: string
  attempt: number
  status: JobStatus
  output?: unknown
  error?: JobFailure
  startedAt: number
  finishedAt: number
}

export interface CreateResultOptions {
  /** @default DEFAULT_MAX_RESULT_OUTPUT_BYTES */
  maxOutputBytes?: number
  /** The output's canonical JSON when the caller already has it (a large output is not serialised twice). */
  canonicalOutput?: string
}

/**
 * Why a result was refused; stable strings, counted and asserted. `untrusted_runner`: its signer is
 * not trusted as a runner of the job's capability; `not_dispatched_runner`: signed by another key
 * than the runner the job went to; `wrong_job`: it answers another job (id, attempt or envelope).
 */
export const RESULT_REJECT_REASONS = [
  'malformed',
  'too_large',
  'bad_signature',
  'untrusted_runner',
  'not_dispatched_runner',
  'wrong_job',
] as const

export type ResultRejectReason = (typeof RESULT_REJECT_REASONS)[number]

export type VerifyResultOutcome =
  | { ok: true; result: JobResult }
  | { ok: false; reason: ResultRejectReason; message: string }

/** The job a result must answer. */
export interface ExpectedJob {
  jobId: string
  attempt: number
  /** `jobDigest` of its envelope. */
  digest: string
}

export interface VerifyResultOptions {
  /** When given, the result must answer this job. */
  job?: ExpectedJob
  /** When given, the result must be signed by this hex key (the runner the job went to). */
  runner?: string
  /**
   * When given, whether the signer (hex key) is trusted as a runner of the job's capability;
   * asked before the signature is verified, so an untrusted signer costs no Ed25519 verification.
   */
  trusted?: (runner: string) => boolean
  /** @default DEFAULT_MAX_RESULT_BYTES */
  maxBytes?: number
  /** @default defaultEd25519 */
  backend?: Ed25519Backend
  /**
   * `true`: `input` is the caller's own object, fresh from `JSON.parse` of a frame and changed by
   * nobody afterwards: it is checked and returned as is, not copied through JSON first, and its
   * size is that of the canonical JSON the signature check needs anyway (exactly its JSON length),
   * still measured before anything else. @default false
   */
  owned?: boolean
}

/** SHA-256 hex of a value's canonical JSON: what `outputDigest` holds. */
export function outputDigest(output: unknown): string {
  return createHash('sha256').update(canonicalJson(output)).digest('hex')
}

export function resultSigningBytes(unsigned: UnsignedResult): Uint8Array {
  return signingBytesOf(canonicalJson(unsigned))
}

const DOMAIN_JSON = canonicalJson(RESULT_SIGNING_DOMAIN)

/** The canonical JSON of `{ result, type }` (keys in RFC 8785 order), given that of the result. */
function signingBytesOf(canonicalUnsigned: string): Uint8Array {
  return signedDocumentBytes(`{"result":${canonicalUnsigned},"type":${DOMAIN_JSON}}`)
}

// Results are immutable once signed or verified, like envelopes: the size of their JSON, learnt
// while they were built or checked, is remembered for whoever batches them (`resultJsonSize`).
const sizes = new WeakMap<object, number>()

/**
 * The UTF-8 length of `result`'s JSON, without serialising it again when this process built or
 * verified it; never less than the real length.
 */
export function resultJsonSize(result: JobResult): number {
  return sizes.get(result) ?? utf8Length(JSON.stringify(result))
}

/** Builds and signs a result; throws `InvalidResultError` with the offending path. */
export function createResult(
  fields: ResultFields,
  signer: Signer,
  options: CreateResultOptions = {},
): JobResult {
  const maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_RESULT_OUTPUT_BYTES
  let output: Pick<UnsignedResult, 'output' | 'outputDigest'> = {}
  if (fields.output !== undefined) {
    let text: string
    try {
      text = options.canonicalOutput ?? canonicalJson(fields.output)
    } catch (err) {
      throw new InvalidResultError(`result.output: ${(err as Error).message}`, { cause: err })
    }
    output =
      utf8Length(text) > maxOutputBytes
        ? { outputDigest: createHash('sha256').update(text).digest('hex') }
        : { output: JSON.parse(text) }
  }
  const { error } = fields
  // Members in canonical (RFC 8785) order, so signing, sending and every verification of the
  // result serialise it with JSON.stringify rather than sorting it (see canonicalJson).
  const unsigned: UnsignedResult = {
    attempt: fields.attempt,
    ...(error === undefined ? {} : { error: failureInOrder(error) }),
    finishedAt: fields.finishedAt,
    job: fields.job,
    jobId: fields.jobId,
    ...output,
    runner: signerKeyHex(signer),
    startedAt: fields.startedAt,
    status: fields.status,
  }
  const canonical = canonicalJson(unsigned)
  const result: JobResult = { ...unsigned, signature: toHex(signer.sign(signingBytesOf(canonical))) }
  if (!validateJobResult(result)) {
    throw new InvalidResultError(describeSchemaError('result', validateJobResult.errors))
  }
  sizes.set(result, lengthWithMember(canonical, 'signature', result.signature))
  return result
}

/** The failure's members in canonical order; any others stay, for the schema to refuse as before. */
function failureInOrder(error: JobFailure): JobFailure {
  const { message, name, retryable, ...others } = error
  return { message, name, retryable, ...others }
}

type Decoded =
  | { ok: true; value: JobResult; size: number; canonical?: string }
  | { ok: false; reason: ResultRejectReason; message: string }

/** Checks a result's shape and signature. Never throws. */
export function verifyResult(input: unknown, options: VerifyResultOptions = {}): VerifyResultOutcome {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_RESULT_BYTES
  try {
    const decoded =
      (options.owned === true ? decodeOwned(input, maxBytes) : undefined) ?? decode(input, maxBytes)
    if (!decoded.ok) return decoded
    const { value } = decoded
    // An output travels inline or as its digest, never both: a digest beside the output would be a
    // second claim about the same bytes that a reader would have to reconcile.
    if (value.output !== undefined && value.outputDigest !== undefined) {
      return { ok: false, reason: 'malformed', message: 'result: has both output and outputDigest' }
    }
    const mismatch = bindingProblem(value, options)
    if (mismatch !== undefined) return mismatch
    const { signature, ...unsigned } = value
    const signed = signingBytesOf(decoded.canonical ?? canonicalJson(unsigned))
    const backend = options.backend ?? defaultEd25519
    if (!backend.verify(fromHex(signature), signed, fromHex(value.runner))) {
      return {
        ok: false,
        reason: 'bad_signature',
        message: `result signature by ${value.runner} does not verify`,
      }
    }
    sizes.set(value, decoded.size)
    return { ok: true, result: value }
  } catch (err) {
    return {
      ok: false,
      reason: 'malformed',
      message: `result cannot be read: ${err instanceof Error ? err.message : String(err)}`,
    }
  }
}

function tooLarge(size: number, maxBytes: number): Decoded {
  return { ok: false, reason: 'too_large', message: `result is ${size} bytes, the limit is ${maxBytes}` }
}

function schemaChecked(value: unknown, size: number, canonical?: string): Decoded {
  if (!validateJobResult(value)) {
    return {
      ok: false,
      reason: 'malformed',
      message: describeSchemaError('result', validateJobResult.errors),
    }
  }
  return canonical === undefined ? { ok: true, value, size } : { ok: true, value, size, canonical }
}

/** A copy of `input` through JSON (bytes and text are parsed), measured first. */
function decode(input: unknown, maxBytes: number): Decoded {
  let json: string | undefined
  let size: number
  if (input instanceof Uint8Array) {
    size = input.byteLength
    if (size <= maxBytes) json = new TextDecoder('utf-8', { fatal: true }).decode(input)
  } else {
    json = typeof input === 'string' ? input : JSON.stringify(input)
    if (json === undefined)
      return { ok: false, reason: 'malformed', message: 'result: expected a JSON object' }
    size = utf8Length(json)
  }
  if (size > maxBytes || json === undefined) return tooLarge(size, maxBytes)
  return schemaChecked(JSON.parse(json), size)
}

/**
 * An owned object (`VerifyResultOptions.owned`) as it is: nobody else can change it. Measured by
 * its unsigned part's canonical JSON, which the signature check reuses; `undefined` (take the
 * copying path) for what is no plain object or has no canonical form.
 */
function decodeOwned(input: unknown, maxBytes: number): Decoded | undefined {
  if (!isObjectRecord(input)) return undefined
  const { signature, ...unsigned } = input
  let canonical: string
  try {
    canonical = canonicalJson(unsigned)
  } catch {
    return undefined
  }
  const size = lengthWithMember(canonical, 'signature', signature)
  if (size > maxBytes) return tooLarge(size, maxBytes)
  return schemaChecked(input, size, canonical)
}

/** Which job, which runner, which trust: the checks that cost no signature verification. */
function bindingProblem(value: JobResult, options: VerifyResultOptions): VerifyResultOutcome | undefined {
  const expected = options.job
  if (expected !== undefined) {
    if (value.jobId !== expected.jobId || value.attempt !== expected.attempt) {
      return {
        ok: false,
        reason: 'wrong_job',
        message: `result is for job ${value.jobId} attempt ${value.attempt}, not ${expected.jobId} attempt ${expected.attempt}`,
      }
    }
    if (value.job !== expected.digest) {
      return {
        ok: false,
        reason: 'wrong_job',
        message: `result of ${value.jobId} answers envelope ${value.job}, not ${expected.digest}`,
      }
    }
  }
  if (options.runner !== undefined && value.runner !== options.runner) {
    return {
      ok: false,
      reason: 'not_dispatched_runner',
      message: `result signed by ${value.runner}, not by ${options.runner} (the runner the job went to)`,
    }
  }
  if (options.trusted !== undefined && !options.trusted(value.runner)) {
    return {
      ok: false,
      reason: 'untrusted_runner',
      message: `result signed by ${value.runner}, which is not trusted as a runner of this job's capability`,
    }
  }
  return undefined
}

/** A zeroed counter per result rejection reason. */
export function resultRejectionCounts(): Record<ResultRejectReason, number> {
  return Object.fromEntries(RESULT_REJECT_REASONS.map((reason) => [reason, 0])) as Record<
    ResultRejectReason,
    number
  >
}
