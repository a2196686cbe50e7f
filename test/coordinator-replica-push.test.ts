/**
 * Replica pushes in isolation (the delivery is a recording `coordinator.sync` endpoint; the
 * sharding test drives them between real coordinators): what a forwarded read waits for, and who
 * a queued delta may still reach.
 */
import { describe, expect, it } from 'vitest'
import { RunState } from '../src/protocols/state/run-state.js'
import { ReplicaPush } from '../src/roles/coordinator/service/replica-push.js'

const stamp = (ms: number) => `${String(ms).padStart(15, '0')}-000000-a`

function delta(run: string, at: number): RunState {
  const state = new RunState(run)
  state.setPaused(stamp(at), at % 2 === 0)
  return state
}

interface Sent {
  peer: string
  runs: string[]
  dial: boolean
}

function pushes(
  belongs: (run: string, peer: string) => boolean,
  callMs = 5,
  /** Calls to these peers fail this many times before they are answered. */
  unreachable: Map<string, number> = new Map(),
) {
  const sent: Sent[] = []
  const push = new ReplicaPush({
    log: Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false }) as never,
    connected: () => true,
    belongs,
    noteRetryMs: 10,
    client: (peer, { dial }) => ({
      call: async <T>(_method: string, params?: unknown): Promise<T> => {
        await new Promise((resolve) => setTimeout(resolve, callMs))
        const failures = unreachable.get(peer) ?? 0
        if (failures > 0) {
          unreachable.set(peer, failures - 1)
          throw new Error(`${peer} unreachable`)
        }
        const runs = ((params as { deltas: Array<{ run: string }> }).deltas ?? []).map((d) => d.run)
        sent.push({ peer, runs, dial })
        return { deltas: [], digests: [] } as T
      },
    }),
  })
  push.start()
  return { push, sent }
}

describe('replica push', () => {
  it('settled waits for what was queued when asked, not for what a busy owner keeps queueing', async () => {
    const { push, sent } = pushes(() => true)
    push.push(delta('r1', 1), ['m'])
    const settled = push.settled('m')
    // The owner keeps changing runs while the first push is in flight (bounded: 200 changes).
    let t = 2
    const busy = setInterval(() => {
      if (t >= 200) clearInterval(busy)
      else push.push(delta(`r${t % 7}`, t++), ['m'])
    }, 1)
    try {
      await settled
      // Released after the first push, long before the owner stops changing runs.
      expect(t).toBeLessThan(200)
      expect(sent.some((s) => s.runs.includes('r1'))).toBe(true)
    } finally {
      clearInterval(busy)
      push.stop()
    }
  })

  it('an abort ends the wait early', async () => {
    const { push } = pushes(() => true, 10_000)
    push.push(delta('r1', 1), ['m'])
    const stop = new AbortController()
    const settled = push.settled('m', stop.signal)
    stop.abort()
    await settled
    push.stop()
  })

  it('a delta queued for a peer that left the set (or was revoked) is not sent; a takeover note is', async () => {
    let member = true
    const { push, sent } = pushes((_run, peer) => peer === 'm' && member)
    push.push(delta('r1', 1), ['m'])
    push.push(delta('r2', 2), ['old-owner'], { dial: true })
    member = false
    await push.settled('m')
    await push.settled('old-owner')
    push.stop()
    expect(sent.filter((s) => s.peer === 'm')).toEqual([])
    expect(sent.filter((s) => s.peer === 'old-owner')).toEqual([
      { peer: 'old-owner', runs: ['r2'], dial: true },
    ])
  })

  it('sends a takeover note again until its unreachable revoked owner gets it (bounded)', async () => {
    const { push, sent } = pushes(() => false, 1, new Map([['old-owner', 3]]))
    push.push(delta('r2', 2), ['old-owner'], { dial: true })
    // Three failures, then answered: 10 + 20 + 40 ms of back-off (bounded wait: 5 s).
    for (let i = 0; i < 500 && sent.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    push.stop()
    expect(sent).toEqual([{ peer: 'old-owner', runs: ['r2'], dial: true }])
  })

  it('gives a note up after six attempts', async () => {
    const unreachable = new Map([['gone', 100]])
    const { push, sent } = pushes(() => false, 1, unreachable)
    push.push(delta('r3', 3), ['gone'], { dial: true })
    // 10 + 20 + 40 + 80 + 160 ms of back-off between six attempts (bounded wait: 5 s).
    for (let i = 0; i < 500 && unreachable.get('gone') !== 94; i++)
      await new Promise((resolve) => setTimeout(resolve, 10))
    await new Promise((resolve) => setTimeout(resolve, 400))
    push.stop()
    expect(unreachable.get('gone')).toBe(94)
    expect(sent).toEqual([])
  })
})
