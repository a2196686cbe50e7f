import type { TrustPolicy, TrustRole } from '../protocols/jobs/trust-policy.js'
import { grantAllowsRole } from '../protocols/rpc/caller-grant.js'
import type { Authorize, Caller } from '../protocols/rpc/definitions.js'
import type { MethodRegistry } from '../protocols/rpc/registry.js'

/**
 * Which trust-policy roles a caller must hold to use a method served by each node role:
 * clients and coordinators submit work (admins read and control anyone's runs); only supervisors
 * hand jobs to runners. `node.*` methods (identity, peers, health) and `rpc.discover` are public.
 */
const CALLER_ROLES: Record<string, readonly TrustRole[]> = {
  coordinator: ['client', 'coordinator', 'admin'],
  supervisor: ['client', 'coordinator'],
  runner: ['supervisor'],
}

/**
 * The registry-wide "who may call" hook. libp2p callers are authenticated by noise, so their peer
 * ID is checked against the trust policy. HTTP callers act with the identity the gateway gives
 * them (by default this node's own key, see HttpGatewayInit.caller): that key's trust entry, then
 * the gateway's optional grant, decide. An HTTP caller with no key is refused.
 */
export function trustAuthorizer(getPolicy: () => TrustPolicy, getRegistry: () => MethodRegistry): Authorize {
  return (caller: Caller, method: string) => {
    const role = getRegistry().get(method)?.def.role
    const needed = role === undefined ? undefined : CALLER_ROLES[role]
    if (needed === undefined) return true
    const key = caller.via === 'http' ? caller.publicKeyHex : (caller.publicKeyHex ?? caller.peerId)
    return key !== undefined && getPolicy().canCall(key, needed) && grantAllowsRole(caller, needed)
  }
}
