/**
 * Issue 10, attack 4 for a run nobody has submitted yet: cron run ids (`cron.<name>.<tick ms>`) are
 * predictable, so a client trusted only as a client signs a registration of its own under the
 * trigger's name and pre-squats the step ids of the next ticks. A supervisor may hold the
 * squatter's job (it is the squatter's own, under its own authority); when the tick fires, the
 * coordinator refuses to follow a job its policy does not hold as a coordinator's, fails that
 * attempt (counted), retries, and the squatter's output never becomes the step's.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createJob, createTriggerRegistration, type TrustConfig } from '../src/protocols/jobs/index.js'
import { waitFor } from '../src/testing/index.js'
import {
  coordinatorOf,
  Executions,
  Gates,
  JobMesh,
  runnerVisible,
  step,
  TEST_KINDS,
  testKinds,
} from './coordinator-fixtures.js'
import { submit } from './jobs-flow-fixtures.js'
import { addr, members } from './trust-fixtures.js'

const mesh = new JobMesh()
afterEach(() => mesh.cleanup())

const SCHEDULE = '*/2 * * * * *'
const TICKED = {
  workflow: {
    name: 'ticked',
    steps: [
      { id: 'a', runner: 'echo', payload: 'genuine', retry: { max_attempts: 2, initial_delay: '10ms' } },
    ],
  },
}

describe('job-id squatting of a future cron tick', () => {
  it("a client's pre-signed jobs for the next ticks never become the tick's step output", async () => {
    const [w, c, q] = await members(mesh, 'work', 'coord', 'squatter')
    const keys = mesh
      .trust()
      .keys.map((entry) =>
        entry.key === q.peerId ? { ...entry, roles: ['client'], capabilities: ['echo'] } : entry,
      )
    const extra = { trust: { keys } as TrustConfig }
    const work = await mesh.start(w, {
      roles: ['supervisor', 'runner'],
      extra,
      options: { runner: { builtins: false, kinds: testKinds(new Gates(), new Executions()) } },
    })
    const trigger = { name: 'every2s', kind: 'cron' as const, schedule: SCHEDULE, workflow: TICKED }
    const coord = await mesh.start(c, {
      roles: ['coordinator'],
      bootstrap: work,
      extra,
      options: { coordinator: { supervisors: [addr(work)], runnerKinds: TEST_KINDS, triggers: [trigger] } },
    })
    const squatter = await mesh.start(q, { roles: [], bootstrap: work, extra })
    await runnerVisible(work, 'echo')

    // The squatter's own registration under the trigger's name: its signature is good, its key may
    // use echo; with it, it signs step `a`'s first attempt of three ticks ahead.
    const registration = createTriggerRegistration(
      { name: 'every2s', kind: 'cron', schedule: SCHEDULE, workflow: TICKED, inputs: {} },
      squatter.node.trust.signer,
    )
    const firstTick = (Math.floor(Date.now() / 2_000) + 3) * 2_000
    const ticks = [firstTick, firstTick + 2_000, firstTick + 4_000]
    const client = mesh.client(squatter, work)
    let taken = 0
    for (const at of ticks) {
      const runId = `cron.every2s.${at}`
      const squat = createJob(
        {
          run: runId,
          step: 'a',
          runner: 'echo',
          payload: 'pwned',
          authority: { trigger: registration, firing: { runId, at } },
        },
        squatter.node.trust.signer,
      )
      expect(squat.id).toBe(`${runId}/a/1`)
      if (
        await submit(client, squat).then(
          () => true,
          () => false,
        )
      )
        taken++
    }

    const coordinator = coordinatorOf(coord)
    for (const at of ticks) {
      const runId = `cron.every2s.${at}`
      await waitFor(() => coordinator.runState(runId), {
        timeoutMs: 20_000,
        what: `tick ${at} to start a run`,
      })
      const view = await coordinator.waitForCompletion(runId, 20_000)
      expect(view.status, runId).toBe('completed')
      expect(step(view, 'a').output, runId).toMatchObject({ payload: 'genuine' })
      expect(JSON.stringify(view)).not.toContain('pwned')
      if (taken > 0) expect(step(view, 'a').attempt, runId).toBe(2)
    }
    // Each squatted id the supervisor held was refused by the coordinator, and counted.
    expect(coordinator.stats().adoptions.refused.untrusted_submitter).toBe(taken)
    expect(coordinator.stats().adoptions.adopted).toBe(0)
  })
})
