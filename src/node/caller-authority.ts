/**
 * "May this caller do X, or use capability C?" — answered in one place from the trust policy
 * **and**, for an HTTP caller, the grant the gateway gave it. A libp2p caller is the key noise
 * authenticated; an HTTP caller acts as this node (its key), restricted by its grant when one is
 * configured. Every authorization of a run's submitter, reader or controller goes through here.
 */
import { publicKeyHexFromPeerId } from '../protocols/jobs/keys.js'
import type { TrustDecision, TrustPolicy, TrustRole } from '../protocols/jobs/trust-policy.js'
import { grantAllowsCapability, grantAllowsRole } from '../protocols/rpc/caller-grant.js'
import type { Caller } from '../protocols/rpc/definitions.js'

/** Who a caller is, resolved. */
export interface CallerIdentity {
  /** Hex public key; undefined when it cannot be known (a malformed peer ID). */
  key: string | undefined
  /** `gateway`: an HTTP caller acting as this node; `local`: code in this process. */
  via: 'libp2p' | 'gateway' | 'local'
  grant: Caller['grant']
  /** The coordinator that forwarded the call (see `Caller.forwardedBy`). */
  forwardedBy?: string
}

/** Callers that act as this node itself although they arrived by RPC (see `actAsNode`). */
const nodeCallers = new WeakSet<Caller>()

/**
 * Marks `caller` as this node itself: a call a trusted coordinator forwarded for its own
 * in-process caller (../roles/coordinator/service/forwarding.ts). It is identified as `local`.
 */
export function actAsNode(caller: Caller): Caller {
  nodeCallers.add(caller)
  return caller
}

export class CallerAuthority {
  readonly #policy: () => TrustPolicy
  readonly #self: string

  /** `self`: this node's hex public key (what HTTP and in-process callers act as). */
  constructor(policy: () => TrustPolicy, self: string) {
    this.#policy = policy
    this.#self = self
  }

  get self(): string {
    return this.#self
  }

  /** The identity of an RPC caller; `undefined` is this process itself. */
  identify(caller: Caller | undefined): CallerIdentity {
    const forwarded = caller?.forwardedBy === undefined ? {} : { forwardedBy: caller.forwardedBy }
    if (caller === undefined || nodeCallers.has(caller))
      return { key: this.#self, via: 'local', grant: undefined, ...forwarded }
    if (caller.via === 'http') {
      return { key: caller.publicKeyHex ?? this.#self, via: 'gateway', grant: caller.grant, ...forwarded }
    }
    let key = caller.publicKeyHex
    if (key === undefined && caller.peerId !== undefined) {
      try {
        key = publicKeyHexFromPeerId(caller.peerId)
      } catch {
        key = undefined
      }
    }
    return { key, via: 'libp2p', grant: caller.grant, ...forwarded }
  }

  /** Does the caller hold one of `roles` (policy and grant)? */
  holds(who: CallerIdentity, roles: TrustRole | readonly TrustRole[]): boolean {
    return this.decide(who, roles).admitted
  }

  /** The policy's decision for the caller's key, narrowed by its grant. */
  decide(who: CallerIdentity, roles: TrustRole | readonly TrustRole[], capability?: string): TrustDecision {
    if (who.key === undefined) {
      return { admitted: false, reason: 'untrusted_key', message: 'the caller has no usable key' }
    }
    const wanted: readonly TrustRole[] = typeof roles === 'string' ? [roles] : roles
    const scope: Pick<Caller, 'grant'> = who.grant === undefined ? {} : { grant: who.grant }
    const granted = wanted.filter((role) => grantAllowsRole(scope, [role]))
    if (granted.length === 0) {
      return {
        admitted: false,
        reason: 'untrusted_key',
        message: `the gateway's grant for key ${who.key} does not include role ${wanted.join(' or ')}`,
      }
    }
    const decision = this.#policy().decide(who.key, {
      role: granted,
      ...(capability === undefined ? {} : { capability }),
    })
    if (!decision.admitted || capability === undefined || grantAllowsCapability(scope, capability))
      return decision
    return {
      admitted: false,
      reason: 'capability_denied',
      message: `the gateway's grant for key ${who.key} does not include capability "${capability}"`,
    }
  }

  /** Admins may read and control every run. */
  isAdmin(who: CallerIdentity): boolean {
    return this.holds(who, 'admin')
  }

  /** The run's submitter, or an admin, may read and control it. */
  mayTouchRun(who: CallerIdentity, submitter: string | undefined): boolean {
    if (who.key !== undefined && who.key === submitter) return true
    return this.isAdmin(who)
  }
}
