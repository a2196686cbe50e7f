/**
 * Which failures mean "this node is gone, ask another": the request never left (dial failures,
 * the node refusing new work because it is stopping) — always safe to send elsewhere — or it may
 * have been sent and the answer lost (closed session, timeout) — safe only for calls that may run
 * twice.
 */

/** Dial and transport failures, and a node refusing work because it stops: it is not there. */
const DIAL_FAILURES = [
  'DialError',
  'ConnectionFailedError',
  'NoValidAddressesError',
  'UnsupportedProtocolError',
  'EncryptionFailedError',
  'UnavailableError',
]

/** The request cannot have reached the node's handler. */
const NOT_SENT = new Set([
  ...DIAL_FAILURES,
  'TimeoutError',
  'AbortError',
  'NotFoundError',
  'InvalidMultiaddrError',
  // A role service refusing work while it starts or stops: another node of the role can take it.
  'CoordinatorNotRunningError',
  'SupervisorNotRunningError',
])

/** The request may have been handled; only the answer is missing. */
const MAYBE_SENT = new Set(['ConnectionClosedError', 'CallTimeoutError'])

/** The node refused the call before running it because this caller has too many in flight. */
const BUSY = new Set(['TooManyRequestsError'])

/**
 * The node could not be reached (a dial that failed or timed out), or its session closed under the
 * call (the CLI's exit 3).
 */
const UNREACHABLE = new Set([...DIAL_FAILURES, 'ConnectionClosedError', 'TimeoutError'])

const DIAL_SET = new Set(DIAL_FAILURES)

/** Sets whose members a socket error code (ECONNREFUSED…) also stands for. */
const CODE_SETS: ReadonlySet<ReadonlySet<string>> = new Set([NOT_SENT, UNREACHABLE, DIAL_SET])

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENOTFOUND', 'ETIMEDOUT'])

function matches(err: unknown, names: ReadonlySet<string>, depth = 0): boolean {
  if (!(err instanceof Error) || depth > 5) return false
  if (names.has(err.name)) return true
  // A RemoteError carries the class name the node sent.
  const remote = (err as { data?: { name?: unknown } }).data?.name
  if (typeof remote === 'string' && names.has(remote)) return true
  const code = (err as { code?: unknown }).code
  if (CODE_SETS.has(names) && typeof code === 'string' && UNREACHABLE_CODES.has(code)) return true
  if (err instanceof AggregateError && err.errors.some((e) => matches(e, names, depth + 1))) return true
  return err.cause !== undefined && err.cause !== err && matches(err.cause, names, depth + 1)
}

/**
 * Should the call go to another node? Never when the caller gave up (`signal` aborted): the
 * caller's own abort surfaces as CancelledError or AbortError and must not look like a dead node.
 */
export function shouldFailover(
  err: unknown,
  options: { idempotent: boolean; signal?: AbortSignal },
): boolean {
  if (options.signal?.aborted === true) return false
  if (matches(err, NOT_SENT)) return true
  return options.idempotent && matches(err, MAYBE_SENT)
}

/** Is this failure "cannot reach the mesh" rather than an answer from it? */
export function isUnreachable(err: unknown): boolean {
  return matches(err, UNREACHABLE)
}

/** Did the request possibly reach the node's handler before the failure (the answer is lost)? */
export function maybeHandled(err: unknown): boolean {
  return !matches(err, NOT_SENT) && matches(err, MAYBE_SENT)
}

/** The node is there but refused the call for now (too many of this caller's calls in flight). */
export function isBusy(err: unknown): boolean {
  return matches(err, BUSY)
}

/** A dial or transport failure: the session to that node must be opened again from scratch. */
export function isDialFailure(err: unknown): boolean {
  return matches(err, DIAL_SET)
}
