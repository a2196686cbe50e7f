/**
 * `node.trust_decide`: this node's trust decision about a key, for the SDK. A client that has no
 * trust policy of its own delegates to the entry node it chose (whose peer ID noise authenticated):
 * it uses only the coordinators and supervisors, and believes only the runner results, that node
 * admits. Callable by keys this node trusts, in any role (HTTP callers: the key the gateway gives them).
 */
import { TRUST_ROLES, type TrustPolicy, type TrustRole } from '../protocols/jobs/trust-policy.js'
import type { Caller } from '../protocols/rpc/definitions.js'
import type { AnyMethodDefinition } from '../protocols/rpc/registry.js'

export interface TrustDecideParams {
  /** A peer ID or hex public key. */
  key: string
  role: TrustRole
  capability?: string
}

export interface TrustDecideAnswer {
  admitted: boolean
  /** When refused: `untrusted_key` or `capability_denied`. */
  reason?: 'untrusted_key' | 'capability_denied'
  message?: string
  /** The name the policy gives the key, when it has an entry. */
  name?: string
}

export function trustMethods(getPolicy: () => TrustPolicy): AnyMethodDefinition[] {
  const method = {
    name: 'node.trust_decide',
    summary: "This node's trust decision: does a key hold a role (and a capability) in its policy?",
    description:
      'Clients without a trust policy of their own ask their entry node, and use only the peers (and believe only the results) it admits.',
    role: 'node',
    params: {
      type: 'object',
      properties: {
        key: { type: 'string', minLength: 1, maxLength: 128, description: 'a peer ID or hex public key' },
        role: { enum: [...TRUST_ROLES] },
        capability: { type: 'string', minLength: 1, maxLength: 64 },
      },
      required: ['key', 'role'],
      additionalProperties: false,
    },
    result: {
      type: 'object',
      required: ['admitted'],
      properties: {
        admitted: { type: 'boolean' },
        reason: { enum: ['untrusted_key', 'capability_denied'] },
        message: { type: 'string' },
        name: { type: 'string' },
      },
    },
    resultName: 'decision',
    authorize: (caller: Caller) => {
      const key = caller.publicKeyHex ?? caller.peerId
      return key !== undefined && getPolicy().lookupPeer(key) !== undefined
    },
    handler: (params: TrustDecideParams): TrustDecideAnswer => {
      const policy = getPolicy()
      const query =
        params.capability === undefined
          ? { role: params.role }
          : { role: params.role, capability: params.capability }
      const decision = policy.decidePeer(params.key, query)
      const name = policy.lookupPeer(params.key)?.name
      const named = name === undefined ? {} : { name }
      return decision.admitted
        ? { admitted: true, ...named }
        : { admitted: false, reason: decision.reason, message: decision.message, ...named }
    },
  }
  return [method as unknown as AnyMethodDefinition]
}
