/**
 * Decides whether a job may run here. `verify()` and `check()` never throw: anything a peer can
 * send comes back as `{ ok: false, reason, message }` with one of the stable reasons.
 *
 * Order of checks — cheapest and least trusting first, so a stranger's flood costs a map lookup,
 * not an Ed25519 verification: size → JSON → schema → chain shape → id shape → capability → trust
 * policy → signatures → authority → expiry → replay. The id shape (`jobIdProblem`) keeps ad-hoc
 * jobs in their submitter's namespace and out of the `run/step/attempt` ids of workflow steps.
 * Time is judged only on authentic jobs, so `expired` never describes a forgery.
 *
 * Authority (a job of a run): the run's signed submission or trigger registration must verify, its
 * signer must be trusted (client or coordinator) **for the job's capability** here, it must name
 * the job's run, and the job's first signer must be that signer or a trusted coordinator. A run's
 * jobs all carry the same authority, so a verified one is remembered (keyed by its signed bytes
 * and signature; trust is decided afresh every time, so a policy change applies at once).
 *
 * Replay: `verify()` records `(submitter, nonce)` — call it exactly where a job is accepted for
 * execution (supervisor, runner). `check()` reads the replay cache but records nothing — gossip
 * validators use it, because the same job legitimately reaches a node twice (announced on the
 * topic, then dispatched by RPC) and only the second is the one that executes.
 */
import type { ComponentLogger, Logger } from '@libp2p/interface'
import { TypedEventEmitter } from 'main-event'
import { createLogger } from '../../core/logger.js'
import {
  authorityRunMismatch,
  authoritySignature,
  authoritySigner,
  authoritySigningBytes,
  verifyAuthoritySignature,
} from './authority.js'
import { canonicalJson, isObjectRecord, lengthWithMember, utf8Length } from './canonical.js'
import {
  AUTHORITY_CACHE_SIZE,
  DEFAULT_CLOCK_SKEW_MS,
  DEFAULT_MAX_JOB_BYTES,
  DEFAULT_MAX_JOB_TTL_MS,
} from './constants.js'
import type { Ed25519Backend } from './ed25519.js'
import { type JobEnvelope, jobIdProblem, signatureChainProblem } from './envelope.js'
import { validateJobEnvelope } from './envelope-schema.js'
import { REJECT_REASONS, type RejectReason } from './reasons.js'
import type { ReplayCache } from './replay-cache.js'
import { describeSchemaError } from './schema-validator.js'
import { defaultEd25519 } from './signer.js'
import type { TrustPolicy, TrustRole } from './trust-policy.js'

export interface VerifyOptions {
  /** The capability this node is asked to run the job as (topic, RPC target); must match `runner`. */
  capability?: string
  /** Clock for expiry checks. @default Date.now() */
  now?: number
  /**
   * `true`: the caller hands `input` over as its own — an object fresh from `JSON.parse` of a
   * frame, referenced by nothing else and never changed afterwards. It is then verified and
   * returned as is instead of being copied through JSON first, and its size is that of the
   * canonical JSON the signature check needs anyway (for such an object, exactly its JSON length),
   * still measured before the schema and any signature work. An input that has no canonical form
   * (a lone surrogate, a number JSON cannot hold) takes the copying path. @default false
   */
  owned?: boolean
}

export interface VerifyAndRecordOptions extends VerifyOptions {
  /**
   * `false`: the nonce is spent in memory only (`ReplayCache.claimKeptByCaller`) and `verify()`
   * resolves without a datastore write — for a caller that writes the accepted job, nonce
   * included, to its own record before acknowledging it, and keeps the duties that come with it
   * (`ReplayCache.restore` at start, `ReplayCache.persist` before deleting a record whose job is
   * still valid). One put per accepted job instead of two. @default true
   */
  persistNonce?: boolean
}

export interface Rejection {
  ok: false
  reason: RejectReason
  message: string
  /** Only for `replayed`: the (authentic) job, so a duplicate dispatch can be answered by id. */
  job?: JobEnvelope
}

export type VerifyResult = { ok: true; job: JobEnvelope } | Rejection

export interface JobVerifierInit {
  /** A fixed policy, or a holder whose `policy` may change (a `TrustPolicyWatcher`). */
  trust: TrustPolicy | { readonly policy: TrustPolicy }
  replayCache: ReplayCache
  /** @default defaultEd25519 */
  backend?: Ed25519Backend
  /** @default DEFAULT_MAX_JOB_BYTES */
  maxBytes?: number
  /** @default DEFAULT_CLOCK_SKEW_MS */
  clockSkewMs?: number
  /** @default DEFAULT_MAX_JOB_TTL_MS */
  maxTtlMs?: number
  logger?: ComponentLogger
}

export interface VerifierStats {
  /** Jobs `verify()` accepted (and recorded). */
  accepted: number
  /** Jobs `check()` found valid. */
  checked: number
  /** Rejections from both `verify()` and `check()`, by reason. */
  rejected: Record<RejectReason, number>
}

export interface JobVerifierEvents {
  'job:rejected': CustomEvent<Rejection & { mode: 'verify' | 'check' }>
}

const SUBMITTER_ROLES: readonly TrustRole[] = ['client', 'coordinator']
const decoder = new TextDecoder('utf-8', { fatal: true })
const textOf = new TextDecoder()

/** A schema-valid envelope, with the canonical JSON of its unsigned part when already known. */
type Decoded = { ok: true; job: JobEnvelope; canonical?: string }

function reject(reason: RejectReason, message: string): Rejection {
  return { ok: false, reason, message }
}

export class JobVerifier extends TypedEventEmitter<JobVerifierEvents> {
  readonly #trust: JobVerifierInit['trust']
  readonly #replay: ReplayCache
  readonly #backend: Ed25519Backend
  readonly #maxBytes: number
  readonly #clockSkewMs: number
  readonly #maxTtlMs: number
  readonly #log: Logger
  /** Authorities whose signature verified: signed bytes + signature, oldest first. */
  readonly #authorities = new Set<string>()
  readonly #stats: VerifierStats = {
    accepted: 0,
    checked: 0,
    rejected: Object.fromEntries(REJECT_REASONS.map((reason) => [reason, 0])) as Record<RejectReason, number>,
  }

  constructor(init: JobVerifierInit) {
    super()
    this.#trust = init.trust
    this.#replay = init.replayCache
    this.#backend = init.backend ?? defaultEd25519
    this.#maxBytes = init.maxBytes ?? DEFAULT_MAX_JOB_BYTES
    this.#clockSkewMs = init.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS
    this.#maxTtlMs = init.maxTtlMs ?? DEFAULT_MAX_JOB_TTL_MS
    this.#log = (init.logger ?? createLogger()).forComponent('horus:job-verifier')
  }

  /** Full verification without recording the nonce (gossip validators, previews). */
  check(input: unknown, options: VerifyOptions = {}): VerifyResult {
    const result = this.#evaluate(input, options, options.now ?? Date.now())
    if (result.ok) this.#stats.checked++
    return this.#count(result, 'check')
  }

  /** Full verification that, on success, consumes the job's nonce: the gate before execution. */
  async verify(input: unknown, options: VerifyAndRecordOptions = {}): Promise<VerifyResult> {
    const now = options.now ?? Date.now()
    let result = this.#evaluate(input, options, now)
    if (result.ok) {
      const { job } = result
      try {
        let spent: boolean
        if (options.persistNonce === false) {
          spent = this.#replay.claimKeptByCaller(job.submitter, job.nonce, job.expiresAt, now)
        } else {
          const written = this.#replay.claim(job.submitter, job.nonce, job.expiresAt, now)
          spent = written !== undefined
          if (spent) await written
        }
        if (!spent) {
          result = { ...reject('replayed', `nonce ${job.nonce} of ${job.submitter} was already used`), job }
        }
      } catch (err) {
        result = this.#internal(err)
      }
    }
    if (result.ok) this.#stats.accepted++
    return this.#count(result, 'verify')
  }

  /** How far in the future a job's `createdAt` may be and still be accepted (ms). */
  get clockSkewMs(): number {
    return this.#clockSkewMs
  }

  stats(): VerifierStats {
    return { ...this.#stats, rejected: { ...this.#stats.rejected } }
  }

  #count<R extends VerifyResult>(result: R, mode: 'verify' | 'check'): R {
    if (!result.ok) {
      this.#stats.rejected[result.reason]++
      this.#log('%s rejected a job (%s): %s', mode, result.reason, result.message)
      this.safeDispatchEvent('job:rejected', { detail: { ...result, mode } })
    }
    return result
  }

  // A broken component (a replay cache that was never started) must fail closed, and loudly.
  #internal(err: unknown): Rejection {
    this.#log.error('job verification failed internally: %e', err)
    return reject('malformed', `internal error: ${err instanceof Error ? err.message : String(err)}`)
  }

  #evaluate(input: unknown, options: VerifyOptions, now: number): VerifyResult {
    try {
      const decoded =
        options.owned === true && isObjectRecord(input) ? this.#decodeOwned(input) : this.#decode(input)
      if (!decoded.ok) return decoded
      return this.#verifyJob(decoded.job, options.capability, now, decoded.canonical)
    } catch (err) {
      if (err instanceof RangeError || err instanceof TypeError || err instanceof SyntaxError) {
        return reject('malformed', `job cannot be read: ${err.message}`)
      }
      return this.#internal(err)
    }
  }

  /**
   * An owned object (see `VerifyOptions.owned`): nobody else can change it between these checks
   * and the caller's use of it, so it needs no copy. Its size is its unsigned part's canonical
   * JSON — which the signature check reuses — plus the JSON of its signatures.
   */
  #decodeOwned(input: Record<string, unknown>): Decoded | Rejection {
    const { signatures, ...unsigned } = input
    let canonical: string
    try {
      canonical = canonicalJson(unsigned)
    } catch {
      return this.#decode(input)
    }
    const size = lengthWithMember(canonical, 'signatures', signatures)
    if (size > this.#maxBytes) return this.#tooLarge(size)
    if (!validateJobEnvelope(input)) {
      return reject('malformed', describeSchemaError('job', validateJobEnvelope.errors))
    }
    return { ok: true, job: input, canonical }
  }

  #decode(input: unknown): Decoded | Rejection {
    let text: string
    if (input instanceof Uint8Array) {
      if (input.byteLength > this.#maxBytes) return this.#tooLarge(input.byteLength)
      text = decoder.decode(input)
    } else if (typeof input === 'string') {
      text = input
    } else {
      // Objects go through JSON as if they had come off the wire: getters, toJSON and undefined
      // members resolve once, and the verified job is a copy the caller cannot change afterwards.
      const json = JSON.stringify(input)
      if (json === undefined) return reject('malformed', `job: expected a JSON object, got ${typeof input}`)
      text = json
    }
    if (!(input instanceof Uint8Array)) {
      const size = utf8Length(text)
      if (size > this.#maxBytes) return this.#tooLarge(size)
    }
    const value: unknown = JSON.parse(text)
    if (!validateJobEnvelope(value)) {
      return reject('malformed', describeSchemaError('job', validateJobEnvelope.errors))
    }
    return { ok: true, job: value }
  }

  #tooLarge(size: number): Rejection {
    return reject('too_large', `job is ${size} bytes, the limit is ${this.#maxBytes}`)
  }

  #verifyJob(
    job: JobEnvelope,
    capability: string | undefined,
    now: number,
    canonical: string | undefined,
  ): VerifyResult {
    if (job.expiresAt <= job.createdAt) {
      return reject(
        'malformed',
        `job.expiresAt: expected a time after createdAt (${job.createdAt}), got ${job.expiresAt}`,
      )
    }
    if (job.expiresAt - job.createdAt > this.#maxTtlMs) {
      return reject(
        'malformed',
        `job lifetime ${job.expiresAt - job.createdAt} ms exceeds the limit of ${this.#maxTtlMs} ms`,
      )
    }
    const [first] = job.signatures
    if (first === undefined || first.key !== job.submitter) {
      return reject('bad_signature', 'the first signature is not the submitter’s')
    }
    const idProblem = jobIdProblem(job)
    if (idProblem !== undefined) return reject('malformed', idProblem)
    if (capability !== undefined && job.runner !== capability) {
      return reject('capability_denied', `job is for capability "${job.runner}", not "${capability}"`)
    }
    const trusted = this.#checkTrust(job)
    if (trusted !== undefined) return trusted
    const signed = this.#checkSignatures(job, canonical)
    if (signed !== undefined) return signed
    const authorized = this.#checkAuthority(job)
    if (authorized !== undefined) return authorized
    if (now >= job.expiresAt) {
      return reject('expired', `job expired at ${new Date(job.expiresAt).toISOString()}`)
    }
    if (job.createdAt > now + this.#clockSkewMs) {
      return reject(
        'not_yet_valid',
        `job created ${job.createdAt - now} ms in the future (tolerance ${this.#clockSkewMs} ms)`,
      )
    }
    if (this.#replay.has(job.submitter, job.nonce, now)) {
      return { ...reject('replayed', `nonce ${job.nonce} of ${job.submitter} was already used`), job }
    }
    return { ok: true, job }
  }

  #checkTrust(job: JobEnvelope): Rejection | undefined {
    const policy = this.#policy()
    const submitter = policy.decide(job.submitter, { role: SUBMITTER_ROLES, capability: job.runner })
    if (!submitter.admitted) return reject(submitter.reason, `submitter: ${submitter.message}`)
    for (let i = 1; i < job.signatures.length; i++) {
      const key = job.signatures[i]?.key ?? ''
      const link = policy.decide(key, { role: 'coordinator' })
      if (!link.admitted) return reject(link.reason, `signature ${i}: ${link.message}`)
    }
    return undefined
  }

  #policy(): TrustPolicy {
    return 'policy' in this.#trust ? this.#trust.policy : this.#trust
  }

  #checkAuthority(job: JobEnvelope): Rejection | undefined {
    const authority = job.authority
    if (job.run === undefined) {
      return authority === undefined
        ? undefined
        : reject('malformed', 'job.authority: only a job of a run carries one (job.run is not set)')
    }
    if (authority === undefined) {
      return reject('malformed', `job.authority: required for a job of run ${job.run}`)
    }
    const signer = authoritySigner(authority)
    const policy = this.#policy()
    const trusted = policy.decide(signer, { role: SUBMITTER_ROLES, capability: job.runner })
    if (!trusted.admitted) return reject(trusted.reason, `authority: ${trusted.message}`)
    const mismatch = authorityRunMismatch(authority, job.run)
    if (mismatch !== undefined) return reject('authority_mismatch', mismatch)
    if (job.submitter !== signer && !policy.admits(job.submitter, { role: 'coordinator' })) {
      return reject(
        'authority_mismatch',
        `job signed by ${job.submitter}, which is neither the authority's signer ${signer} nor a trusted coordinator`,
      )
    }
    const cacheKey = `${authoritySignature(authority)}:${textOf.decode(authoritySigningBytes(authority))}`
    if (this.#authorities.has(cacheKey)) return undefined
    if (!verifyAuthoritySignature(authority, this.#backend)) {
      return reject('bad_signature', `authority signature by ${signer} does not verify`)
    }
    this.#authorities.add(cacheKey)
    if (this.#authorities.size > AUTHORITY_CACHE_SIZE) {
      const oldest = this.#authorities.values().next().value
      if (oldest !== undefined) this.#authorities.delete(oldest)
    }
    return undefined
  }

  #checkSignatures(job: JobEnvelope, canonical: string | undefined): Rejection | undefined {
    const problem = signatureChainProblem(job, this.#backend, canonical)
    return problem === undefined ? undefined : reject(problem.reason, problem.message)
  }
}

export function createJobVerifier(init: JobVerifierInit): JobVerifier {
  return new JobVerifier(init)
}
