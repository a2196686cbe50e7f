import { HorusError } from '../../core/errors.js'

/** The peer (or this store) does not hold the blob. */
export class BlobNotFoundError extends HorusError {
  static override readonly code = 'BLOB_NOT_FOUND'

  static of(digest: string): BlobNotFoundError {
    return new BlobNotFoundError(`blob ${digest} is not held here`)
  }
}

/** A blob is larger than the configured limit (refused before any of it is stored). */
export class BlobTooLargeError extends HorusError {
  static override readonly code = 'BLOB_TOO_LARGE'

  static of(size: number, limit: number): BlobTooLargeError {
    return new BlobTooLargeError(`blob of ${size} bytes exceeds the ${limit}-byte limit`)
  }
}

/** Bytes received do not hash to the digest that was asked for (or their size is not the one announced). */
export class BlobDigestMismatchError extends HorusError {
  static override readonly code = 'BLOB_DIGEST_MISMATCH'

  constructor(message: string) {
    super(message, { retryable: true })
  }
}

/** The serving peer refused: the caller is not a coordinator or runner it trusts. */
export class BlobAccessDeniedError extends HorusError {
  static override readonly code = 'BLOB_ACCESS_DENIED'
}

/** The serving peer is already serving as many transfers as it allows; try again later. */
export class BlobServerBusyError extends HorusError {
  static override readonly code = 'BLOB_SERVER_BUSY'

  constructor(message = 'the peer is serving as many blob transfers as it allows') {
    super(message, { retryable: true })
  }
}

/** A peer broke the protocol (malformed frame, more bytes than announced). */
export class BlobProtocolError extends HorusError {
  static override readonly code = 'BLOB_PROTOCOL'

  constructor(message: string) {
    super(message, { retryable: true })
  }
}

/** No source could deliver the blob; `reasons` says why each one failed. */
export class BlobUnavailableError extends HorusError {
  static override readonly code = 'BLOB_UNAVAILABLE'
  readonly reasons: readonly string[]

  constructor(digest: string, reasons: readonly string[]) {
    super(
      `blob ${digest} could not be fetched${reasons.length === 0 ? ' (no source known)' : `: ${reasons.join('; ')}`}`,
      { retryable: true },
    )
    this.reasons = reasons
  }
}

/** Errors a serving peer reports, rebuilt on the fetching side by `name`. */
export const REMOTE_BLOB_ERRORS: Readonly<Record<string, (message: string) => HorusError>> = {
  BlobNotFoundError: (m) => new BlobNotFoundError(m),
  BlobAccessDeniedError: (m) => new BlobAccessDeniedError(m),
  BlobServerBusyError: (m) => new BlobServerBusyError(m),
  BlobTooLargeError: (m) => new BlobTooLargeError(m),
}
