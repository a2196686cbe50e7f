/**
 * The `osiris` kind: a script (in the sandbox) with data operations —
 * `osiris.model(name).create(obj)/get(id)/list()/update(id, patch)/delete(id)/query(filter)` —
 * stored in the node's datastore, plus the runner's registered functions. `create` returns the
 * record with its generated `id` (or the `id` the object carries, refused if taken).
 */

import type { Datastore } from 'interface-datastore'
import { type KindHandler, scriptContext } from '../../execution/index.js'
import type { HostFunction, JsonValue } from '../../sandbox/index.js'
import { OsirisArgumentError, OsirisUnavailableError } from './errors.js'
import { type OsirisLimits, OsirisStore } from './model-store.js'
import { OSIRIS_PRELUDE } from './prelude.js'

export * from './constants.js'
export * from './errors.js'
export { type ListOptions, type OsirisLimits, type OsirisRecord, OsirisStore } from './model-store.js'

export interface OsirisKindInit extends OsirisLimits {
  /** @default the executor's datastore (`ctx.datastore`) */
  datastore?: Datastore
}

const OPERATIONS = ['create', 'get', 'list', 'update', 'delete', 'query'] as const
type Operation = (typeof OPERATIONS)[number]

export function osirisKind(init: OsirisKindInit = {}): KindHandler {
  const stores = new WeakMap<Datastore, OsirisStore>()
  const storeFor = (datastore: Datastore): OsirisStore => {
    let store = stores.get(datastore)
    if (store === undefined) {
      store = new OsirisStore(datastore, init)
      stores.set(datastore, store)
    }
    return store
  }
  return async (job, ctx) => {
    const datastore = init.datastore ?? ctx.datastore
    if (datastore === undefined) throw new OsirisUnavailableError()
    const store = storeFor(datastore)
    const call: HostFunction = async ([model, op, args]) => {
      if (typeof model !== 'string')
        throw new OsirisArgumentError('osiris.model(name): expected a string name')
      if (!OPERATIONS.includes(op as Operation))
        throw new OsirisArgumentError(`unknown operation ${JSON.stringify(op)}`)
      const [a, b] = Array.isArray(args) ? args : []
      const result = await invoke(store, model, op as Operation, a, b)
      return result as unknown as JsonValue
    }
    const run = await ctx.sandbox.runScript({
      code: job.payload,
      prelude: OSIRIS_PRELUDE,
      globals: { input: job.input, env: ctx.env, ...scriptContext(job) },
      hostFunctions: { ...ctx.functions.hostFunctions(), 'osiris.__call': call },
      limits: { wallTimeMs: job.timeoutMs },
      signal: ctx.signal,
      onLog: (line) => ctx.log(line),
    })
    return run.value
  }
}

function invoke(store: OsirisStore, model: string, op: Operation, a: unknown, b: unknown): Promise<unknown> {
  switch (op) {
    case 'create':
      return store.create(model, a)
    case 'get':
      return store.get(model, a)
    case 'list':
      return store.list(model, a)
    case 'update':
      return store.update(model, a, b)
    case 'delete':
      return store.delete(model, a)
    case 'query':
      return store.query(model, a, b)
  }
}
