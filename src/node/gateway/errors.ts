import { ConfigError } from '../errors.js'

/**
 * The gateway cannot start as configured: a bad listen address, or a non-loopback bind without a
 * bearer token (which would expose every method to the network unauthenticated).
 */
export class GatewayConfigError extends ConfigError {
  static override readonly code = 'GATEWAY_CONFIG_INVALID'
}
