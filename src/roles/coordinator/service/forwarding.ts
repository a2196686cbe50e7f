/**
 * Reads and controls of a run on a coordinator outside its replica set go to a member
 * (../../../protocols/state/README.md, "Reads from any coordinator"). The forwarding coordinator
 * sends `coordinator.forward { method, params, caller }`: the method the client called, its
 * params as received, and who the client is as this coordinator authenticated it — the key noise
 * proved for a libp2p client, the gateway's identity and grant for an HTTP one. The member admits
 * the envelope only from a peer its trust policy holds as a coordinator, then authorizes and runs
 * the method exactly as if that client had called it there: the registry's role check, then the
 * run's access rules (submitter or admin). A client therefore gains nothing by asking a
 * non-member; a trusted coordinator could assert any identity, but it can already read and write
 * every run's state (anti-entropy, state deltas), so the envelope gives it no power it lacks.
 * A forwarded call is answered where it lands: never forwarded again.
 */

import { anySignal } from 'any-signal'
import { abortable } from '../../../core/abortable.js'
import { actAsNode, type CallerIdentity } from '../../../node/caller-authority.js'
import {
  type AnyMethodDefinition,
  type Caller,
  CallTimeoutError,
  DEFAULT_CALL_TIMEOUT_MS,
  defineMethod,
  InvalidParamsError,
  type MethodRegistry,
  TooManyRequestsError,
  UnauthorizedError,
} from '../../../protocols/rpc/index.js'
import { MAX_WAIT_MS } from './constants.js'

/**
 * Forwarded calls one coordinator may have running here for one of its clients: a client that
 * holds many waits through one coordinator must not take every slot that coordinator has here.
 */
const MAX_FORWARDED_PER_CLIENT = 16

export const FORWARD_METHOD = 'coordinator.forward'

/** Who the client of a forwarded call is, as the forwarding coordinator authenticated it. */
export interface ForwardedCaller {
  /**
   * `libp2p`: a client whose key noise proved; `gateway`: an HTTP caller with the gateway's identity
   * (and grant); `node`: the forwarding coordinator itself (its in-process callers).
   */
  via: 'libp2p' | 'gateway' | 'node'
  key?: string
  grant?: { roles: string[]; capabilities: string[] }
}

export interface ForwardParams {
  method: string
  params: Record<string, unknown>
  caller: ForwardedCaller
}

/** Callers built from an envelope: their calls are answered here, never forwarded again. */
const forwarded = new WeakSet<object>()

/** Did this call arrive in a `coordinator.forward` envelope? */
export function isForwarded(caller: Caller | undefined): boolean {
  return caller !== undefined && forwarded.has(caller)
}

/** The envelope's caller for a client this coordinator identified. */
export function forwardedCaller(who: CallerIdentity): ForwardedCaller {
  if (who.via === 'local') return { via: 'node' }
  const grant =
    who.grant === undefined
      ? {}
      : { grant: { roles: [...who.grant.roles], capabilities: [...who.grant.capabilities] } }
  return { via: who.via, ...(who.key === undefined ? {} : { key: who.key }), ...grant }
}

/**
 * The caller a member runs the forwarded method as. `node` (the coordinator's own in-process
 * caller) acts as the member itself (`actAsNode`): a trusted coordinator has that power anyway.
 */
function callerOf(envelope: ForwardedCaller, from: string): Caller {
  let caller: Caller
  if (envelope.via === 'node')
    caller = { via: 'libp2p', peerId: from, authenticated: true, forwardedBy: from }
  else if (envelope.key === undefined) throw new InvalidParamsError('invalid params: caller.key is required')
  else if (envelope.via === 'libp2p')
    caller = { via: 'libp2p', publicKeyHex: envelope.key, authenticated: true, forwardedBy: from }
  else
    caller = {
      via: 'http',
      publicKeyHex: envelope.key,
      authenticated: true,
      forwardedBy: from,
      ...(envelope.grant === undefined ? {} : { grant: envelope.grant }),
    }
  forwarded.add(caller)
  return envelope.via === 'node' ? actAsNode(caller) : caller
}

const GRANT = {
  type: 'object',
  required: ['roles', 'capabilities'],
  properties: {
    roles: { type: 'array', items: { type: 'string' } },
    capabilities: { type: 'array', items: { type: 'string' } },
  },
  additionalProperties: false,
} as const

/**
 * The `coordinator.forward` method: only trusted coordinators may call it, and only for the
 * methods in `forwardable` (the per-run reads and controls, and list_workflows' local scope).
 */
export function forwardMethod(init: {
  registry: MethodRegistry
  forwardable: ReadonlySet<string>
  isCoordinator(peer: string): boolean
}): AnyMethodDefinition {
  const inFlight = new Map<string, number>()
  return defineMethod<ForwardParams, unknown>({
    name: FORWARD_METHOD,
    summary: "A run method a coordinator outside the run's replica set forwards to a member, for its client.",
    description:
      'Only from a coordinator the trust policy admits. The method is authorized and run as if `caller` had called it here.',
    role: 'coordinator',
    params: {
      type: 'object',
      required: ['method', 'params', 'caller'],
      properties: {
        method: { type: 'string', maxLength: 128 },
        params: { type: 'object' },
        caller: {
          type: 'object',
          required: ['via'],
          properties: {
            via: { type: 'string', enum: ['libp2p', 'gateway', 'node'] },
            key: { type: 'string', pattern: '^[0-9a-f]{1,256}$' },
            grant: GRANT,
          },
          additionalProperties: false,
        },
      },
      additionalProperties: false,
    },
    result: {},
    resultName: 'answer',
    authorize: (caller) =>
      caller.via === 'libp2p' && caller.peerId !== undefined && init.isCoordinator(caller.peerId),
    // The longest forwarded method (a wait) ends by itself first, and answers with its view.
    timeoutMs: MAX_WAIT_MS + 30_000,
    // Its own budget of calls from each coordinator: forwards cannot starve replication.
    limitGroup: 'forward',
    handler: async ({ method, params, caller: envelope }, ctx) => {
      const entry = init.registry.get(method)
      if (!init.forwardable.has(method) || entry === undefined || entry.kind !== 'call')
        throw new InvalidParamsError(`invalid params: ${method} cannot be forwarded`)
      const caller = callerOf(envelope, ctx.caller.peerId ?? '')
      const authorize = entry.authorize ?? init.registry.authorize
      if (envelope.via !== 'node' && authorize !== undefined && !(await authorize(caller, method)))
        throw new UnauthorizedError(`not allowed to call ${method}`)
      const checked = entry.params(params)
      const client = `${ctx.caller.peerId}|${envelope.via}|${envelope.key ?? ''}`
      const running = inFlight.get(client) ?? 0
      if (running >= MAX_FORWARDED_PER_CLIENT)
        throw new TooManyRequestsError(
          `more than ${MAX_FORWARDED_PER_CLIENT} forwarded calls in flight for this client`,
        )
      inFlight.set(client, running + 1)
      // The method's own timeout, as if it had been called here directly.
      const timeoutMs = entry.def.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS
      const timeout = AbortSignal.timeout(timeoutMs)
      const signal = anySignal([ctx.signal, timeout])
      try {
        return await abortable(
          Promise.resolve().then(() => entry.def.handler(checked as never, { signal, caller })),
          signal,
        )
      } catch (err) {
        if (timeout.aborted && !ctx.signal.aborted)
          throw new CallTimeoutError(`${method} timed out after ${timeoutMs} ms`)
        throw err
      } finally {
        signal.clear()
        const left = (inFlight.get(client) ?? 1) - 1
        if (left <= 0) inFlight.delete(client)
        else inFlight.set(client, left)
      }
    },
  }) as unknown as AnyMethodDefinition
}
