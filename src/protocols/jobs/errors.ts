import { ConfigError, HorusError } from '../../core/errors.js'
import type { RejectReason } from './reasons.js'

/** A job could not be built or signed from the fields given (bad capability, non-JSON input, …). */
export class InvalidJobError extends HorusError {
  static override readonly code = 'JOB_INVALID'
}

/** A key, seed or peer ID is not a usable Ed25519 key. */
export class InvalidKeyError extends HorusError {
  static override readonly code = 'KEY_INVALID'
}

/** A result could not be built or signed from the fields given. */
export class InvalidResultError extends HorusError {
  static override readonly code = 'RESULT_INVALID'
}

/** A submission or trigger registration could not be built or signed from the fields given. */
export class InvalidAuthorityError extends HorusError {
  static override readonly code = 'AUTHORITY_INVALID'
}

/** The `trust:` section of the node configuration is invalid; `issues` holds one message per path. */
export class TrustPolicyError extends ConfigError {
  static override readonly code = 'TRUST_POLICY_INVALID'
}

/** The replay cache was used before `start()` or after `stop()`. */
export class ReplayCacheNotStartedError extends HorusError {
  static override readonly code = 'REPLAY_CACHE_NOT_STARTED'

  constructor() {
    super('replay cache is not started')
  }
}

/**
 * A job failed verification. Thrown by callers that turn a `VerifyResult` into an error (the RPC
 * layer does); `reason` is one of the stable verifier reasons and travels in the error data.
 */
export class JobRejectedError extends HorusError {
  static override readonly code = 'JOB_REJECTED'
  readonly reason: RejectReason

  constructor(reason: RejectReason, message: string) {
    super(`job rejected (${reason}): ${message}`)
    this.reason = reason
  }
}

/** A value has no RFC 8785 form: NaN, Infinity, a lone surrogate, a BigInt, a cycle. */
export class NotCanonicalJsonError extends HorusError {
  static override readonly code = 'JSON_NOT_CANONICAL'
}
