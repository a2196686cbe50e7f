/**
 * Why a job was refused. These strings are stable: they are counted, logged, sent over RPC and
 * asserted by tests.
 */
export const REJECT_REASONS = [
  'bad_signature',
  'untrusted_key',
  'capability_denied',
  'expired',
  'not_yet_valid',
  'replayed',
  'too_large',
  'malformed',
  // The job's authority (signed submission or trigger registration) does not cover it: another
  // run, or a first signer that is neither the authority's signer nor a coordinator.
  'authority_mismatch',
] as const

export type RejectReason = (typeof REJECT_REASONS)[number]
