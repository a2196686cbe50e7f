import { HorusError } from '../../../../core/errors.js'

/** A command ran past its timeout; its whole process group was killed. */
export class CommandTimeoutError extends HorusError {
  static override readonly code = 'COMMAND_TIMEOUT'

  constructor(command: string, timeoutMs: number) {
    super(`command timed out after ${timeoutMs} ms: ${command}`, { retryable: true })
  }
}

/** A command exited with a non-zero status (hero `shell.exec` treats that as failure). */
export class CommandFailedError extends HorusError {
  static override readonly code = 'COMMAND_FAILED'
  readonly exitCode: number | null
  readonly stderr: string

  constructor(command: string, exitCode: number | null, signal: string | null, stderr: string) {
    const how = exitCode === null ? `was killed by ${signal ?? 'a signal'}` : `exited with code ${exitCode}`
    const tail = stderr.trim().split('\n').slice(-3).join('\n')
    super(`command ${how}: ${command}${tail === '' ? '' : `\n${tail}`}`)
    this.exitCode = exitCode
    this.stderr = stderr
  }
}

/** A command could not be started (bad cwd, no shell). */
export class CommandSpawnError extends HorusError {
  static override readonly code = 'COMMAND_SPAWN_FAILED'
}

/** A path given to `fs.*` or as a `cwd` leaves the job's work directory. */
export class PathOutsideWorkDirError extends HorusError {
  static override readonly code = 'PATH_OUTSIDE_WORKDIR'

  constructor(path: string, reason: string) {
    super(`path ${JSON.stringify(path)} is outside the job's work directory: ${reason}`)
  }
}

/** A file operation inside the work directory failed (missing file, not a directory, too large…). */
export class FileOperationError extends HorusError {
  static override readonly code = 'FILE_OPERATION_FAILED'
}

/** An HTTP request did not complete within its timeout. */
export class HttpTimeoutError extends HorusError {
  static override readonly code = 'HTTP_TIMEOUT'

  constructor(url: string, timeoutMs: number) {
    super(`HTTP request to ${url} timed out after ${timeoutMs} ms`, { retryable: true })
  }
}

/** An HTTP request failed before a response (DNS, connection refused, bad URL). */
export class HttpRequestError extends HorusError {
  static override readonly code = 'HTTP_REQUEST_FAILED'
}

/** A response body that was to be JSON (by its content type, or `as:json`) does not parse. */
export class HttpBodyNotJsonError extends HorusError {
  static override readonly code = 'HTTP_BODY_NOT_JSON'
}

/** An HTTP response was not 2xx (hero treats that as failure; 5xx and 429 are retryable). */
export class HttpStatusError extends HorusError {
  static override readonly code = 'HTTP_STATUS'
  readonly status: number

  constructor(method: string, url: string, status: number, body: string) {
    super(`${method} ${url} answered ${status}${body === '' ? '' : `: ${body.slice(0, 200)}`}`, {
      retryable: status >= 500 || status === 429,
    })
    this.status = status
  }
}

/** An HTTP response body is larger than the limit. */
export class HttpResponseTooLargeError extends HorusError {
  static override readonly code = 'HTTP_RESPONSE_TOO_LARGE'

  constructor(url: string, limitBytes: number) {
    super(`HTTP response from ${url} is larger than ${limitBytes} bytes`)
  }
}

/** A script called a host API with arguments of the wrong shape. */
export class HostArgumentError extends HorusError {
  static override readonly code = 'HOST_ARGUMENT_INVALID'
}
