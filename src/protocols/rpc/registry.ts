/**
 * The method registry: declarations in, compiled entries out. Each params schema is compiled by
 * ajv once, when the method is added, so a call costs one validator run.
 */
import { Ajv, type ValidateFunction } from 'ajv'
import { HorusError } from '../../core/errors.js'
import { CallObservers } from './call-observer.js'
import { SUBSCRIBE_SUFFIX, UNSUBSCRIBE_SUFFIX } from './constants.js'
import type {
  Authorize,
  MethodDefinition,
  ParamsSchema,
  Role,
  SubscriptionDefinition,
} from './definitions.js'
import { type ErrorSpec, InvalidParamsError, RPC_CODES } from './errors.js'
import type { RpcParams } from './messages.js'
import { buildOpenRpcDocument, type OpenRpcDocument, type OpenRpcInfo } from './openrpc.js'

/** A registry that cannot accept a declaration: duplicate name or a schema ajv rejects. */
export class RpcDefinitionError extends HorusError {
  static override readonly code = 'RPC_DEFINITION_INVALID'
}

/** Any method, whatever its param type (`never` keeps narrower handlers assignable). */
export type AnyMethodDefinition = MethodDefinition<never, unknown>
export type AnySubscriptionDefinition = SubscriptionDefinition<never, unknown>

interface CompiledBase {
  name: string
  /** Which part of a node serves it (the trust policy keys access on this). */
  role: Role
  authorize: Authorize | undefined
  errors: ReadonlyMap<string, ErrorSpec>
  /** Turn wire params into the validated by-name object, or throw InvalidParamsError. */
  params(raw: RpcParams | undefined): Record<string, unknown>
}

export type CompiledEntry =
  | (CompiledBase & { kind: 'call'; def: AnyMethodDefinition })
  | (CompiledBase & { kind: 'subscribe'; def: AnySubscriptionDefinition })
  | (CompiledBase & { kind: 'unsubscribe'; def: AnySubscriptionDefinition })

/** Params of every `<name>.unsubscribe`. */
export const UNSUBSCRIBE_PARAMS: ParamsSchema = {
  type: 'object',
  properties: { subscription: { type: 'string', description: 'id returned by the subscribe call' } },
  required: ['subscription'],
  additionalProperties: false,
}

export interface RegistryInit {
  /** Used when a method has no `authorize` of its own. @default allow everyone */
  authorize?: Authorize
  /** Title and version for the OpenRPC document. */
  info?: OpenRpcInfo
}

/** The service-discovery method every OpenRPC server answers; the registry serves it itself. */
export const DISCOVER_METHOD = 'rpc.discover'

export class MethodRegistry {
  readonly authorize: Authorize | undefined
  /** Told of every call answered through this registry, whatever the transport (metrics, tracing). */
  readonly observers = new CallObservers()
  private readonly ajv = new Ajv({ useDefaults: true, strict: false })
  private readonly entries = new Map<string, CompiledEntry>()
  private readonly calls: AnyMethodDefinition[] = []
  private readonly subscriptions: AnySubscriptionDefinition[] = []

  private readonly info: OpenRpcInfo
  private document: OpenRpcDocument | undefined

  constructor(init: RegistryInit = {}) {
    this.authorize = init.authorize
    this.info = init.info ?? {}
    this.add({
      name: DISCOVER_METHOD,
      summary: 'The OpenRPC document describing every method this node serves.',
      role: 'node',
      params: { type: 'object', properties: {}, additionalProperties: false },
      result: { type: 'object', required: ['openrpc', 'info', 'methods'] },
      resultName: 'OpenRPC document',
      handler: () => this.openrpc(),
    })
  }

  /** The generated OpenRPC document (cached until the next `add`). */
  openrpc(): OpenRpcDocument {
    this.document ??= buildOpenRpcDocument(this.definitions(), this.info)
    return this.document
  }

  /** Add methods; throws RpcDefinitionError on a duplicate name or an invalid schema. */
  add(...defs: ReadonlyArray<AnyMethodDefinition>): this {
    for (const def of defs) {
      this.put({ ...this.compile(def.name, def), kind: 'call', def })
      this.calls.push(def)
    }
    this.document = undefined
    return this
  }

  addSubscription(...defs: ReadonlyArray<AnySubscriptionDefinition>): this {
    for (const def of defs) {
      const subscribe = `${def.name}${SUBSCRIBE_SUFFIX}`
      const unsubscribe = `${def.name}${UNSUBSCRIBE_SUFFIX}`
      this.put({ ...this.compile(subscribe, def), kind: 'subscribe', def })
      this.put({
        ...this.compile(unsubscribe, { ...def, params: UNSUBSCRIBE_PARAMS, errors: [] }),
        kind: 'unsubscribe',
        def,
      })
      this.subscriptions.push(def)
    }
    this.document = undefined
    return this
  }

  get(method: string): CompiledEntry | undefined {
    return this.entries.get(method)
  }

  has(method: string): boolean {
    return this.entries.has(method)
  }

  /** Declarations in the order they were added, for the OpenRPC document. */
  definitions(): {
    methods: readonly AnyMethodDefinition[]
    subscriptions: readonly AnySubscriptionDefinition[]
  } {
    return { methods: this.calls, subscriptions: this.subscriptions }
  }

  private put(entry: CompiledEntry): void {
    if (this.entries.has(entry.name)) throw new RpcDefinitionError(`method ${entry.name} is declared twice`)
    this.entries.set(entry.name, entry)
  }

  private compile(
    name: string,
    def: { role: Role; params: ParamsSchema; authorize?: Authorize; errors?: readonly ErrorSpec[] },
  ): CompiledBase {
    if (def.params.type !== 'object' || typeof def.params.properties !== 'object') {
      throw new RpcDefinitionError(`${name}: params must be an object schema with properties`)
    }
    for (const spec of def.errors ?? []) {
      const code = spec.code ?? RPC_CODES.Application
      if (!Number.isInteger(code) || code > RPC_CODES.Application || code < -32099) {
        throw new RpcDefinitionError(
          `${name}: error ${spec.name}: expected a code in -32099..-32010, got ${code}`,
        )
      }
    }
    let validate: ValidateFunction
    try {
      validate = this.ajv.compile(def.params)
    } catch (err) {
      throw new RpcDefinitionError(`${name}: invalid params schema: ${(err as Error).message}`, {
        cause: err,
      })
    }
    const order = Object.keys(def.params.properties)
    return {
      name,
      role: def.role,
      authorize: def.authorize,
      errors: new Map((def.errors ?? []).map((e) => [e.name, e])),
      params: (raw) => checkParams(validate, order, raw),
    }
  }
}

function checkParams(
  validate: ValidateFunction,
  order: readonly string[],
  raw: RpcParams | undefined,
): Record<string, unknown> {
  const params = Array.isArray(raw) ? byPosition(order, raw) : (raw ?? {})
  if (validate(params)) return params
  const errors = (validate.errors ?? []).slice(0, 8).map((e) => ({
    path: e.instancePath === '' ? '/' : e.instancePath,
    message: e.message ?? 'invalid',
    ...(e.keyword === 'additionalProperties' ? { property: e.params.additionalProperty } : {}),
  }))
  const first = errors[0]
  const message = first === undefined ? 'invalid params' : `invalid params: ${first.path} ${first.message}`
  throw new InvalidParamsError(message, { data: { errors } })
}

function byPosition(order: readonly string[], values: readonly unknown[]): Record<string, unknown> {
  if (values.length > order.length) {
    throw new InvalidParamsError(
      `invalid params: expected at most ${order.length} positional params, got ${values.length}`,
    )
  }
  const out: Record<string, unknown> = {}
  values.forEach((value, i) => {
    out[order[i] as string] = value
  })
  return out
}
