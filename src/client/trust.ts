/**
 * Whom the SDK believes. With a trust policy of its own (`HorusClient.connect({ trust })`), the
 * client decides like a node: coordinators and supervisors it uses, and runners whose results it
 * accepts, must hold that role (runners: the job's capability) in the policy. Without one it
 * delegates to the entry node the user pointed it at, whose peer ID noise authenticated, asking
 * `node.trust_decide`; answers are kept for TRUST_DECISION_TTL_MS.
 */
import type { TrustPolicy, TrustRole } from '../protocols/jobs/trust-policy.js'
import type { RpcParams } from '../protocols/rpc/messages.js'
import { TRUST_DECISION_TTL_MS } from './constants.js'

export interface ClientTrust {
  /** Does `peer` (peer ID or hex key) hold `role` (and `capability`) for this client? */
  admits(peer: string, role: TrustRole, capability?: string, signal?: AbortSignal): Promise<boolean>
}

export class PolicyTrust implements ClientTrust {
  constructor(private readonly policy: TrustPolicy) {}

  async admits(peer: string, role: TrustRole, capability?: string): Promise<boolean> {
    return this.policy.admitsPeer(peer, capability === undefined ? { role } : { role, capability })
  }
}

type CallEntry = <T>(method: string, params: RpcParams, signal?: AbortSignal) => Promise<T>

export class EntryNodeTrust implements ClientTrust {
  private readonly decisions = new Map<string, { admitted: Promise<boolean>; until: number }>()

  constructor(private readonly callEntry: CallEntry) {}

  admits(peer: string, role: TrustRole, capability?: string, signal?: AbortSignal): Promise<boolean> {
    const key = `${peer}\n${role}\n${capability ?? ''}`
    const now = Date.now()
    const known = this.decisions.get(key)
    if (known !== undefined && known.until > now) return known.admitted
    if (this.decisions.size >= 1_000) {
      for (const [k, d] of this.decisions) if (d.until <= now) this.decisions.delete(k)
    }
    const params: Record<string, unknown> = { key: peer, role }
    if (capability !== undefined) params.capability = capability
    const admitted = this.callEntry<{ admitted: boolean }>('node.trust_decide', params, signal).then(
      (answer) => answer.admitted,
    )
    this.decisions.set(key, { admitted, until: now + TRUST_DECISION_TTL_MS })
    // A failed question is asked again next time rather than remembered.
    admitted.catch(() => {
      if (this.decisions.get(key)?.admitted === admitted) this.decisions.delete(key)
    })
    return admitted
  }
}
