/**
 * The triggers of a mesh, replicated among coordinators as a small state-based CRDT, so a trigger
 * registered on one coordinator is served by all of them and survives any one of them:
 *
 * - `records[name]`: the trigger as registered, or a removal (no `registration`); last writer wins
 *   by (hlc, node), so a later registration replaces a removal and the other way round;
 * - `ticks[name]`: the latest cron tick a coordinator started (max), which tells a coordinator that
 *   was down — or all of them — which ticks were missed (`catch_up`).
 *
 * The registration itself is opaque here (a JSON value checked by the trigger service when it is
 * used); what arrives from a peer is validated structurally before anything of it is merged.
 */
import { createHash } from 'node:crypto'
import canonicalize from 'canonicalize'
import { isHlcString } from '../../../protocols/state/hlc.js'
import { isPlainObject, type JsonValue, jsonValueProblem } from '../../../protocols/state/json-value.js'
import { compareByStamp } from '../../../protocols/state/lattice.js'
import { TriggerInvalidError } from '../service/errors.js'
import { TRIGGER_NAME_PATTERN } from './definition.js'

export interface TriggerRecord {
  readonly hlc: string
  /** The registration; absent when the trigger was removed. */
  readonly registration?: JsonValue
}

export interface TriggerSetJson {
  readonly records: Readonly<Record<string, TriggerRecord>>
  readonly ticks?: Readonly<Record<string, number>>
}

/** Triggers a set may hold; a peer sending more is refused. */
export const MAX_TRIGGERS = 1_000
/** Deepest registration accepted (workflow documents nest). */
const MAX_REGISTRATION_DEPTH = 256

export class TriggerSet {
  readonly #records = new Map<string, TriggerRecord>()
  readonly #ticks = new Map<string, number>()
  #version = 0

  /** Increases on every change (local or merged). */
  get version(): number {
    return this.#version
  }

  /** Live triggers (not removed), by name. */
  entries(): [string, TriggerRecord & { registration: JsonValue }][] {
    const out: [string, TriggerRecord & { registration: JsonValue }][] = []
    for (const [name, record] of this.#records) {
      if (record.registration !== undefined)
        out.push([name, record as TriggerRecord & { registration: JsonValue }])
    }
    return out.sort(([a], [b]) => (a < b ? -1 : 1))
  }

  record(name: string): TriggerRecord | undefined {
    return this.#records.get(name)
  }

  lastTick(name: string): number | undefined {
    return this.#ticks.get(name)
  }

  set(name: string, hlc: string, registration: JsonValue): TriggerSet {
    return this.#write((s) => s.#joinRecord(name, { hlc, registration }))
  }

  remove(name: string, hlc: string): TriggerSet {
    return this.#write((s) => s.#joinRecord(name, { hlc }))
  }

  markTick(name: string, tick: number): TriggerSet {
    return this.#write((s) => s.#joinTick(name, tick))
  }

  /** Joins another set (or delta) into this one; returns whether anything changed. */
  merge(other: TriggerSet): boolean {
    const before = this.#version
    for (const [name, record] of other.#records) this.#joinRecord(name, record)
    for (const [name, tick] of other.#ticks) this.#joinTick(name, tick)
    return this.#version !== before
  }

  /** A hash of the content: equal digests, equal sets. */
  digest(): string {
    return createHash('sha256')
      .update(canonicalize(this.toJSON()) ?? '')
      .digest('hex')
  }

  toJSON(): TriggerSetJson {
    const json: { records: Record<string, TriggerRecord>; ticks?: Record<string, number> } = {
      records: Object.fromEntries(this.#records),
    }
    if (this.#ticks.size > 0) json.ticks = Object.fromEntries(this.#ticks)
    return json
  }

  /** Decodes a set from a peer; throws TriggerInvalidError naming what is wrong, merging nothing. */
  static fromJSON(input: unknown): TriggerSet {
    const fail = (path: string, message: string): never => {
      throw new TriggerInvalidError(`trigger set ${path}: ${message}`)
    }
    if (!isPlainObject(input)) return fail('', 'expected an object { records, ticks? }')
    for (const key of Object.keys(input)) if (key !== 'records' && key !== 'ticks') fail(key, 'unknown field')
    const { records, ticks } = input
    if (!isPlainObject(records)) return fail('records', 'expected an object')
    const names = Object.keys(records)
    if (names.length > MAX_TRIGGERS) fail('records', `more than ${MAX_TRIGGERS} triggers`)
    const set = new TriggerSet()
    for (const name of names) {
      const at = `records.${name.slice(0, 64)}`
      if (!TRIGGER_NAME_PATTERN.test(name)) fail(at, 'invalid trigger name')
      const record = records[name]
      if (!isPlainObject(record)) return fail(at, 'expected { hlc, registration? }')
      for (const key of Object.keys(record))
        if (key !== 'hlc' && key !== 'registration') fail(`${at}.${key}`, 'unknown field')
      if (!isHlcString(record.hlc)) fail(`${at}.hlc`, 'expected an HLC stamp')
      if (record.registration !== undefined) {
        const problem = jsonValueProblem(record.registration, MAX_REGISTRATION_DEPTH)
        if (problem !== undefined) fail(`${at}.registration`, problem)
      }
      set.#joinRecord(name, record as unknown as TriggerRecord)
    }
    if (ticks !== undefined) {
      if (!isPlainObject(ticks)) return fail('ticks', 'expected an object')
      for (const [name, tick] of Object.entries(ticks)) {
        if (!TRIGGER_NAME_PATTERN.test(name)) fail(`ticks.${name.slice(0, 64)}`, 'invalid trigger name')
        if (typeof tick !== 'number' || !Number.isSafeInteger(tick) || tick < 0)
          fail(`ticks.${name}`, 'expected a time in ms')
        set.#joinTick(name, tick as number)
      }
      if (set.#ticks.size > MAX_TRIGGERS) fail('ticks', `more than ${MAX_TRIGGERS} triggers`)
    }
    return set
  }

  #write(apply: (set: TriggerSet) => void): TriggerSet {
    const delta = new TriggerSet()
    apply(delta)
    apply(this)
    return delta
  }

  #joinRecord(name: string, record: TriggerRecord): void {
    const current = this.#records.get(name)
    if (current !== undefined && compareByStamp(current, record) >= 0) return
    this.#records.set(name, record)
    this.#version++
  }

  #joinTick(name: string, tick: number): void {
    const current = this.#ticks.get(name)
    if (current !== undefined && current >= tick) return
    this.#ticks.set(name, tick)
    this.#version++
  }
}
