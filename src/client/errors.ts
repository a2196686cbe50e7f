/**
 * The SDK's typed errors. Errors a coordinator or supervisor throws arrive as JSON-RPC errors
 * naming their class in `data.name`; `rebuildRemoteError` turns them back into these classes with
 * the details the server sent (a validation error's `issues`, say). That is done here rather than
 * with the RPC clients' `errors` option, which restores only message, code and `retryable`.
 */
import { HorusError } from '../core/errors.js'
import { RemoteError, UnauthorizedError } from '../protocols/rpc/errors.js'
import type { GatewayRefusal } from '../protocols/rpc/http-client.js'

/** One problem in a workflow document, at a path like `workflow.steps[2].depends_on[0]`. */
export interface WorkflowIssue {
  path: string
  message: string
}

/** An error a mesh node threw on our behalf; `data` is what it sent beside the message. */
export class RemoteHorusError extends HorusError {
  readonly data: Readonly<Record<string, unknown>>

  constructor(message: string, data: Record<string, unknown> = {}, cause?: unknown) {
    super(message, {
      ...(typeof data.code === 'string' ? { code: data.code } : {}),
      retryable: data.retryable === true,
      cause,
    })
    this.data = data
  }
}

function issuesOf(data: Record<string, unknown>): WorkflowIssue[] {
  const issues = Array.isArray(data.issues) ? data.issues : []
  return issues
    .filter((i): i is Record<string, unknown> => typeof i === 'object' && i !== null)
    .map((i) => ({ path: String(i.path ?? ''), message: String(i.message ?? '') }))
}

/** The workflow document is invalid; `issues` lists every problem with its path. */
export class WorkflowValidationError extends RemoteHorusError {
  static override readonly code = 'WORKFLOW_INVALID'
  readonly issues: readonly WorkflowIssue[]

  constructor(message: string, data: Record<string, unknown> = {}, cause?: unknown) {
    super(message, data, cause)
    this.issues = issuesOf(data)
  }
}

/** The workflow text is neither valid YAML nor JSON. */
export class WorkflowParseError extends RemoteHorusError {
  static override readonly code = 'WORKFLOW_PARSE_FAILED'
}

/** The run's inputs do not match the workflow's declared `inputs`. */
export class WorkflowInputError extends RemoteHorusError {
  static override readonly code = 'WORKFLOW_INPUTS_INVALID'
  readonly issues: readonly WorkflowIssue[]

  constructor(message: string, data: Record<string, unknown> = {}, cause?: unknown) {
    super(message, data, cause)
    this.issues = issuesOf(data)
  }
}

/** No coordinator knows a run with that id. */
export class RunNotFoundError extends RemoteHorusError {
  static override readonly code = 'RUN_NOT_FOUND'
}

/**
 * The run finished longer ago than the coordinators' retention period and was removed;
 * `finishedAt` and `expiredAt` (ms epoch) say when.
 */
export class RunExpiredError extends RemoteHorusError {
  static override readonly code = 'RUN_EXPIRED'
  readonly finishedAt: number | undefined
  readonly expiredAt: number | undefined

  constructor(message: string, data: Record<string, unknown> = {}, cause?: unknown) {
    super(message, data, cause)
    this.finishedAt = typeof data.finishedAt === 'number' ? data.finishedAt : undefined
    this.expiredAt = typeof data.expiredAt === 'number' ? data.expiredAt : undefined
  }
}

/** Pause, resume or cancel of a run that has already finished. */
export class RunFinishedError extends RemoteHorusError {
  static override readonly code = 'RUN_FINISHED'
}

/** A run id given by the caller is already taken by another run. */
export class RunExistsError extends RemoteHorusError {
  static override readonly code = 'RUN_EXISTS'
}

/** The coordinator refused the signed submission; `data.reason` says why (bad_signature, expired…). */
export class SubmissionRejectedError extends RemoteHorusError {
  static override readonly code = 'SUBMISSION_REJECTED'
}

/** The submitter's trust entry does not allow a step's capability; `data.step` names the step. */
export class CapabilityDeniedError extends RemoteHorusError {
  static override readonly code = 'CAPABILITY_DENIED'
}

/** Only the run's submitter, or a key trusted as admin, may read or control the run. */
export class RunAccessDeniedError extends RemoteHorusError {
  static override readonly code = 'RUN_ACCESS_DENIED'
}

/** The run has no signed authority (stored before submissions were signed): no bundle to export. */
export class RunNotExportableError extends RemoteHorusError {
  static override readonly code = 'RUN_NOT_EXPORTABLE'
}

/** No supervisor the client can reach accepted a job with that id. */
export class JobNotFoundError extends RemoteHorusError {
  static override readonly code = 'JOB_NOT_FOUND'
}

/** The supervisor refused the job: bad signature, untrusted key, expired, replayed, … */
export class JobRejectedError extends RemoteHorusError {
  static override readonly code = 'JOB_REJECTED'
}

/**
 * `no_runner`: no live runner offers the job's capability; `capability` and `available` say which
 * was asked for and what the mesh offers. Pass `waitForRunner` to queue the job anyway.
 */
export class NoRunnerError extends RemoteHorusError {
  static override readonly code = 'NO_RUNNER'
  readonly capability: string | undefined
  readonly available: readonly string[]

  constructor(message: string, data: Record<string, unknown> = {}, cause?: unknown) {
    super(message, data, cause)
    this.capability = typeof data.capability === 'string' ? data.capability : undefined
    this.available = Array.isArray(data.available) ? data.available.map(String) : []
  }
}

const REMOTE_CLASSES = new Map<
  string,
  new (
    message: string,
    data?: Record<string, unknown>,
    cause?: unknown,
  ) => RemoteHorusError
>(
  [
    WorkflowValidationError,
    WorkflowParseError,
    WorkflowInputError,
    RunNotFoundError,
    RunExpiredError,
    RunFinishedError,
    RunExistsError,
    SubmissionRejectedError,
    CapabilityDeniedError,
    RunAccessDeniedError,
    RunNotExportableError,
    JobNotFoundError,
    JobRejectedError,
    NoRunnerError,
  ].map((c) => [c.name, c]),
)

/** The SDK's class for an application error a node sent; anything else is returned unchanged. */
export function rebuildRemoteError(err: unknown): unknown {
  if (!(err instanceof RemoteError)) return err
  const cls = REMOTE_CLASSES.get(err.remoteName)
  return cls === undefined ? err : new cls(err.message, { ...err.data }, err)
}

/** No node with the role the call needs answered (none found, or every one found is down). */
export class NoProviderError extends HorusError {
  static override readonly code = 'NO_PROVIDER'
  readonly role: string
  readonly detail: string

  /** `cause`: the failure of the last node tried, when there was one (its message is appended). */
  constructor(role: string, detail: string, cause?: unknown) {
    const last = cause instanceof Error ? `; last failure: ${cause.name}: ${cause.message}` : ''
    super(`no reachable ${role} in the mesh: ${detail}${last}`, { retryable: true, cause })
    this.role = role
    this.detail = detail
  }
}

/** What an ambiguous call was about: the id to look it up by. */
export interface OutcomeSubject {
  jobId?: string
  runId?: string
}

/**
 * The request may or may not have been carried out: it reached (or may have reached) a node, and
 * the answer was lost — the session closed under it, or it timed out. `jobId` / `runId` name what
 * to look up (`getJobStatus`, `getStatus`) before doing it again; `cause` is the failure seen.
 */
export class OutcomeUnknownError extends HorusError {
  static override readonly code = 'OUTCOME_UNKNOWN'
  readonly method: string
  readonly jobId: string | undefined
  readonly runId: string | undefined

  constructor(method: string, subject: OutcomeSubject, cause: unknown) {
    const about =
      subject.jobId !== undefined
        ? `job ${subject.jobId}`
        : subject.runId !== undefined
          ? `run ${subject.runId}`
          : 'the request'
    const why = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)
    super(
      `${method}: outcome unknown: ${about} may or may not have been accepted; the answer was lost (${why}). Look it up before sending it again.`,
      { retryable: false, cause },
    )
    this.method = method
    this.jobId = subject.jobId
    this.runId = subject.runId
  }
}

/** None of the bootstrap addresses answered; the message says why when it is known. */
export class BootstrapUnreachableError extends HorusError {
  static override readonly code = 'BOOTSTRAP_UNREACHABLE'

  constructor(detail: string, cause?: unknown) {
    super(`cannot reach any bootstrap node: ${detail}`, { retryable: true, cause })
  }
}

/**
 * The node refused the call: its trust policy does not give this client's key the role the method
 * needs (`client` for coordinator and supervisor methods). The fix is a trust entry on that node.
 */
export class AccessDeniedError extends HorusError {
  static override readonly code = 'ACCESS_DENIED'
}

/** The gateway refused the request: its bearer token is missing or wrong, or (403) the Host or Origin is not allowed. */
export class GatewayTokenError extends HorusError {
  static override readonly code = 'GATEWAY_TOKEN_REFUSED'
  readonly reason: GatewayRefusal

  constructor(message: string, reason: GatewayRefusal, cause?: unknown) {
    super(message, { cause })
    this.reason = reason
  }
}

/**
 * A job result the client will not believe, so it is not handed to the caller: `reason` says why
 * (`untrusted_runner`, `not_dispatched_runner`, `wrong_job`, `bad_signature`, `malformed`…).
 */
export class ResultRefusedError extends HorusError {
  static override readonly code: string = 'RESULT_REFUSED'
  readonly reason: string

  constructor(reason: string, message: string) {
    super(message)
    this.reason = reason
  }
}

/**
 * A refusal (JSON-RPC -32001) as the typed error that says what to fix: the gateway's token, or
 * what decides who may call — the node's trust policy for this client's key over the mesh
 * (`clientPeerId`), the gateway's `gateway.grant` over HTTP (no `clientPeerId`: the node's own key
 * acts). Anything else is returned unchanged.
 */
export function explainRefusal(err: unknown, clientPeerId?: string): unknown {
  if (!(err instanceof UnauthorizedError)) return err
  const reason = err.data.reason
  if (reason === 'token_missing' || reason === 'token_wrong' || reason === 'forbidden')
    return new GatewayTokenError(err.message, reason, err)
  const why =
    clientPeerId === undefined
      ? "over the gateway, calls act as the node's own key, narrowed by its gateway.grant"
      : `the node's trust policy does not admit this client (peer ID ${clientPeerId}) as a client`
  return new AccessDeniedError(`${err.message}: ${why}`, { cause: err })
}

/** A job result whose runner signature does not verify (a ResultRefusedError with `bad_signature`). */
export class InvalidResultSignatureError extends ResultRefusedError {
  static override readonly code = 'RESULT_SIGNATURE_INVALID'
}

/** `HorusClient.connect` was given options that cannot work; the message names the field. */
export class ClientOptionsError extends HorusError {
  static override readonly code = 'CLIENT_OPTIONS_INVALID'
}

/** The client was used after `close()`. */
export class ClientClosedError extends HorusError {
  static override readonly code = 'CLIENT_CLOSED'

  constructor() {
    super('the Horus client is closed')
  }
}

/**
 * Secrets cannot be sealed: no runner key is trusted for the capability that needs them (or a
 * secret is not named by any step). Nothing was sent.
 */
export class SecretSealingError extends HorusError {
  static override readonly code = 'SECRET_SEALING_FAILED'
}
