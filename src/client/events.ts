/**
 * Monitor events as one iterator that outlives the node serving it: when the subscription's
 * coordinator goes away the client subscribes again (to another one if need be). For one run the
 * coordinator replays its log: from the start (or after `after`), and after a resubscription from
 * the last event delivered. Events of every run are live only: those published while no
 * subscription was open are not replayed.
 */

import { shouldFailover } from '../protocols/rpc/failover.js'
import type { Connection } from './connection.js'
import { MAX_RESUBSCRIBE_DELAY_MS, RESUBSCRIBE_DELAY_MS } from './constants.js'
import type { MonitorEvent } from './types.js'

export async function* followEvents(
  connection: Connection,
  runId: string | undefined,
  signal?: AbortSignal,
  after?: string,
  /** Replay the run's history (from `after`, or its start); false: live events only, as waiters need. */
  replay = true,
): AsyncGenerator<MonitorEvent, void, undefined> {
  let cursor = runId === undefined || !replay ? undefined : (after ?? '')
  let pause = RESUBSCRIBE_DELAY_MS
  for (;;) {
    if (isAborted(signal)) return
    const params = runId === undefined ? {} : cursor === undefined ? { runId } : { runId, after: cursor }
    const sub = connection.subscribe<MonitorEvent>(
      'coordinator',
      'coordinator.events',
      params,
      signal === undefined ? {} : { signal },
    )
    try {
      for await (const event of sub) {
        pause = RESUBSCRIBE_DELAY_MS
        if (runId !== undefined && event.id !== undefined) cursor = event.id
        yield event
      }
      return
    } catch (err) {
      if (isAborted(signal)) return
      if (!shouldFailover(err, { idempotent: true })) throw err
    } finally {
      await sub.unsubscribe()
    }
    await delay(pause, signal)
    // A mesh that stays unreachable is asked less and less often.
    pause = Math.min(pause * 2, MAX_RESUBSCRIBE_DELAY_MS)
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (the caller then checks the signal). */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}

/** A function, so TypeScript does not narrow `aborted` across awaits. */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true
}
