/**
 * The signed job envelope and its signature chain.
 *
 * Signature `i` covers the RFC 8785 canonical JSON of
 *   `{ "chain": signatures[0..i-1], "envelope": <envelope without signatures>, "type": "horus/v1/job" }`
 * so the submitter signs the envelope (with an empty chain) and each coordinator that re-dispatches
 * the job appends a signature over the envelope plus every signature before its own: earlier
 * signatures stay valid, and no signature can be dropped from or reordered within the chain
 * without breaking the ones after it. The `type` member is a domain tag: the same node key signs
 * results and libp2p handshakes, and a job signature must never verify as anything else.
 */
import { hash, randomUUID } from 'node:crypto'
import type { JobAuthority } from './authority.js'
import { canonicalJson, signedDocumentBytes } from './canonical.js'
import { DEFAULT_JOB_TIMEOUT_MS, DEFAULT_JOB_TTL_MS, JOB_SIGNING_DOMAIN } from './constants.js'
import type { Ed25519Backend } from './ed25519.js'
import { validateJobEnvelope } from './envelope-schema.js'
import { InvalidJobError } from './errors.js'
import { fromHex, toHex } from './keys.js'
import { NONCE_BYTES, randomHex } from './random-hex.js'
import { describeSchemaError } from './schema-validator.js'
import type { SealedSecret } from './secrets.js'
import { defaultEd25519, type Signer, signerKeyHex } from './signer.js'

export interface JobSignature {
  /** Hex Ed25519 public key of the signer. */
  key: string
  /** Hex Ed25519 signature (64 bytes). */
  sig: string
}

export interface UnsignedJob {
  /**
   * `run/step/attempt` for workflow steps (see `stepJobId`); for ad-hoc jobs the submitter's
   * namespace, a dot and a suffix without `/` (see `adHocJobId`).
   */
  id: string
  run?: string
  step?: string
  /** 1 for the first try of a step. */
  attempt: number
  /** Capability (runner kind) that executes the job. */
  runner: string
  payload: string
  input: Record<string, unknown>
  env: Record<string, string>
  /**
   * What a workflow step's job knows of its run besides `input`: `{ inputs, run }` — the inputs of
   * its workflow and `{ id, workflow, error }` (scripts see them as `inputs` and `run`).
   */
  context?: Record<string, unknown>
  /**
   * Environment variables sealed to the runners that may execute the job (see secrets.ts); the
   * runner opens them in memory and adds them to `env`. Signed like every other field.
   */
  secrets?: Record<string, SealedSecret>
  timeoutMs: number
  /** Milliseconds since the Unix epoch. */
  createdAt: number
  expiresAt: number
  /** 16 random bytes, hex; `(submitter, nonce)` is what the replay cache remembers. */
  nonce: string
  /** Hex Ed25519 public key of the first signer. */
  submitter: string
  /**
   * Required when `run` is set: the run's signed submission (or the trigger registration and the
   * firing), so executors check the submitter's trust, not only the coordinator's (authority.ts).
   */
  authority?: JobAuthority
}

export interface JobEnvelope extends UnsignedJob {
  signatures: JobSignature[]
}

/** What `createJob` needs; everything but `runner` has a default. */
export interface JobFields {
  runner: string
  id?: string
  run?: string
  step?: string
  /** @default 1 */
  attempt?: number
  /** @default '' */
  payload?: string
  /** @default {} */
  input?: Record<string, unknown>
  /** @default {} */
  env?: Record<string, string>
  context?: Record<string, unknown>
  /** Sealed variables (`sealSecrets`); a name may not also be in `env`. @default none */
  secrets?: Record<string, SealedSecret>
  /** At most MAX_JOB_TIMEOUT_MS (7 days). @default DEFAULT_JOB_TIMEOUT_MS */
  timeoutMs?: number
  /** @default Date.now() */
  createdAt?: number
  /** Lifetime from `createdAt`, ignored when `expiresAt` is given. @default DEFAULT_JOB_TTL_MS */
  ttlMs?: number
  expiresAt?: number
  /** Only for tests and deterministic fixtures; never reuse a nonce. @default 16 random bytes */
  nonce?: string
  /** The run's authority; required (by verifiers) when `run` is set. */
  authority?: JobAuthority
}

/** The deterministic id of a workflow step's job, so a duplicate dispatch is recognised. */
export function stepJobId(run: string, step: string, attempt: number): string {
  return `${run}/${step}/${attempt}`
}

/**
 * A short name of one envelope of a job, for logs: two envelopes of the same job id (a step job
 * re-signed by another coordinator) differ in nonce and often in submitter.
 */
export function envelopeTag(job: Pick<UnsignedJob, 'id' | 'nonce' | 'submitter'>): string {
  return `${job.id} (nonce ${String(job.nonce).slice(0, 8)}, by ${String(job.submitter).slice(0, 8)})`
}

/** Hex characters of the submitter's key that prefix its ad-hoc job ids (128 bits). */
const NAMESPACE_HEX = 32

/** The prefix every ad-hoc job id of `submitter` (hex key) starts with. */
export function adHocNamespace(submitter: string): string {
  return `${submitter.slice(0, NAMESPACE_HEX)}.`
}

/**
 * An ad-hoc job id in `submitter`'s namespace. Ids are namespaced so one client can never take
 * another's: finding a key with the same 128-bit prefix is out of reach.
 */
export function adHocJobId(submitter: string, suffix: string = randomUUID()): string {
  return `${adHocNamespace(submitter)}${suffix}`
}

/**
 * Why a job's id does not fit its shape, or `undefined`: a workflow step's id is exactly
 * `stepJobId(run, step, attempt)`; an ad-hoc job's is in its submitter's namespace and has no `/`,
 * so it can never take a step's id.
 */
export function jobIdProblem(
  job: Pick<UnsignedJob, 'id' | 'run' | 'step' | 'attempt' | 'submitter'>,
): string | undefined {
  if (job.run !== undefined || job.step !== undefined) {
    if (job.run === undefined || job.step === undefined) return 'job: run and step go together'
    const expected = stepJobId(job.run, job.step, job.attempt)
    return job.id === expected
      ? undefined
      : `job.id: a workflow step's id is "${expected}", got ${JSON.stringify(job.id)}`
  }
  if (job.id.includes('/')) return `job.id: an ad-hoc job id has no "/", got ${JSON.stringify(job.id)}`
  const namespace = adHocNamespace(job.submitter)
  if (!job.id.startsWith(namespace) || job.id.length === namespace.length) {
    return `job.id: an ad-hoc job id starts with its submitter's namespace "${namespace}", got ${JSON.stringify(job.id)}`
  }
  return undefined
}

export function unsignedJob(job: JobEnvelope): UnsignedJob {
  const { signatures: _signatures, ...unsigned } = job
  return unsigned
}

// Envelopes are treated as immutable once signed or verified; their digest is computed once.
const digests = new WeakMap<object, string>()

function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex')
}

/**
 * SHA-256 (hex) of the RFC 8785 canonical JSON of the unsigned envelope: what a signed result names
 * in `job`, so a result answers exactly one envelope and cannot be replayed as another job's.
 */
export function jobDigest(job: JobEnvelope): string {
  const known = digests.get(job)
  if (known !== undefined) return known
  return rememberDigest(job, canonicalJson(unsignedJob(job)))
}

/** Records the digest of `job` from the canonical JSON its signer or verifier already computed. */
export function rememberDigest(job: JobEnvelope, canonicalUnsigned: string): string {
  const digest = sha256Hex(canonicalUnsigned)
  digests.set(job, digest)
  return digest
}

const DOMAIN_JSON = canonicalJson(JOB_SIGNING_DOMAIN)

/**
 * The bytes signature `chain.length` signs, given the canonical JSON of the unsigned envelope.
 * The document is assembled by hand (keys already in RFC 8785 order: chain < envelope < type) so a
 * chain of n signatures canonicalizes the possibly large envelope once, not n times; a test
 * checks it equals `canonicalize` of the whole document.
 */
export function jobSigningBytes(canonicalUnsigned: string, chain: readonly JobSignature[]): Uint8Array {
  return signedDocumentBytes(
    `{"chain":${canonicalJson(chain)},"envelope":${canonicalUnsigned},"type":${DOMAIN_JSON}}`,
  )
}

function signLink(canonicalUnsigned: string, chain: readonly JobSignature[], signer: Signer): JobSignature {
  const sig = signer.sign(jobSigningBytes(canonicalUnsigned, chain))
  return { key: signerKeyHex(signer), sig: toHex(sig) }
}

/** Inputs are normalised through canonical JSON so the envelope holds exactly what is signed. */
function jsonClone<T>(value: T, path: string): T {
  // Most jobs have no input or env: an empty plain object is its own canonical form.
  if (isEmptyPlainObject(value)) return {} as T
  try {
    return JSON.parse(canonicalJson(value)) as T
  } catch (err) {
    throw new InvalidJobError(`${path}: ${(err as Error).message}`, { cause: err })
  }
}

/** `{}` itself: no own string keys at all (not even a hidden `toJSON`), Object's prototype. */
function isEmptyPlainObject(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.getPrototypeOf(value) === Object.prototype &&
    Object.getOwnPropertyNames(value).length === 0
  )
}

/** Builds, signs and validates a job; throws `InvalidJobError` with the offending path. */
export function createJob(fields: JobFields, signer: Signer): JobEnvelope {
  const createdAt = fields.createdAt ?? Date.now()
  const submitter = signerKeyHex(signer)
  // Members in canonical (RFC 8785) order, so signing, sending and every verification of the job
  // serialise it with JSON.stringify rather than sorting it (see canonicalJson).
  const unsigned: UnsignedJob = {
    attempt: fields.attempt ?? 1,
    ...(fields.authority === undefined ? {} : { authority: jsonClone(fields.authority, 'job.authority') }),
    ...(fields.context === undefined ? {} : { context: jsonClone(fields.context, 'job.context') }),
    createdAt,
    env: jsonClone(fields.env ?? {}, 'job.env'),
    expiresAt: fields.expiresAt ?? createdAt + (fields.ttlMs ?? DEFAULT_JOB_TTL_MS),
    id:
      fields.id ??
      (fields.run !== undefined && fields.step !== undefined
        ? stepJobId(fields.run, fields.step, fields.attempt ?? 1)
        : adHocJobId(submitter)),
    input: jsonClone(fields.input ?? {}, 'job.input'),
    nonce: fields.nonce ?? randomHex(NONCE_BYTES),
    payload: fields.payload ?? '',
    ...(fields.run === undefined ? {} : { run: fields.run }),
    runner: fields.runner,
    ...(fields.secrets === undefined || Object.keys(fields.secrets).length === 0
      ? {}
      : { secrets: jsonClone(fields.secrets, 'job.secrets') }),
    ...(fields.step === undefined ? {} : { step: fields.step }),
    submitter,
    timeoutMs: fields.timeoutMs ?? DEFAULT_JOB_TIMEOUT_MS,
  }
  const idProblem = jobIdProblem(unsigned)
  if (idProblem !== undefined) throw new InvalidJobError(idProblem)
  if (unsigned.expiresAt <= unsigned.createdAt) {
    throw new InvalidJobError(
      `job.expiresAt: expected a time after createdAt (${createdAt}), got ${unsigned.expiresAt}`,
    )
  }
  for (const name of Object.keys(unsigned.secrets ?? {})) {
    if (Object.hasOwn(unsigned.env, name)) {
      throw new InvalidJobError(
        `job.secrets.${name}: also set in job.env; a variable is either plain or secret`,
      )
    }
  }
  const canonical = jsonCanonical(unsigned)
  const job: JobEnvelope = { ...unsigned, signatures: [signLink(canonical, [], signer)] }
  if (!validateJobEnvelope(job)) {
    throw new InvalidJobError(describeSchemaError('job', validateJobEnvelope.errors))
  }
  rememberDigest(job, canonical)
  return job
}

function jsonCanonical(unsigned: UnsignedJob): string {
  try {
    return canonicalJson(unsigned)
  } catch (err) {
    throw new InvalidJobError(`job: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * The job with `signer`'s link appended: what a coordinator sends when it re-dispatches a job it
 * received. The caller verifies the job first; this only signs.
 */
export function appendSignature(job: JobEnvelope, signer: Signer): JobEnvelope {
  const canonical = jsonCanonical(unsignedJob(job))
  const link = signLink(canonical, job.signatures, signer)
  const signed = { ...job, signatures: [...job.signatures, link] }
  rememberDigest(signed, canonical)
  return signed
}

/**
 * Why the signature chain of a (schema-valid) envelope does not verify, or `undefined` — every
 * link checked, in order. Trust in the signers is not judged here (see JobVerifier); on success
 * the envelope's digest is remembered, so whoever records its result does not hash it again.
 * `canonicalUnsigned`: the canonical JSON of `unsignedJob(job)` when the caller already made it
 * from this very (unchanged) object.
 */
export function signatureChainProblem(
  job: JobEnvelope,
  backend: Ed25519Backend = defaultEd25519,
  canonicalUnsigned?: string,
): { reason: 'malformed' | 'bad_signature'; message: string } | undefined {
  let canonical: string
  try {
    canonical = canonicalUnsigned ?? canonicalJson(unsignedJob(job))
  } catch (err) {
    return { reason: 'malformed', message: `job: ${(err as Error).message}` }
  }
  for (let i = 0; i < job.signatures.length; i++) {
    const link = job.signatures[i]
    if (link === undefined) return { reason: 'malformed', message: `job.signatures[${i}]: missing` }
    const message = jobSigningBytes(canonical, job.signatures.slice(0, i))
    if (!backend.verify(fromHex(link.sig), message, fromHex(link.key))) {
      return { reason: 'bad_signature', message: `signature ${i} by ${link.key} does not verify` }
    }
  }
  rememberDigest(job, canonical)
  return undefined
}
