/**
 * Hybrid logical clock (Kulkarni et al.): physical milliseconds plus a counter, so stamps follow
 * wall time closely yet stay monotonic and causally ordered across nodes with skewed clocks.
 *
 * A stamp is a string `WWWWWWWWWWWWWWW-CCCCCC-node` (15-digit wall ms, 6-digit counter, node id):
 * fixed-width numbers make plain string comparison order stamps by (wall, counter, node), which is
 * the (hlc, node) order every register of the run-state CRDT uses.
 */

import { DEFAULT_MAX_CLOCK_DRIFT_MS, HLC_MAX_COUNTER } from './constants.js'
import { HlcDriftError, HlcFormatError } from './errors.js'

export interface HlcTimestamp {
  readonly wall: number
  readonly counter: number
  readonly node: string
}

const WALL_DIGITS = 15
const COUNTER_DIGITS = 6
const NODE_OFFSET = WALL_DIGITS + 1 + COUNTER_DIGITS + 1
const MAX_WALL = 10 ** WALL_DIGITS - 1
const STAMP_PATTERN = /^\d{15}-\d{6}-[\x21-\x7e]{1,128}$/
const NODE_PATTERN = /^[\x21-\x7e]{1,128}$/

export function formatHlc(ts: HlcTimestamp): string {
  return `${String(ts.wall).padStart(WALL_DIGITS, '0')}-${String(ts.counter).padStart(COUNTER_DIGITS, '0')}-${ts.node}`
}

export function isHlcString(value: unknown): value is string {
  return typeof value === 'string' && STAMP_PATTERN.test(value)
}

export function parseHlc(value: string): HlcTimestamp {
  if (!isHlcString(value)) {
    throw new HlcFormatError(value, 'expected 15-digit wall ms, "-", 6-digit counter, "-", node id')
  }
  return {
    wall: Number(value.slice(0, WALL_DIGITS)),
    counter: Number(value.slice(WALL_DIGITS + 1, WALL_DIGITS + 1 + COUNTER_DIGITS)),
    node: value.slice(NODE_OFFSET),
  }
}

/** The wall-clock milliseconds of a stamp, without parsing the rest. */
export function hlcWall(stamp: string): number {
  return Number(stamp.slice(0, WALL_DIGITS))
}

/** The node that issued a stamp. */
export function hlcNode(stamp: string): string {
  return stamp.slice(NODE_OFFSET)
}

export function compareHlc(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

export interface HlcInit {
  /** Physical clock in ms. @default Date.now */
  now?: () => number
  /** @default 60_000 */
  maxDriftMs?: number
  /** The last stamp issued before a restart, so the clock never goes backwards. */
  last?: string
}

export class Hlc {
  readonly node: string
  readonly #physical: () => number
  readonly #maxDriftMs: number
  #wall = 0
  #counter = 0

  constructor(node: string, init: HlcInit = {}) {
    if (!NODE_PATTERN.test(node)) {
      throw new HlcFormatError(node, 'node id must be 1-128 printable ASCII characters without spaces')
    }
    this.node = node
    this.#physical = init.now ?? Date.now
    this.#maxDriftMs = init.maxDriftMs ?? DEFAULT_MAX_CLOCK_DRIFT_MS
    if (init.last !== undefined) {
      const last = parseHlc(init.last)
      this.#wall = last.wall
      this.#counter = last.counter
    }
  }

  /** A new stamp, greater than every stamp this clock issued or received before. */
  now(): string {
    const physical = this.#readPhysical()
    if (physical > this.#wall) {
      this.#wall = physical
      this.#counter = 0
    } else {
      this.#tick()
    }
    return this.#stamp()
  }

  /**
   * Folds a remote stamp into the clock and returns a new local stamp greater than it. Throws
   * `HlcDriftError` (and leaves the clock unchanged) when the remote is too far in the future.
   */
  receive(remote: string): string {
    const theirs = parseHlc(remote)
    const physical = this.#readPhysical()
    if (theirs.wall > physical + this.#maxDriftMs) {
      throw new HlcDriftError(theirs.wall, physical, this.#maxDriftMs)
    }
    const wall = Math.max(this.#wall, theirs.wall, physical)
    if (wall === this.#wall && wall === theirs.wall) {
      this.#counter = Math.max(this.#counter, theirs.counter)
      this.#tick()
    } else if (wall === this.#wall) {
      this.#tick()
    } else if (wall === theirs.wall) {
      this.#wall = wall
      this.#counter = theirs.counter
      this.#tick()
    } else {
      this.#wall = wall
      this.#counter = 0
    }
    return this.#stamp()
  }

  /** The last stamp issued, without advancing (persist it to restore with `init.last`). */
  last(): string {
    return this.#stamp()
  }

  #tick(): void {
    this.#counter++
    if (this.#counter > HLC_MAX_COUNTER) {
      // Borrowing a millisecond keeps the stamp fixed-width; the wall catches up within a tick.
      this.#wall++
      this.#counter = 0
    }
  }

  #readPhysical(): number {
    const value = Math.floor(this.#physical())
    return Math.min(Math.max(value, 0), MAX_WALL)
  }

  #stamp(): string {
    return formatHlc({ wall: this.#wall, counter: this.#counter, node: this.node })
  }
}
