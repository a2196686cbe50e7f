/**
 * Script code (run inside the sandbox, never on the host) that turns the flat host function
 * `osiris.__call(model, op, args)` into `osiris.model(name).create/get/list/update/delete/query`,
 * then hides the raw function.
 */
export const OSIRIS_PRELUDE = `(() => {
  const call = osiris.__call
  delete osiris.__call
  osiris.model = function model(name) {
    if (typeof name !== 'string') throw new TypeError('osiris.model(name): expected a string name')
    return Object.freeze({
      create: (record) => call(name, 'create', [record]),
      get: (id) => call(name, 'get', [id]),
      list: (options) => call(name, 'list', [options]),
      update: (id, patch) => call(name, 'update', [id, patch]),
      delete: (id) => call(name, 'delete', [id]),
      query: (filter, options) => call(name, 'query', [filter, options]),
    })
  }
  Object.freeze(osiris)
})()
`
