/**
 * What a cron trigger does at a tick, decided purely: which ticks were missed while no coordinator
 * started them (`catch_up`), and whether a tick starts a run while an earlier run of the trigger is
 * still going (`overlap`).
 */
import { Cron } from 'croner'

/** What a tick does while an earlier run of the trigger is unfinished. @default 'skip' */
export type OverlapPolicy = 'skip' | 'allow' | 'cancel_previous'
export const OVERLAP_POLICIES: readonly OverlapPolicy[] = ['skip', 'allow', 'cancel_previous']

/** Missed ticks started late: none (`false`, the default), all (`true`), or at most the latest n. */
export type CatchUp = boolean | number

/** The most missed ticks ever started at once, whatever `catch_up` says. */
export const MAX_CATCH_UP_TICKS = 100

/**
 * Ticks of `schedule` after `since` (exclusive) up to `now` (inclusive) that `catchUp` says to
 * start, oldest first. `since` is the last tick started, or when the trigger was registered.
 */
export function missedTicks(
  schedule: string,
  options: { timezone?: string; since: number; now: number; catchUp: CatchUp },
): number[] {
  const limit =
    options.catchUp === false
      ? 0
      : options.catchUp === true
        ? MAX_CATCH_UP_TICKS
        : Math.min(options.catchUp, MAX_CATCH_UP_TICKS)
  if (limit <= 0 || options.now <= options.since) return []
  const cron = new Cron(schedule, {
    paused: true,
    ...(options.timezone === undefined ? {} : { timezone: options.timezone }),
  })
  try {
    // Walk back from now: the latest `limit` ticks are the ones kept.
    const ticks: number[] = []
    let before = new Date(options.now + 1)
    while (ticks.length < limit) {
      const batch = cron.previousRuns(Math.min(50, limit - ticks.length), before)
      if (batch.length === 0) break
      for (const date of batch) {
        const tick = roundToSecond(date.getTime())
        if (tick <= options.since) return ticks.reverse()
        ticks.push(tick)
      }
      before = batch.at(-1) as Date
    }
    return ticks.reverse()
  } finally {
    cron.stop()
  }
}

/**
 * The tick a firing at `firedAt` belongs to: the latest time of the schedule at or before it.
 * Croner calls back at the time it woke, which under load can be a second or more after the
 * tick; rounding that would name a time the schedule does not have (so two coordinators, or a
 * replica's "last tick", would disagree about which tick ran).
 */
export function scheduledTick(cron: Cron, firedAt: number): number {
  const [tick] = cron.previousRuns(1, new Date(firedAt + 1))
  return tick === undefined ? Math.floor(firedAt / 1000) * 1000 : roundToSecond(tick.getTime())
}

/** Croner fires a few ms around the second; ticks are whole seconds in every schedule it accepts. */
export function roundToSecond(ms: number): number {
  return Math.round(ms / 1000) * 1000
}

/** Whether a tick starts its run, and which unfinished earlier runs it cancels first. */
export function overlapDecision(
  policy: OverlapPolicy,
  unfinished: readonly string[],
): { start: boolean; cancel: readonly string[] } {
  if (unfinished.length === 0 || policy === 'allow') return { start: true, cancel: [] }
  if (policy === 'cancel_previous') return { start: true, cancel: unfinished }
  return { start: false, cancel: [] }
}
