/**
 * Seeded fault schedules: the same seed always gives the same sequence of faults, targets (by
 * role and index) and durations, so a failing seed replays the same faults.
 */
import { seededRandom } from './workload.js'

export const FAULT_KINDS = [
  'kill',
  'pause',
  'restart',
  'partition',
  'one-way',
  'isolate-owner',
  'mesh-restart',
  'runner-dies',
  'disk-full',
  'corrupt',
] as const
export type FaultKind = (typeof FAULT_KINDS)[number]

export interface PlannedFault {
  kind: FaultKind
  /** Index into the candidate nodes of the fault (taken modulo their number). */
  target: number
  /** A second index (the other side of a one-way cut, the split point of a partition). */
  other: number
  /** How long the fault holds before it is healed. */
  holdMs: number
  /** Pause before the fault is injected. */
  gapMs: number
}

export interface ScheduleOptions {
  seed: number
  count: number
  /** Kinds to draw from. @default every kind */
  kinds?: readonly FaultKind[]
  /** @default 2_000 */
  minHoldMs?: number
  /** @default 7_000 */
  maxHoldMs?: number
}

/**
 * `count` faults. Every kind appears once before any repeats (in a seeded order), so a short
 * schedule still covers each kind; `isolate-owner` and `pause` hold long enough for a takeover.
 */
export function planFaults(options: ScheduleOptions): PlannedFault[] {
  const random = seededRandom(options.seed)
  const kinds = [...(options.kinds ?? FAULT_KINDS)]
  const minHold = options.minHoldMs ?? 2_000
  const maxHold = options.maxHoldMs ?? 7_000
  const out: PlannedFault[] = []
  let deck: FaultKind[] = []
  for (let i = 0; i < options.count; i++) {
    if (deck.length === 0) deck = shuffle(kinds, random)
    const kind = deck.pop() as FaultKind
    const long = kind === 'isolate-owner' || kind === 'pause'
    out.push({
      kind,
      target: Math.floor(random() * 1_000),
      other: Math.floor(random() * 1_000),
      holdMs: long ? maxHold : minHold + Math.floor(random() * (maxHold - minHold)),
      gapMs: 500 + Math.floor(random() * 1_500),
    })
  }
  return out
}

function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j] as T, out[i] as T]
  }
  return out
}
