/**
 * One workflow run's replicated state: a delta-state CRDT (Almeida et al.). Every mutator applies
 * its change locally and returns the change as a small `RunState` (the delta) to gossip; `apply`
 * and `merge` join any state or delta into this one. Join is per component:
 *
 * - `meta` (definition and inputs): immutable; the earliest creation stamp wins.
 * - `rerun`: the latest rerun (epoch) of the run; higher epoch, then greater stamp wins.
 * - `cancelled`: absorbing within an epoch; the earliest cancel of the latest epoch is kept.
 * - `paused`, `lease`: last-writer-wins registers ordered by (hlc, node).
 * - `steps[id]`: the step lattice of `lattice.ts` (later attempt wins, terminal absorbs).
 * - `signals[name]`: first delivery wins (earliest stamp).
 * - `log`: a grow-only set keyed by (hlc, node).
 */

import canonicalize from 'canonicalize'
import { decodeRunStateJson, type RunStateJson } from './codec.js'
import { RUN_ID_PATTERN, STATE_ENCODING_VERSION, type StateDecodeLimits } from './constants.js'
import { bucketOf, computeDigest, differingBuckets, type RunDigest } from './digest.js'
import { InvalidRunIdError, RunMismatchError } from './errors.js'
import { compareHlc } from './hlc.js'
import type { JsonObject, JsonValue } from './json-value.js'
import {
  type CancelRecord,
  compareByStamp,
  compareCancels,
  compareEarliest,
  compareReruns,
  compareStepEntries,
  joinBy,
  type LeaseRecord,
  type LogEntry,
  type PausedRecord,
  type RerunRecord,
  type RunMeta,
  type SignalRecord,
  type StepEntry,
} from './lattice.js'

const META = 'm'
const CANCELLED = 'c'
const PAUSED = 'p'
const LEASE = 'l'
const RERUN = 'r'
const stepKey = (id: string): string => `s:${id}`
const signalKey = (name: string): string => `g:${name}`
const logKey = (hlc: string): string => `e:${hlc}`

export interface CreateRunInit {
  readonly run: string
  readonly hlc: string
  readonly workflow: JsonValue
  readonly inputs: JsonObject
  readonly authority?: JsonObject
  readonly submittedInputs?: JsonObject
  readonly secrets?: JsonObject
}

/** Throws `InvalidRunIdError` unless `run` can name a run (datastore keys, job ids). */
export function assertRunId(run: string): void {
  if (!RUN_ID_PATTERN.test(run)) throw new InvalidRunIdError(run)
}

export class RunState {
  readonly run: string
  #meta: RunMeta | undefined
  #cancelled: CancelRecord | undefined
  #paused: PausedRecord | undefined
  #lease: LeaseRecord | undefined
  #rerun: RerunRecord | undefined
  readonly #steps = new Map<string, StepEntry>()
  readonly #signals = new Map<string, SignalRecord>()
  readonly #log = new Map<string, LogEntry>()
  /** Event type → greatest stamp of an event of that type. */
  readonly #lastEvent = new Map<string, string>()
  /** Local version at which each component last changed (for `deltaSince`). */
  readonly #changedAt = new Map<string, number>()
  #version = 0
  #maxHlc: string | undefined
  #digest: { version: number; value: RunDigest } | undefined

  constructor(run: string) {
    assertRunId(run)
    this.run = run
  }

  /** A new run: its definition and inputs, stamped with its creation time. */
  static create(init: CreateRunInit): RunState {
    const state = new RunState(init.run)
    state.#joinMeta({
      hlc: init.hlc,
      workflow: init.workflow,
      inputs: init.inputs,
      ...(init.authority === undefined ? {} : { authority: init.authority }),
      ...(init.submittedInputs === undefined ? {} : { submittedInputs: init.submittedInputs }),
      ...(init.secrets === undefined ? {} : { secrets: init.secrets }),
    })
    return state
  }

  /** Decodes untrusted JSON (object, text or bytes); throws `StateDecodeError`. */
  static fromJSON(input: unknown, limits?: StateDecodeLimits): RunState {
    const json = decodeRunStateJson(input, limits)
    const state = new RunState(json.run)
    if (json.meta !== undefined) state.#joinMeta(json.meta)
    if (json.cancelled !== undefined) state.#joinCancelled(json.cancelled)
    if (json.paused !== undefined) state.#joinPaused(json.paused)
    if (json.lease !== undefined) state.#joinLease(json.lease)
    if (json.rerun !== undefined) state.#joinRerun(json.rerun)
    for (const [id, entry] of Object.entries(json.steps ?? {})) state.#joinStep(id, entry)
    for (const [name, record] of Object.entries(json.signals ?? {})) state.#joinSignal(name, record)
    for (const entry of json.log ?? []) state.#joinLog(entry)
    return state
  }

  get meta(): RunMeta | undefined {
    return this.#meta
  }

  /** The cancel that applies to the current epoch (a cancel of an earlier epoch was undone by a rerun). */
  get cancelled(): CancelRecord | undefined {
    const record = this.#cancelled
    return record !== undefined && (record.epoch ?? 0) >= this.epoch ? record : undefined
  }

  /** The stored cancel record, whichever epoch it belongs to. */
  get cancelRecord(): CancelRecord | undefined {
    return this.#cancelled
  }

  /** How many times the run was rerun (`retry_workflow`); 0 before the first rerun. */
  get epoch(): number {
    return this.#rerun?.epoch ?? 0
  }

  get rerun(): RerunRecord | undefined {
    return this.#rerun
  }

  get paused(): boolean {
    return this.#paused?.paused ?? false
  }

  get pausedRecord(): PausedRecord | undefined {
    return this.#paused
  }

  get lease(): LeaseRecord | undefined {
    return this.#lease
  }

  /** Increases on every local change, by mutation or merge. */
  get version(): number {
    return this.#version
  }

  /** The greatest stamp in this state: feed it to `Hlc.receive` after merging remote state. */
  get maxHlc(): string | undefined {
    return this.#maxHlc
  }

  get stepCount(): number {
    return this.#steps.size
  }

  get logSize(): number {
    return this.#log.size
  }

  step(id: string): StepEntry | undefined {
    return this.#steps.get(id)
  }

  signal(name: string): SignalRecord | undefined {
    return this.#signals.get(name)
  }

  signals(): IterableIterator<[string, SignalRecord]> {
    return this.#signals.entries()
  }

  steps(): IterableIterator<[string, StepEntry]> {
    return this.#steps.entries()
  }

  /** Log entries in (hlc, node) order. */
  log(): LogEntry[] {
    return [...this.#log.values()].sort((a, b) => compareHlc(a.hlc, b.hlc))
  }

  /** Whether some event of this type is in the log (e.g. `workflow_completed`). */
  hasEvent(type: string): boolean {
    return this.#lastEvent.has(type)
  }

  /** The greatest stamp of an event of this type, if any. */
  lastEvent(type: string): string | undefined {
    return this.#lastEvent.get(type)
  }

  isEmpty(): boolean {
    return (
      this.#meta === undefined &&
      this.#cancelled === undefined &&
      this.#paused === undefined &&
      this.#lease === undefined &&
      this.#rerun === undefined &&
      this.#steps.size === 0 &&
      this.#signals.size === 0 &&
      this.#log.size === 0
    )
  }

  // Mutators: each changes this state and returns the delta to replicate.

  setStep(id: string, entry: StepEntry): RunState {
    const delta = new RunState(this.run)
    delta.#joinStep(id, entry)
    this.#joinStep(id, entry)
    return delta
  }

  /** Cancels the current epoch of the run. */
  cancel(hlc: string, reason?: string): RunState {
    const epoch = this.epoch
    const record: CancelRecord = {
      hlc,
      ...(reason === undefined ? {} : { reason }),
      ...(epoch === 0 ? {} : { epoch }),
    }
    const delta = new RunState(this.run)
    delta.#joinCancelled(record)
    this.#joinCancelled(record)
    return delta
  }

  setPaused(hlc: string, paused: boolean): RunState {
    const delta = new RunState(this.run)
    delta.#joinPaused({ paused, hlc })
    this.#joinPaused({ paused, hlc })
    return delta
  }

  setLease(hlc: string, owner: string, expiresAt: number): RunState {
    const record: LeaseRecord = { owner, expiresAt, hlc }
    const delta = new RunState(this.run)
    delta.#joinLease(record)
    this.#joinLease(record)
    return delta
  }

  /** Opens the next epoch of the run (a rerun); `steps` as the caller named them. */
  startRerun(hlc: string, steps?: readonly string[]): RunState {
    const record: RerunRecord = {
      epoch: this.epoch + 1,
      hlc,
      ...(steps === undefined ? {} : { steps: [...steps] }),
    }
    const delta = new RunState(this.run)
    delta.#joinRerun(record)
    this.#joinRerun(record)
    return delta
  }

  /** Records a delivered signal (the first delivery of a name is kept on every replica). */
  setSignal(name: string, record: SignalRecord): RunState {
    const delta = new RunState(this.run)
    delta.#joinSignal(name, record)
    this.#joinSignal(name, record)
    return delta
  }

  appendLog(entry: LogEntry): RunState {
    const delta = new RunState(this.run)
    delta.#joinLog(entry)
    this.#joinLog(entry)
    return delta
  }

  /** Joins `other` into this state; returns whether anything changed. */
  merge(other: RunState): boolean {
    if (other.run !== this.run) throw new RunMismatchError(this.run, other.run)
    const before = this.#version
    if (other.#meta !== undefined) this.#joinMeta(other.#meta)
    if (other.#cancelled !== undefined) this.#joinCancelled(other.#cancelled)
    if (other.#paused !== undefined) this.#joinPaused(other.#paused)
    if (other.#lease !== undefined) this.#joinLease(other.#lease)
    if (other.#rerun !== undefined) this.#joinRerun(other.#rerun)
    for (const [id, entry] of other.#steps) this.#joinStep(id, entry)
    for (const [name, record] of other.#signals) this.#joinSignal(name, record)
    for (const entry of other.#log.values()) this.#joinLog(entry)
    return this.#version !== before
  }

  /** Merges a delta: a `RunState`, or untrusted JSON that is validated first. */
  apply(delta: RunState | unknown, limits?: StateDecodeLimits): boolean {
    return this.merge(delta instanceof RunState ? delta : RunState.fromJSON(delta, limits))
  }

  /** Everything that changed here after local version `version` (for batching gossip). */
  deltaSince(version: number): RunState {
    return this.#extract((key) => (this.#changedAt.get(key) ?? 0) > version)
  }

  digest(): RunDigest {
    if (this.#digest?.version !== this.#version) {
      this.#digest = { version: this.#version, value: computeDigest(this.run, this.#fingerprints()) }
    }
    return this.#digest.value
  }

  /** What a peer with digest `remote` may lack: every component in a bucket where we differ. */
  deltaFor(remote: RunDigest): RunState {
    if (remote.run !== this.run) throw new RunMismatchError(this.run, remote.run)
    const buckets = differingBuckets(this.digest(), remote)
    return this.#extract((key) => buckets.has(bucketOf(key)))
  }

  /**
   * This state cut into parts whose encoded JSON stays near `maxBytes` each (whole components;
   * one component bigger than that is a part alone), merging back into this state. A run too big
   * for one sync frame (a long log, many large outputs) travels in several.
   */
  *parts(maxBytes: number): Generator<RunState> {
    const whole = JSON.stringify(this.toJSON()).length
    if (whole <= maxBytes) {
      yield this
      return
    }
    let keys = new Set<string>()
    let used = 0
    for (const [key, size] of this.#componentSizes()) {
      if (keys.size > 0 && used + size > maxBytes) {
        yield this.#extract((k) => keys.has(k))
        keys = new Set()
        used = 0
      }
      keys.add(key)
      used += size
    }
    if (keys.size > 0) yield this.#extract((k) => keys.has(k))
  }

  clone(): RunState {
    const copy = new RunState(this.run)
    copy.merge(this)
    return copy
  }

  /** Same content (local versions aside). */
  equals(other: RunState): boolean {
    return canonicalize(this.toJSON()) === canonicalize(other.toJSON())
  }

  toJSON(): RunStateJson {
    const json: {
      -readonly [K in keyof RunStateJson]: RunStateJson[K]
    } = { v: STATE_ENCODING_VERSION, run: this.run }
    if (this.#meta !== undefined) json.meta = this.#meta
    if (this.#cancelled !== undefined) json.cancelled = this.#cancelled
    if (this.#paused !== undefined) json.paused = this.#paused
    if (this.#lease !== undefined) json.lease = this.#lease
    if (this.#rerun !== undefined) json.rerun = this.#rerun
    if (this.#steps.size > 0) json.steps = Object.fromEntries(this.#steps)
    if (this.#signals.size > 0) json.signals = Object.fromEntries(this.#signals)
    if (this.#log.size > 0) json.log = this.log()
    return json
  }

  /** Each component's key and the length of its encoded JSON (for `parts`). */
  *#componentSizes(): Generator<[string, number]> {
    const size = (value: unknown): number => JSON.stringify(value).length + 8
    if (this.#meta !== undefined) yield [META, size(this.#meta)]
    if (this.#cancelled !== undefined) yield [CANCELLED, size(this.#cancelled)]
    if (this.#paused !== undefined) yield [PAUSED, size(this.#paused)]
    if (this.#lease !== undefined) yield [LEASE, size(this.#lease)]
    if (this.#rerun !== undefined) yield [RERUN, size(this.#rerun)]
    for (const [id, e] of this.#steps) yield [stepKey(id), size(e) + id.length]
    for (const [name, g] of this.#signals) yield [signalKey(name), size(g) + name.length]
    for (const [hlc, entry] of this.#log) yield [logKey(hlc), size(entry)]
  }

  *#fingerprints(): Generator<[string, string]> {
    if (this.#meta !== undefined) yield [META, `m|${this.#meta.hlc}`]
    if (this.#cancelled !== undefined) yield [CANCELLED, `c|${this.#cancelled.hlc}`]
    if (this.#paused !== undefined) yield [PAUSED, `p|${this.#paused.hlc}`]
    if (this.#lease !== undefined) yield [LEASE, `l|${this.#lease.hlc}`]
    if (this.#rerun !== undefined) yield [RERUN, `r|${this.#rerun.epoch}|${this.#rerun.hlc}`]
    for (const [id, e] of this.#steps) yield [stepKey(id), `s|${id}|${e.attempt}|${e.phase}|${e.hlc}`]
    for (const [name, g] of this.#signals) yield [signalKey(name), `g|${name}|${g.hlc}`]
    for (const hlc of this.#log.keys()) yield [logKey(hlc), `e|${hlc}`]
  }

  #extract(include: (key: string) => boolean): RunState {
    const delta = new RunState(this.run)
    if (this.#meta !== undefined && include(META)) delta.#joinMeta(this.#meta)
    if (this.#cancelled !== undefined && include(CANCELLED)) delta.#joinCancelled(this.#cancelled)
    if (this.#paused !== undefined && include(PAUSED)) delta.#joinPaused(this.#paused)
    if (this.#lease !== undefined && include(LEASE)) delta.#joinLease(this.#lease)
    if (this.#rerun !== undefined && include(RERUN)) delta.#joinRerun(this.#rerun)
    for (const [id, entry] of this.#steps) if (include(stepKey(id))) delta.#joinStep(id, entry)
    for (const [name, record] of this.#signals) if (include(signalKey(name))) delta.#joinSignal(name, record)
    for (const [hlc, entry] of this.#log) if (include(logKey(hlc))) delta.#joinLog(entry)
    return delta
  }

  #changed(key: string, hlc: string): void {
    this.#version++
    this.#changedAt.set(key, this.#version)
    if (this.#maxHlc === undefined || hlc > this.#maxHlc) this.#maxHlc = hlc
  }

  #joinMeta(meta: RunMeta): void {
    const next = joinBy(this.#meta, meta, compareEarliest)
    if (next === this.#meta) return
    this.#meta = next
    this.#changed(META, meta.hlc)
  }

  #joinCancelled(record: CancelRecord): void {
    const next = joinBy(this.#cancelled, record, compareCancels)
    if (next === this.#cancelled) return
    this.#cancelled = next
    this.#changed(CANCELLED, record.hlc)
  }

  #joinPaused(record: PausedRecord): void {
    const next = joinBy(this.#paused, record, compareByStamp)
    if (next === this.#paused) return
    this.#paused = next
    this.#changed(PAUSED, record.hlc)
  }

  #joinLease(record: LeaseRecord): void {
    const next = joinBy(this.#lease, record, compareByStamp)
    if (next === this.#lease) return
    this.#lease = next
    this.#changed(LEASE, record.hlc)
  }

  #joinRerun(record: RerunRecord): void {
    const next = joinBy(this.#rerun, record, compareReruns)
    if (next === this.#rerun) return
    this.#rerun = next
    this.#changed(RERUN, record.hlc)
  }

  #joinSignal(name: string, record: SignalRecord): void {
    const current = this.#signals.get(name)
    if (current !== undefined && compareEarliest(current, record) >= 0) return
    this.#signals.set(name, record)
    this.#changed(signalKey(name), record.hlc)
  }

  #joinStep(id: string, entry: StepEntry): void {
    const current = this.#steps.get(id)
    if (current !== undefined && compareStepEntries(current, entry) >= 0) return
    this.#steps.set(id, entry)
    this.#changed(stepKey(id), entry.hlc)
  }

  #joinLog(entry: LogEntry): void {
    const current = this.#log.get(entry.hlc)
    if (current !== undefined && compareByStamp(current, entry) >= 0) return
    this.#log.set(entry.hlc, entry)
    if (entry.kind === 'event') {
      const last = this.#lastEvent.get(entry.type)
      if (last === undefined || compareHlc(entry.hlc, last) > 0) this.#lastEvent.set(entry.type, entry.hlc)
    }
    this.#changed(logKey(entry.hlc), entry.hlc)
  }
}
