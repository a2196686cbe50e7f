import { HorusError } from '../../../../core/errors.js'

/** A model name, id, record or filter has the wrong shape. */
export class OsirisArgumentError extends HorusError {
  static override readonly code = 'OSIRIS_ARGUMENT_INVALID'
}

/** No record with that id in that model. */
export class OsirisNotFoundError extends HorusError {
  static override readonly code = 'OSIRIS_NOT_FOUND'

  constructor(model: string, id: string) {
    super(`osiris: no ${JSON.stringify(id)} in model ${JSON.stringify(model)}`)
  }
}

/** A record with that id already exists. */
export class OsirisConflictError extends HorusError {
  static override readonly code = 'OSIRIS_CONFLICT'

  constructor(model: string, id: string) {
    super(`osiris: ${JSON.stringify(id)} already exists in model ${JSON.stringify(model)}`)
  }
}

/** The runner has no datastore for osiris. */
export class OsirisUnavailableError extends HorusError {
  static override readonly code = 'OSIRIS_UNAVAILABLE'

  constructor() {
    super('osiris: this runner has no datastore')
  }
}

/** A record's JSON is larger than `maxRecordBytes`; nothing was written. */
export class OsirisRecordTooLargeError extends HorusError {
  static override readonly code = 'OSIRIS_RECORD_TOO_LARGE'

  constructor(model: string, sizeBytes: number, limitBytes: number) {
    super(
      `osiris: a record of model ${JSON.stringify(model)} is ${sizeBytes} bytes of JSON, more than the limit of ${limitBytes} bytes (runner.osiris.maxRecordBytes)`,
    )
  }
}

/** A `get`, `list` or `query` would return more than `maxResultBytes`; page with `limit`/`offset`. */
export class OsirisResultTooLargeError extends HorusError {
  static override readonly code = 'OSIRIS_RESULT_TOO_LARGE'

  constructor(model: string, operation: string, sizeBytes: number, limitBytes: number, records: number) {
    super(
      `osiris: ${operation} on model ${JSON.stringify(model)} would return more than ${limitBytes} bytes (runner.osiris.maxResultBytes): ${sizeBytes} bytes after ${records} record(s); ask for fewer with options { limit, offset }`,
    )
  }
}

/** The write would take this node's osiris data past its storage quota; nothing was written. */
export class OsirisQuotaExceededError extends HorusError {
  static override readonly code = 'OSIRIS_QUOTA_EXCEEDED'

  constructor(usedBytes: number, addBytes: number, quotaBytes: number) {
    super(
      `osiris: storage quota exceeded: ${usedBytes} bytes used, this write needs ${addBytes} more, the quota is ${quotaBytes} bytes (runner.osiris.quotaBytes)`,
    )
  }
}
