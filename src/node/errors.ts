import { HorusError } from '../core/errors.js'

/** The identity key file exists but cannot be used; it is never silently replaced. */
export class IdentityError extends HorusError {
  static override readonly code: string = 'IDENTITY_INVALID'
  readonly file: string

  constructor(file: string, reason: string, cause?: unknown) {
    super(`identity key ${file}: ${reason}`, { cause })
    this.file = file
  }
}

/** The swarm key file for a private mesh cannot be read or parsed. */
export class SwarmKeyError extends HorusError {
  static override readonly code: string = 'SWARM_KEY_INVALID'

  constructor(file: string, reason: string, cause?: unknown) {
    super(`swarm key ${file}: ${reason}`, { cause })
  }
}
