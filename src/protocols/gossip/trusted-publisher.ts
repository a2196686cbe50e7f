/**
 * The publisher check of a Horus topic, read from the trust policy in force at each message (so a
 * policy reload applies to the next message): a publisher must have an entry, and where the topic
 * carries a role's writes (run state, monitor events: `coordinator`), hold that role.
 */
import type { TrustPolicy, TrustRole } from '../jobs/trust-policy.js'
import type { PublisherVerdict } from './validated-topic.js'

export function trustedPublisher(
  policy: () => TrustPolicy,
  role?: TrustRole,
): (from: string) => PublisherVerdict {
  return (from) => {
    const entry = policy().lookupPeer(from)
    if (entry === undefined) return 'untrusted_publisher'
    return role === undefined || entry.roles.has(role) ? 'ok' : 'role_denied'
  }
}
