import { ConfigError, HorusError } from '../../core/errors.js'

/**
 * The gateway cannot start as configured: a bad listen address, or a non-loopback bind without a
 * bearer token (which would expose every method to the network unauthenticated).
 */
export class GatewayConfigError extends ConfigError {
  static override readonly code = 'GATEWAY_CONFIG_INVALID'
}

/** The gateway's address was asked for before `start()` bound it. */
export class GatewayNotStartedError extends HorusError {
  static override readonly code = 'GATEWAY_NOT_STARTED'

  constructor() {
    super('the gateway is not started; its address is known after start()')
  }
}
