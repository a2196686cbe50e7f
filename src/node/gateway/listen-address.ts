/** `host:port` as given on the command line or in config, parsed and classified. */
import { isIP } from 'node:net'
import { GatewayConfigError } from './errors.js'

export interface ListenAddress {
  host: string
  port: number
  /** True when only this machine can reach the address. */
  loopback: boolean
}

/** Accepts `127.0.0.1:8080`, `[::1]:8080`, `localhost:0`, `0.0.0.0:8080`. */
export function parseListenAddress(value: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value.trim())
  const host = match?.[1] ?? match?.[2]
  const port = Number(match?.[3])
  if (match === null || host === undefined || !Number.isInteger(port) || port > 65535) {
    throw new GatewayConfigError([
      `gateway.listen: expected "host:port" (e.g. 127.0.0.1:8080), got "${value}"`,
    ])
  }
  if (host !== 'localhost' && isIP(host) === 0) {
    throw new GatewayConfigError([`gateway.listen: expected an IP address or localhost, got "${host}"`])
  }
  return { host, port, loopback: isLoopback(host) }
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true
  if (isIP(host) === 4) return host.startsWith('127.')
  return /^::ffff:127\./i.test(host)
}
