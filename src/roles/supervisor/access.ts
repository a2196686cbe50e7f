/**
 * Who may see or touch a job on this supervisor: its submitter; a coordinator the policy trusts,
 * for workflow step jobs (it follows them); a key with the trust role `admin`. HTTP callers act
 * with the key the gateway gives them (this node's own, which holds every role), narrowed by the
 * gateway's grant. Everyone else is told the job does not exist here — the same answer as for an
 * unknown id, so job ids cannot be probed.
 */
import { type JobEnvelope, publicKeyHexOfPeer, type TrustPolicy } from '../../protocols/jobs/index.js'
import { grantAllowsRole } from '../../protocols/rpc/caller-grant.js'
import type { Caller } from '../../protocols/rpc/index.js'

/** The caller's hex key, when the transport authenticated one. */
function callerKey(caller: Caller): string | undefined {
  if (caller.publicKeyHex !== undefined) return caller.publicKeyHex
  return caller.peerId === undefined ? undefined : publicKeyHexOfPeer(caller.peerId)
}

export function mayAccessJob(policy: TrustPolicy, caller: Caller, job: JobEnvelope): boolean {
  const key = callerKey(caller)
  if (key === undefined) return false
  if (key === job.submitter) return true
  const entry = policy.lookup(key)
  if (entry === undefined) return false
  const holds = (role: 'admin' | 'coordinator'): boolean =>
    entry.roles.has(role) && grantAllowsRole(caller, [role])
  return holds('admin') || (job.run !== undefined && holds('coordinator'))
}
