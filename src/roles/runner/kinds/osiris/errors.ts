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
