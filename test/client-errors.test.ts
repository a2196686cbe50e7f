import { describe, expect, it } from 'vitest'
import {
  type JobRejectedError,
  RunNotFoundError,
  rebuildRemoteError,
  WorkflowValidationError,
} from '../src/client/errors.js'
import {
  CallTimeoutError,
  ConnectionClosedError,
  fromWireError,
  UnauthorizedError,
  UnavailableError,
} from '../src/protocols/rpc/errors.js'
import { shouldFailover } from '../src/protocols/rpc/failover.js'

describe('errors from the wire', () => {
  it('rebuilds the coordinator errors with the details the node sent', () => {
    const wire = {
      code: -32030,
      message: 'invalid workflow (2 errors)',
      data: {
        name: 'WorkflowValidationError',
        retryable: false,
        code: 'WORKFLOW_INVALID',
        issues: [
          { path: 'workflow.steps[0].depends_on[0]', message: 'unknown step "ghost"' },
          { path: 'workflow.steps[1].id', message: 'duplicate id "a"' },
        ],
      },
    }
    const err = rebuildRemoteError(fromWireError(wire))
    expect(err).toBeInstanceOf(WorkflowValidationError)
    const validation = err as WorkflowValidationError
    expect(validation.code).toBe('WORKFLOW_INVALID')
    expect(validation.message).toBe('invalid workflow (2 errors)')
    expect(validation.issues.map((i) => i.path)).toEqual([
      'workflow.steps[0].depends_on[0]',
      'workflow.steps[1].id',
    ])

    const missing = rebuildRemoteError(
      fromWireError({
        code: -32033,
        message: 'no run "x"',
        data: { name: 'RunNotFoundError', retryable: false },
      }),
    )
    expect(missing).toBeInstanceOf(RunNotFoundError)
    const rejected = rebuildRemoteError(
      fromWireError({
        code: -32010,
        message: 'job rejected',
        data: { name: 'JobRejectedError', reason: 'expired' },
      }),
    )
    expect((rejected as JobRejectedError).data.reason).toBe('expired')
  })

  it('leaves protocol errors and unknown application errors as they came', () => {
    const unauthorized = fromWireError(new UnauthorizedError().toWire())
    expect(rebuildRemoteError(unauthorized)).toBe(unauthorized)
    const unknown = fromWireError({ code: -32010, message: 'x', data: { name: 'SomethingElse' } })
    expect(rebuildRemoteError(unknown)).toBe(unknown)
  })
})

describe('failover decisions', () => {
  const dial = Object.assign(new Error('all dials failed'), { name: 'DialError' })
  const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })

  it('sends anything elsewhere when the request never reached the node', () => {
    for (const err of [dial, refused, new UnavailableError(), new AggregateError([refused])]) {
      expect(shouldFailover(err, { idempotent: false })).toBe(true)
    }
    const stopping = fromWireError({
      code: -32010,
      message: 'the coordinator is not running',
      data: { name: 'CoordinatorNotRunningError', retryable: true },
    })
    expect(shouldFailover(stopping, { idempotent: false })).toBe(true)
  })

  it('repeats only reads when the answer may have been lost after sending', () => {
    for (const err of [new ConnectionClosedError(), new CallTimeoutError()]) {
      expect(shouldFailover(err, { idempotent: true })).toBe(true)
      expect(shouldFailover(err, { idempotent: false })).toBe(false)
    }
  })

  it('never when the node answered, or when the caller gave up', () => {
    expect(shouldFailover(new UnauthorizedError(), { idempotent: true })).toBe(false)
    const aborted = AbortSignal.abort()
    expect(shouldFailover(dial, { idempotent: true, signal: aborted })).toBe(false)
  })
})
