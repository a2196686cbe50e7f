/**
 * Acceptance 5: a burst of 2,000 jobs against 2 runners. The supervisor keeps at most
 * capacity × slots jobs out on each runner and queues the rest (back-pressure); nothing crashes,
 * every job completes, and no job runs twice.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { KindHandler } from '../src/roles/runner/index.js'
import type { JobEvent, JobStatusView } from '../src/roles/supervisor/index.js'
import { JobMesh, job, runnerVisible, submit } from './jobs-flow-fixtures.js'

const mesh = new JobMesh()
afterEach(() => mesh.cleanup())

const JOBS = 2_000
const CONCURRENCY = 4

/** A no-op kind that records, per runner, how many jobs ran and the most that ran at once. */
function counting(): { kind: KindHandler; ran: string[]; peak: () => number } {
  const ran: string[] = []
  let active = 0
  let peak = 0
  const kind: KindHandler = async (j) => {
    ran.push(j.id)
    active++
    peak = Math.max(peak, active)
    await new Promise((resolve) => setImmediate(resolve))
    active--
    return null
  }
  return { kind, ran, peak: () => peak }
}

describe('a burst of jobs', () => {
  it(`runs ${JOBS} jobs on 2 runners with bounded dispatch and no duplicates`, async () => {
    const [s, a, b, c] = [
      await mesh.member('sup'),
      await mesh.member('runA'),
      await mesh.member('runB'),
      await mesh.member('cli'),
    ]
    const sup = await mesh.start(s, { roles: ['supervisor'] })
    const [countA, countB] = [counting(), counting()]
    const counters = [countA, countB]
    const runners = [
      await mesh.start(a, {
        roles: ['runner'],
        bootstrap: sup,
        options: {
          runner: { builtins: false, concurrency: CONCURRENCY, kinds: { noop: countA.kind } },
        },
      }),
      await mesh.start(b, {
        roles: ['runner'],
        bootstrap: sup,
        options: {
          runner: { builtins: false, concurrency: CONCURRENCY, kinds: { noop: countB.kind } },
        },
      }),
    ]
    const cli = await mesh.start(c, { roles: [], bootstrap: sup })
    for (const runner of runners) await runnerVisible(sup, 'noop', runner)
    const client = mesh.client(cli, sup)

    const events = client.subscribe<JobEvent>(
      'supervisor.job_events',
      {},
      { signal: AbortSignal.timeout(55_000) },
    )
    await events.id
    const done = (async () => {
      const finished = new Map<string, string>()
      for await (const event of events) {
        if (event.status === 'succeeded' || event.status === 'failed' || event.status === 'timed_out') {
          finished.set(event.jobId, event.status)
          if (finished.size === JOBS) break
        }
      }
      return finished
    })()

    const envelopes = Array.from({ length: JOBS }, (_, i) => job(cli, { runner: 'noop', input: { i } }))
    let sawBackPressure = false
    await Promise.all(
      envelopes.map(async (envelope) => {
        const ack = await submit(client, envelope)
        if (ack.status === 'queued' && !sawBackPressure) {
          const waiting = await client.call<JobStatusView>('supervisor.get_job_status', {
            jobId: envelope.id,
          })
          if (waiting.status === 'queued' && /busy/.test(waiting.reason ?? '')) sawBackPressure = true
        }
      }),
    )
    const finished = await done
    expect(finished.size).toBe(JOBS)
    expect([...finished.values()].every((status) => status === 'succeeded')).toBe(true)
    expect(sawBackPressure).toBe(true)

    const ran = [...countA.ran, ...countB.ran]
    expect(ran).toHaveLength(JOBS)
    expect(new Set(ran).size).toBe(JOBS)
    for (const counter of counters) {
      expect(counter.ran.length).toBeGreaterThan(JOBS / 10)
      expect(counter.peak()).toBeLessThanOrEqual(CONCURRENCY)
    }
    const views = sup.roles.supervisor?.runners() ?? []
    expect(views.every((r) => r.inFlight === 0)).toBe(true)
  })
})
