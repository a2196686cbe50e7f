/**
 * Which coordinator starts a cron tick. Every coordinator with the trigger schedules it; at a tick
 * the run id is deterministic — `cron.<name>.<tick epoch ms>` — and the live coordinator with the
 * highest rendezvous score `sha256(name/tick/peer)` starts it. The others wait `fallbackMs` and
 * start it only if the run has not reached them by then (the designated one is down, or does not
 * hold the trigger). Should two start it anyway (liveness views disagreeing across a partition),
 * they create the *same* run id: the replicated state merges them into one run (its creation is
 * immutable, the earliest wins), so a tick never yields two runs.
 */
import { createHash, randomUUID } from 'node:crypto'

export function cronRunId(name: string, tick: number): string {
  return `cron.${name}.${tick}`
}

/** An HTTP trigger's runs: `hook.<name>.<uuid>` (the scheme `triggerRunPattern` checks). */
export function hookRunId(name: string): string {
  return `hook.${name}.${randomUUID()}`
}

export function rendezvousWinner(key: string, peers: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestScore = ''
  for (const peer of peers) {
    const score = createHash('sha256').update(`${key}\n${peer}`).digest('hex')
    if (best === undefined || score > bestScore) {
      best = peer
      bestScore = score
    }
  }
  return best
}
