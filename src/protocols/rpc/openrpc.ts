/**
 * The OpenRPC 1.x document, generated from the registry so it always matches what is enforced.
 * Subscriptions appear as their `<name>.subscribe` / `<name>.unsubscribe` methods; the event
 * schema and notification name ride in the `x-notification` extension. Each method lists its own
 * errors plus the protocol's common ones (Unauthorized, Timeout, TooManyRequests, ...).
 */
import { EVENT_SUFFIX, OPENRPC_VERSION, SUBSCRIBE_SUFFIX, UNSUBSCRIBE_SUFFIX } from './constants.js'
import type { JsonSchema, ParamsSchema, Role } from './definitions.js'
import { COMMON_ERRORS, type ErrorSpec, RPC_CODES } from './errors.js'
import type { AnyMethodDefinition, AnySubscriptionDefinition } from './registry.js'

export interface OpenRpcInfo {
  /** @default 'Horus mesh node' */
  title?: string
  /** @default '0.0.0' */
  version?: string
  description?: string
}

export interface ContentDescriptor {
  name: string
  schema: JsonSchema
  required?: boolean
  description?: string
}

export interface OpenRpcError {
  code: number
  message: string
  data?: unknown
}

export interface OpenRpcMethod {
  name: string
  summary: string
  description?: string
  tags: { name: string }[]
  paramStructure: 'either'
  params: ContentDescriptor[]
  result: ContentDescriptor
  errors: OpenRpcError[]
  'x-role': Role
  'x-notification'?: { method: string; params: ContentDescriptor[] }
}

export interface OpenRpcDocument {
  openrpc: string
  info: { title: string; version: string; description?: string }
  methods: OpenRpcMethod[]
}

interface Declared {
  methods: readonly AnyMethodDefinition[]
  subscriptions: readonly AnySubscriptionDefinition[]
}

export function buildOpenRpcDocument(declared: Declared, info: OpenRpcInfo = {}): OpenRpcDocument {
  const methods: OpenRpcMethod[] = []
  for (const def of declared.methods) {
    methods.push({
      ...describe(def.name, def),
      params: contentDescriptors(def.params),
      result: { name: def.resultName ?? 'result', schema: def.result },
    })
  }
  for (const def of declared.subscriptions) {
    methods.push({
      ...describe(`${def.name}${SUBSCRIBE_SUFFIX}`, def),
      params: contentDescriptors(def.params),
      result: { name: 'subscription', schema: { type: 'string' }, description: 'id carried by every event' },
      'x-notification': {
        method: `${def.name}${EVENT_SUFFIX}`,
        params: [
          { name: 'subscription', schema: { type: 'string' }, required: true },
          { name: 'result', schema: def.event, required: true },
        ],
      },
    })
    methods.push({
      ...describe(`${def.name}${UNSUBSCRIBE_SUFFIX}`, { ...def, errors: [] }),
      summary: `Stop the ${def.name} subscription.`,
      params: [{ name: 'subscription', schema: { type: 'string' }, required: true }],
      result: {
        name: 'unsubscribed',
        schema: { type: 'boolean' },
        description: 'false when the id was unknown',
      },
    })
  }
  const doc: OpenRpcDocument = {
    openrpc: OPENRPC_VERSION,
    info: { title: info.title ?? 'Horus mesh node', version: info.version ?? '0.0.0' },
    methods,
  }
  if (info.description !== undefined) doc.info.description = info.description
  return doc
}

function describe(
  name: string,
  def: { summary: string; description?: string; role: Role; errors?: readonly ErrorSpec[] },
): Omit<OpenRpcMethod, 'params' | 'result'> {
  const method: Omit<OpenRpcMethod, 'params' | 'result'> = {
    name,
    summary: def.summary,
    tags: [{ name: def.role }],
    paramStructure: 'either',
    errors: [...applicationErrors(def.errors ?? []), ...commonErrors()],
    'x-role': def.role,
  }
  if (def.description !== undefined) method.description = def.description
  return method
}

function contentDescriptors(schema: ParamsSchema): ContentDescriptor[] {
  const required = new Set(schema.required ?? [])
  return Object.entries(schema.properties).map(([name, property]) => ({
    name,
    schema: property,
    required: required.has(name),
  }))
}

function applicationErrors(specs: readonly ErrorSpec[]): OpenRpcError[] {
  return specs.map((spec) => ({
    code: spec.code ?? RPC_CODES.Application,
    message: spec.message,
    data: { name: spec.name },
  }))
}

function commonErrors(): OpenRpcError[] {
  return [
    { code: RPC_CODES.InvalidParams, message: 'invalid params', data: { name: 'InvalidParamsError' } },
    ...COMMON_ERRORS.map((c) => ({
      code: c.code,
      message: c.defaultMessage,
      data: { name: c.name, retryable: c.retryable },
    })),
    { code: RPC_CODES.InternalError, message: 'internal error', data: { name: 'InternalError' } },
  ]
}
