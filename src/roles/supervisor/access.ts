/**
 * Who may see or touch a job on this supervisor: its submitter; a coordinator the policy trusts,
 * for workflow step jobs (it follows them); a key with the trust role `admin`. Callers are
 * resolved by CallerAuthority: HTTP callers act as the key the gateway gives them (this node's
 * own), narrowed by its grant. Everyone else is told the job does not exist here — the same answer
 * as for an unknown id, so job ids cannot be probed.
 */
import type { CallerAuthority } from '../../node/caller-authority.js'
import type { JobEnvelope } from '../../protocols/jobs/index.js'
import type { Caller } from '../../protocols/rpc/index.js'

export function mayAccessJob(authority: CallerAuthority, caller: Caller, job: JobEnvelope): boolean {
  const who = authority.identify(caller)
  if (who.key === undefined) return false
  if (who.key === job.submitter) return true
  return authority.holds(who, 'admin') || (job.run !== undefined && authority.holds(who, 'coordinator'))
}
