/**
 * How a failed command reports: a line on stderr (`horus: … [CODE]`; a configuration or workflow
 * error lists every problem on its own line below) or, with `--json`, one JSON object
 * `{ name, code, message }` on stderr — and the exit code the README documents. Never a stack
 * trace, except for a bug.
 */
import { AccessDeniedError, GatewayTokenError } from '../client/errors.js'
import { ConfigError, HorusError } from '../core/errors.js'
import { IdentityError, SwarmKeyError } from '../node/errors.js'
import { RpcError } from '../protocols/rpc/errors.js'
import { isUnreachable } from '../protocols/rpc/failover.js'
import { EXIT, UsageError } from './errors.js'

export interface ErrorReport {
  name: string
  code: string
  message: string
  /** Every problem of a configuration error, each with its path. */
  issues?: string[]
  exit: number
}

/** What to tell the user about `err`, and which exit code it means. */
export function describeError(err: unknown): ErrorReport {
  const name = err instanceof Error ? err.name : 'Error'
  if (err instanceof ConfigError) {
    return { name, code: err.code, message: err.message, issues: [...err.issues], exit: EXIT.usage }
  }
  // A key file the command was pointed at is unusable: the fix is in the setup, as for a bad flag.
  if (err instanceof UsageError || err instanceof IdentityError || err instanceof SwarmKeyError) {
    return { name, code: err.code, message: err.message, exit: EXIT.usage }
  }
  if (err instanceof GatewayTokenError) {
    // A 403 carries the gateway's own explanation (loopback Host, foreign Origin) in the message.
    const advice =
      err.reason === 'forbidden'
        ? ''
        : ": pass the node's gateway.token with --token T or HORUS_GATEWAY_TOKEN"
    return { name, code: err.code, message: `${err.message}${advice}`, exit: EXIT.failed }
  }
  if (err instanceof AccessDeniedError)
    return { name, code: err.code, message: err.message, exit: EXIT.failed }
  if (isUnreachable(err)) {
    const code = err instanceof HorusError ? err.code : 'UNREACHABLE'
    return { name, code, message: `cannot reach the mesh: ${firstLine(err)}`, exit: EXIT.unreachable }
  }
  if (err instanceof RpcError) {
    const message = `${err.data.name}: ${err.message}`
    return { name: err.data.name, code: String(err.code), message, exit: EXIT.failed }
  }
  // Messages of our own errors are written for people (a workflow's issues, one per line).
  if (err instanceof HorusError) {
    return {
      name,
      code: err.code,
      message: err.message,
      exit: err.retryable ? EXIT.unreachable : EXIT.failed,
    }
  }
  const stack = err instanceof Error ? (err.stack ?? err.message) : String(err)
  return { name, code: 'UNEXPECTED', message: `unexpected error: ${stack}`, exit: EXIT.failed }
}

/** The text form: `horus: message [CODE]`. */
export function formatError(report: ErrorReport): string {
  if (report.code === 'USAGE' || report.code === 'UNEXPECTED' || report.issues !== undefined)
    return `horus: ${report.message}`
  return `horus: ${report.message} [${report.code}]`
}

/** The `--json` form: one line, so a script can parse stderr. */
export function formatErrorJson(report: ErrorReport): string {
  const { exit: _exit, ...body } = report
  return JSON.stringify(body)
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  return message.split('\n')[0] ?? message
}
