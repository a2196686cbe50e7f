/**
 * Waiting for a run to finish: the run's status is read whenever one of its events arrives and at
 * least every `STATUS_POLL_INTERVAL_MS`, so progress is live when events flow and still correct
 * when they do not (gateway without subscriptions, coordinator failover, gossip gaps).
 */

import { anySignal } from 'any-signal'
import type { Connection } from './connection.js'
import { STATUS_POLL_INTERVAL_MS } from './constants.js'
import { delay, followEvents } from './events.js'
import { isTerminalRun, type RunView } from './types.js'

export interface WaitOptions {
  signal?: AbortSignal
  /** Called with the run each time it changes (not on every poll). */
  onProgress?: (run: RunView) => void
}

export async function waitForRun(
  connection: Connection,
  runId: string,
  getStatus: (signal: AbortSignal) => Promise<RunView>,
  options: WaitOptions = {},
): Promise<RunView> {
  const stop = new AbortController()
  const signal = anySignal([options.signal, stop.signal])
  let woken = false
  let wake: () => void = () => {
    woken = true
  }
  const listen = async (): Promise<void> => {
    // Only news wakes the poll: no replay of what happened before.
    for await (const _event of followEvents(connection, runId, signal, undefined, false)) wake()
  }
  // Without events the poll still finishes the wait; a node without subscriptions is not an error.
  listen().catch(() => {})
  try {
    let last: string | undefined
    for (;;) {
      signal.throwIfAborted()
      const run = await getStatus(signal)
      const seen = JSON.stringify(run)
      if (seen !== last) {
        last = seen
        options.onProgress?.(run)
      }
      if (isTerminalRun(run.status)) return run
      if (!woken) {
        // The poll delay ends early on an event; ending it through its own signal also removes its
        // listener, so a burst of events leaves no pending timers (or listeners on the caller's signal).
        const tick = new AbortController()
        const onAbort = (): void => tick.abort()
        signal.addEventListener('abort', onAbort, { once: true })
        wake = onAbort
        await delay(STATUS_POLL_INTERVAL_MS, tick.signal)
        signal.removeEventListener('abort', onAbort)
      }
      woken = false
      wake = () => {
        woken = true
      }
    }
  } finally {
    stop.abort()
    signal.clear()
  }
}
