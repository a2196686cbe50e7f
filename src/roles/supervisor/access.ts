/**
 * Who may see or touch a job on this supervisor: its submitter; a coordinator the policy trusts,
 * for workflow step jobs (it follows them); a key with the trust role `admin`. HTTP callers come
 * through the node's gateway, which admits only its operator (loopback or bearer token), and are
 * treated as the operator. Everyone else is told the job does not exist here — the same answer as
 * for an unknown id, so job ids cannot be probed.
 */
import { type JobEnvelope, publicKeyHexOfPeer, type TrustPolicy } from '../../protocols/jobs/index.js'
import type { Caller } from '../../protocols/rpc/index.js'

/** The caller's hex key, when the transport authenticated one. */
export function callerKey(caller: Caller): string | undefined {
  if (caller.publicKeyHex !== undefined) return caller.publicKeyHex
  return caller.peerId === undefined ? undefined : publicKeyHexOfPeer(caller.peerId)
}

export function mayAccessJob(policy: TrustPolicy, caller: Caller, job: JobEnvelope): boolean {
  if (caller.via === 'http') return true
  const key = callerKey(caller)
  if (key === undefined) return false
  if (key === job.submitter) return true
  const entry = policy.lookup(key)
  if (entry === undefined) return false
  return entry.roles.has('admin') || (job.run !== undefined && entry.roles.has('coordinator'))
}
