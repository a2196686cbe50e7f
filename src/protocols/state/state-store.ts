/**
 * Persists run state in the node's datastore. A run is a snapshot plus deltas appended since:
 * appending is one small put per change, and because merge is commutative and idempotent the
 * parts can be read back in any order, a crash between writes loses nothing already written, and
 * compaction (fold the deltas into the snapshot, delete exactly the deltas it read) can run at any
 * time without a lock.
 *
 * Keys: `<prefix>/<run>/snapshot` and `<prefix>/<run>/delta/<unique>`.
 */

import { randomUUID } from 'node:crypto'
import type { AbortOptions } from '@libp2p/interface'
import { type Datastore, Key } from 'interface-datastore'
import { DEFAULT_STATE_PREFIX, type StateDecodeLimits } from './constants.js'
import { StateDecodeError } from './errors.js'
import { assertRunId, RunState } from './run-state.js'

export interface StateStoreInit {
  readonly datastore: Datastore
  /** @default '/horus/state/runs' */
  readonly prefix?: string
  readonly limits?: StateDecodeLimits
}

interface StoredRun {
  readonly state: RunState
  readonly keys: Key[]
}

const encoder = new TextEncoder()

export class StateStore {
  readonly #datastore: Datastore
  readonly #prefix: string
  readonly #limits: StateDecodeLimits
  #sequence = 0

  constructor(init: StateStoreInit) {
    this.#datastore = init.datastore
    this.#prefix = (init.prefix ?? DEFAULT_STATE_PREFIX).replace(/\/+$/, '')
    this.#limits = init.limits ?? {}
  }

  /** Persists a delta (or any partial state) of its run. */
  async append(delta: RunState, options: AbortOptions = {}): Promise<void> {
    if (delta.isEmpty()) return
    // Uniqueness is all that matters: the parts are merged, so their order is irrelevant.
    const unique = `${Date.now().toString(36)}-${(this.#sequence++).toString(36)}-${randomUUID()}`
    await this.#datastore.put(this.#key(delta.run, `delta/${unique}`), this.#encode(delta), options)
  }

  /** Merges `state` with what is stored and writes it as the new snapshot (compacting deltas). */
  async save(state: RunState, options: AbortOptions = {}): Promise<RunState> {
    const stored = await this.#read(state.run, options)
    const merged = stored?.state ?? new RunState(state.run)
    merged.merge(state)
    await this.#writeSnapshot(merged, stored?.keys ?? [], options)
    return merged
  }

  /** The run's state (snapshot joined with every delta), or `undefined` if nothing is stored. */
  async load(run: string, options: AbortOptions = {}): Promise<RunState | undefined> {
    return (await this.#read(run, options))?.state
  }

  /** Folds the run's deltas into its snapshot. */
  async compact(run: string, options: AbortOptions = {}): Promise<RunState | undefined> {
    const stored = await this.#read(run, options)
    if (stored === undefined) return undefined
    if (stored.keys.length > 1) await this.#writeSnapshot(stored.state, stored.keys, options)
    return stored.state
  }

  /** Ids of all stored runs, sorted. */
  async runs(options: AbortOptions = {}): Promise<string[]> {
    const runs = new Set<string>()
    const base = `${this.#prefix}/`
    for await (const key of this.#datastore.queryKeys({ prefix: base }, options)) {
      const rest = key.toString().slice(base.length)
      const slash = rest.indexOf('/')
      if (slash > 0) runs.add(rest.slice(0, slash))
    }
    return [...runs].sort()
  }

  async delete(run: string, options: AbortOptions = {}): Promise<void> {
    assertRunId(run)
    const batch = this.#datastore.batch()
    for await (const key of this.#datastore.queryKeys({ prefix: `${this.#prefix}/${run}/` }, options)) {
      batch.delete(key)
    }
    await batch.commit(options)
  }

  async #read(run: string, options: AbortOptions): Promise<StoredRun | undefined> {
    const state = new RunState(run)
    const keys: Key[] = []
    for await (const { key, value } of this.#datastore.query(
      { prefix: `${this.#prefix}/${run}/` },
      options,
    )) {
      let part: RunState
      try {
        part = RunState.fromJSON(value, this.#limits)
      } catch (err) {
        if (!(err instanceof StateDecodeError)) throw err
        throw new StateDecodeError(
          err.issues.map((issue) => ({ path: `${key.toString()}:${issue.path}`, message: issue.message })),
          err,
        )
      }
      state.merge(part)
      keys.push(key)
    }
    return keys.length === 0 ? undefined : { state, keys }
  }

  async #writeSnapshot(state: RunState, obsolete: readonly Key[], options: AbortOptions): Promise<void> {
    const snapshot = this.#key(state.run, 'snapshot')
    const batch = this.#datastore.batch()
    for (const key of obsolete) if (key.toString() !== snapshot.toString()) batch.delete(key)
    batch.put(snapshot, this.#encode(state))
    await batch.commit(options)
  }

  #key(run: string, suffix: string): Key {
    // `new RunState` validated the run id, so it contains no `/` and cannot escape its prefix.
    return new Key(`${this.#prefix}/${run}/${suffix}`)
  }

  #encode(state: RunState): Uint8Array {
    return encoder.encode(JSON.stringify(state.toJSON()))
  }
}
