/**
 * Who may touch a run: its submitter (the signer of its authority) or a key trusted as `admin`.
 * Every decision about a run — allowed or not — is written to the run's own log as an `audit`
 * entry naming the key, the action and the route (libp2p, gateway, in-process), so the trail is
 * replicated and persisted like the rest of the run and shown by `workflow logs`. Control actions
 * are recorded each time; reads (which clients repeat while they wait) once per key, action and
 * outcome, so a polling client does not grow the log without bound.
 */
import type { CallerAuthority, CallerIdentity } from '../../../node/caller-authority.js'
import {
  authoritySigner,
  type JobAuthority,
  peerIdFromPublicKeyHex,
  validateJobAuthority,
} from '../../../protocols/jobs/index.js'
import type { LogEntry, RunMeta } from '../../../protocols/state/lattice.js'
import { RunAccessDeniedError } from './errors.js'
import type { RunEntry } from './run-entry.js'

/** Type of the log entries that record who read or controlled a run. */
export const AUDIT_TYPE = 'audit'

export const CONTROL_ACTIONS = ['cancel', 'pause', 'resume', 'retry', 'signal'] as const
export type RunAction =
  | (typeof CONTROL_ACTIONS)[number]
  | 'submit'
  | 'status'
  | 'logs'
  | 'errors'
  | 'metrics'
  | 'pending'
  | 'wait'
  | 'events'
  | 'items'
  | 'export'

/** The run's authority, when its stored state carries a valid one. */
export function runAuthority(meta: RunMeta | undefined): JobAuthority | undefined {
  const authority = meta?.authority
  return authority !== undefined && validateJobAuthority(authority) ? authority : undefined
}

/** The key the run executes for; undefined for runs stored before submissions were signed. */
export function runSubmitter(meta: RunMeta | undefined): string | undefined {
  const authority = runAuthority(meta)
  return authority === undefined ? undefined : authoritySigner(authority)
}

export interface RunAccessInit {
  authority: CallerAuthority
  /** Appends an entry to the run's log (stamped by `stamp`), replicated and persisted. */
  record(entry: RunEntry, log: LogEntry): void
  stamp(): string
}

export interface AccessStats {
  allowed: number
  denied: number
}

function describeKey(key: string | undefined): string {
  if (key === undefined) return 'an unknown key'
  try {
    return peerIdFromPublicKeyHex(key).toString()
  } catch {
    return key
  }
}

export class RunAccess {
  readonly #init: RunAccessInit
  /** Reads already audited: `run|key|action|outcome`. */
  readonly #seen = new Map<string, Set<string>>()
  readonly stats: AccessStats = { allowed: 0, denied: 0 }

  constructor(init: RunAccessInit) {
    this.#init = init
  }

  /** May `who` see the run (listings, event streams)? Records nothing. */
  mayRead(entry: RunEntry, who: CallerIdentity): boolean {
    return who.via === 'local' || this.#init.authority.mayTouchRun(who, runSubmitter(entry.state.meta))
  }

  /** Throws `RunAccessDeniedError` unless `who` may do `action`; audits either way. */
  authorize(entry: RunEntry, action: RunAction, who: CallerIdentity): void {
    const allowed = this.mayRead(entry, who)
    if (allowed) this.stats.allowed++
    else this.stats.denied++
    this.#audit(entry, action, who, allowed)
    if (!allowed) throw new RunAccessDeniedError(entry.id, action, who.key)
  }

  #audit(entry: RunEntry, action: RunAction, who: CallerIdentity, allowed: boolean): void {
    // In-process reads (tests, tools on this node) are the coordinator's own, like anti-entropy;
    // another coordinator's, forwarded here, are not.
    const control = (CONTROL_ACTIONS as readonly string[]).includes(action)
    if (who.via === 'local' && who.forwardedBy === undefined && !control) return
    if (!control) {
      const key = `${who.key}|${who.forwardedBy}|${action}|${allowed}`
      const seen = this.#seenOf(entry)
      if (seen.has(key)) return
      seen.add(key)
    }
    const from = who.forwardedBy === undefined ? '' : `, forwarded by coordinator ${who.forwardedBy}`
    const route =
      who.via === 'gateway'
        ? ` through ${who.forwardedBy === undefined ? 'the' : 'an'} HTTP gateway`
        : who.via === 'local'
          ? ' in-process'
          : ''
    const message = `${action} ${allowed ? 'by' : 'refused to'} ${describeKey(who.key)}${route}${from}`
    this.#init.record(entry, {
      hlc: this.#init.stamp(),
      kind: 'log',
      type: AUDIT_TYPE,
      severity: allowed ? 'info' : 'warning',
      message,
      data: {
        action,
        key: who.key ?? null,
        via: who.via,
        allowed,
        ...(who.forwardedBy === undefined ? {} : { forwardedBy: who.forwardedBy }),
      },
    })
  }

  /** The reads already in the run's log (after a restart, or recorded by another coordinator). */
  #seenOf(entry: RunEntry): Set<string> {
    let seen = this.#seen.get(entry.id)
    if (seen === undefined) {
      seen = new Set()
      for (const log of entry.state.log()) {
        if (log.type !== AUDIT_TYPE || typeof log.data !== 'object' || log.data === null) continue
        const data = log.data as Record<string, unknown>
        seen.add(`${String(data.key ?? undefined)}|${String(data.action)}|${String(data.allowed)}`)
      }
      this.#seen.set(entry.id, seen)
    }
    return seen
  }
}
