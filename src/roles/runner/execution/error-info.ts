/** The wire form of a job failure: Temporal-style `type` (name) and retryability, no stack. */

import type { ExecutionError } from './index.js'

export function toExecutionError(err: unknown): ExecutionError {
  if (err instanceof Error) {
    const { code, retryable } = err as { code?: unknown; retryable?: unknown }
    return {
      name: err.name,
      code: typeof code === 'string' ? code : 'JOB_FAILED',
      message: err.message,
      retryable: typeof retryable === 'boolean' ? retryable : false,
    }
  }
  return { name: 'Error', code: 'JOB_FAILED', message: String(err), retryable: false }
}
