/**
 * The base of every error Horus throws. `code` is stable across releases and across the wire
 * (clients rebuild the class from `name`); `retryable` says whether the same call may succeed later.
 */
export class HorusError extends Error {
  static readonly code: string = 'HORUS_ERROR'
  readonly code: string
  readonly retryable: boolean

  constructor(message: string, options: { code?: string; retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = options.code ?? (new.target as unknown as { code: string }).code
    this.retryable = options.retryable ?? false
  }
}

/** A configuration value (file, environment or flag) is invalid; `path` names it. */
export class ConfigError extends HorusError {
  static override readonly code: string = 'CONFIG_INVALID'
  readonly issues: readonly string[]

  constructor(issues: readonly string[], options: { cause?: unknown } = {}) {
    super(`invalid configuration:\n  ${issues.join('\n  ')}`, options)
    this.issues = issues
  }
}
