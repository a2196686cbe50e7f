/**
 * The owner lease: which coordinator drives a run. It is a last-writer-wins register inside the
 * run's CRDT, so it needs no extra protocol:
 *
 * - renew: the owner writes `{ owner: self, expiresAt: now + ttl }` with a fresh stamp, well before
 *   expiry (it is just another delta on gossip);
 * - takeover: any coordinator that sees `now ≥ expiresAt + grace` writes the same for itself —
 *   or `now ≥ lapsedAt + grace` when the owner stopped sending heartbeats at `lapsedAt`, earlier;
 * - two concurrent takeovers converge to the write with the greater (hlc, node); the loser sees a
 *   foreign owner after merging and stops dispatching. Until then both may dispatch the same step,
 *   which deterministic job ids (`run/step/attempt`) make harmless.
 */

import { DEFAULT_LEASE_GRACE_MS, DEFAULT_LEASE_TTL_MS } from './constants.js'
import type { RunState } from './run-state.js'

export interface LeaseView {
  /** The owner named by the register, even if its lease lapsed. */
  readonly owner: string | undefined
  readonly expiresAt: number
  /** The lease is unexpired at `now`. */
  readonly live: boolean
}

export interface LeaseOptions {
  /** @default 15_000 */
  readonly ttlMs?: number
  /** @default 2_000 */
  readonly graceMs?: number
  /**
   * When the taker holds the lease for lapsed, if earlier than its expiry: the owner stopped
   * sending heartbeats then (liveness loss). @default the lease's `expiresAt`
   */
  readonly lapsedAt?: number
}

export function leaseHolder(state: RunState, now: number): LeaseView {
  const lease = state.lease
  if (lease === undefined) return { owner: undefined, expiresAt: 0, live: false }
  return { owner: lease.owner, expiresAt: lease.expiresAt, live: now < lease.expiresAt }
}

/** Renews `node`'s own lease; `undefined` when another node holds it (do not renew then). */
export function renewLease(
  state: RunState,
  stamp: string,
  node: string,
  now: number,
  options: LeaseOptions = {},
): RunState | undefined {
  if (state.lease !== undefined && state.lease.owner !== node) return undefined
  return state.setLease(stamp, node, now + (options.ttlMs ?? DEFAULT_LEASE_TTL_MS))
}

/**
 * Takes the run over when there is no lease, or it is `node`'s own, or it lapsed more than the
 * grace period ago; `undefined` while another node's lease is live.
 */
export function takeOverLease(
  state: RunState,
  stamp: string,
  node: string,
  now: number,
  options: LeaseOptions = {},
): RunState | undefined {
  const lease = state.lease
  const grace = options.graceMs ?? DEFAULT_LEASE_GRACE_MS
  const lapsedAt = Math.min(lease?.expiresAt ?? 0, options.lapsedAt ?? Number.POSITIVE_INFINITY)
  if (lease !== undefined && lease.owner !== node && now < lapsedAt + grace) return undefined
  return state.setLease(stamp, node, now + (options.ttlMs ?? DEFAULT_LEASE_TTL_MS))
}
