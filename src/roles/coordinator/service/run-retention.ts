/**
 * Garbage collection of finished runs. A run that finished more than the retention period ago
 * (`coordinator.runRetentionMs`, 7 days by default) is deleted from memory and from the datastore,
 * and a small index entry takes its place, so `get_workflow_status` answers RunExpiredError rather
 * than RunNotFoundError, and the id is never reused.
 *
 * When a run finished is read from its replicated state (the wall time of its newest stamp), so
 * every replica with the same retention expires it at about the same time. A replica that still
 * holds it (a longer retention, a node that was down) keeps offering it by gossip and anti-entropy;
 * whatever arrives for an expired run is dropped (`isExpired`), so a run never comes back.
 */

import type { Logger } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import { Key } from 'interface-datastore'
import { hlcWall } from '../../../protocols/state/hlc.js'
import type { StateStore } from '../../../protocols/state/state-store.js'
import type { RunEntry } from './run-entry.js'

/** What is kept of an expired run. */
export interface ExpiredRun {
  runId: string
  /** When the run finished (ms epoch), from its replicated state. */
  finishedAt: number
  /** When this coordinator deleted it. */
  expiredAt: number
}

export interface RunRetentionInit {
  datastore: Datastore
  store: Pick<StateStore, 'delete'>
  /** The runs this coordinator holds (the engine's map). */
  runs: Map<string, RunEntry>
  retentionMs: number
  /** How often finished runs are looked at. */
  sweepIntervalMs: number
  log: Logger
}

const INDEX_PREFIX = '/horus/coordinator/expired'
const encoder = new TextEncoder()
const decoder = new TextDecoder()

export class RunRetention {
  private readonly expired = new Map<string, ExpiredRun>()
  private timer: NodeJS.Timeout | undefined
  private sweeping: Promise<unknown> = Promise.resolve()

  constructor(private readonly init: RunRetentionInit) {}

  /** Loads the index of runs expired earlier. */
  async start(): Promise<void> {
    for await (const { key, value } of this.init.datastore.query({ prefix: `${INDEX_PREFIX}/` })) {
      const record = parseRecord(value)
      if (record === undefined)
        this.init.log.error('expired-run index entry %s unreadable: ignored', key.toString())
      else this.expired.set(record.runId, record)
    }
    this.timer = setInterval(() => {
      this.sweeping = this.sweep().catch((err: unknown) =>
        this.init.log.error('run retention sweep failed: %e', err),
      )
    }, this.init.sweepIntervalMs)
    this.timer.unref()
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    await this.sweeping
  }

  /** The index entry of a run expired here, if it was. */
  isExpired(runId: string): ExpiredRun | undefined {
    return this.expired.get(runId)
  }

  /** Expires every finished run older than the retention period; returns their ids. */
  async sweep(now = Date.now()): Promise<string[]> {
    const out: string[] = []
    for (const entry of [...this.init.runs.values()]) {
      const known = this.expired.get(entry.id)
      if (known !== undefined) {
        // Expired before a crash that left its state behind: finish the deletion.
        await this.expire(entry, known)
        continue
      }
      entry.refreshStatus(now)
      const stamp = entry.state.maxHlc
      if (!entry.terminal || stamp === undefined) continue
      const finishedAt = hlcWall(stamp)
      if (now - finishedAt < this.init.retentionMs) continue
      await this.expire(entry, { runId: entry.id, finishedAt, expiredAt: now })
      out.push(entry.id)
    }
    if (out.length > 0)
      this.init.log('expired %d finished run(s) older than %d ms', out.length, this.init.retentionMs)
    return out
  }

  private async expire(entry: RunEntry, record: ExpiredRun): Promise<void> {
    // The index entry first: a crash between the two writes leaves an expired run whose state is
    // deleted at the next start's sweep, never a run gone without its index entry.
    await this.init.datastore.put(
      new Key(`${INDEX_PREFIX}/${record.runId}`),
      encoder.encode(JSON.stringify(record)),
    )
    this.expired.set(record.runId, record)
    entry.clearWake()
    this.init.runs.delete(record.runId)
    await this.init.store.delete(record.runId)
  }
}

function parseRecord(value: Uint8Array): ExpiredRun | undefined {
  try {
    const v = JSON.parse(decoder.decode(value)) as Record<string, unknown>
    if (typeof v.runId !== 'string' || typeof v.finishedAt !== 'number' || typeof v.expiredAt !== 'number')
      return undefined
    return { runId: v.runId, finishedAt: v.finishedAt, expiredAt: v.expiredAt }
  } catch {
    return undefined
  }
}
