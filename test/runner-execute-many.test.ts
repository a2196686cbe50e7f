/**
 * Batched dispatch: `runner.execute_many` verifies each job of a batch on its own (a forged one is
 * refused alone, with its reason), caps the batch, and sends the executions on the caller's
 * `runner.logs` stream several to an event. The supervisor hands a turn's jobs to a runner that
 * way with every per-job rule intact (cancel, the job's own timeout), and believes an execution
 * only for a job it handed that runner and still waits for.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  adHocJobId,
  createResult,
  type JobEnvelope,
  jobDigest,
  publicKeyHexOfPeer,
  verifyResult,
} from '../src/protocols/jobs/index.js'
import { InvalidParamsError } from '../src/protocols/rpc/index.js'
import type { ExecuteManyItem, RunnerResultsEvent } from '../src/roles/runner/service/wire.js'
import type { CreateJobsItem } from '../src/roles/supervisor/methods.js'
import { waitFor } from '../src/testing/index.js'
import { Gates } from './coordinator-fixtures.js'
import { dispatcherStream, JobMesh, job, result, runnerVisible } from './jobs-flow-fixtures.js'
import { members, tamperingRunner } from './trust-fixtures.js'

const mesh = new JobMesh()
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {})
  await mesh.cleanup()
})

describe('runner.execute_many', () => {
  it('verifies each job alone, refuses a forged one with its reason, and streams the executions together', async () => {
    const [r, d] = await members(mesh, 'run', 'disp')
    const run = await mesh.start(r, {
      roles: ['runner'],
      options: { runner: { builtins: false, kinds: { work: async (j) => ({ done: j.payload }) } } },
    })
    const disp = await mesh.start(d, { roles: [], bootstrap: run })
    const client = mesh.client(disp, run)
    const events = await dispatcherStream(client)

    const good = Array.from({ length: 6 }, (_, i) => job(disp, { runner: 'work', payload: `g${i}` }))
    const first = good[0] as JobEnvelope
    const forged: JobEnvelope = { ...first, id: adHocJobId(first.submitter, 'forged'), payload: 'evil' }
    const { accepted } = await client.call<{ accepted: ExecuteManyItem[] }>('runner.execute_many', {
      jobs: [...good.slice(0, 3), forged, ...good.slice(3)],
    })
    expect(accepted.map((a) => a.ok)).toEqual([true, true, true, false, true, true, true])
    const refusal = accepted[3] as Extract<ExecuteManyItem, { ok: false }>
    expect(refusal.error).toMatchObject({ data: { name: 'JobRejectedError' } })
    expect(refusal.error.message).toMatch(/bad_signature/)

    const resultsOf = (): RunnerResultsEvent['results'] =>
      events.flatMap((e) => (e.type === 'results' ? e.results : []))
    await waitFor(() => resultsOf().length >= good.length, { what: 'the executions' })
    expect(
      resultsOf()
        .map((o) => o.jobId)
        .sort(),
    ).toEqual(good.map((j) => j.id).sort())
    // Executions of one moment travel together.
    expect(events.filter((e) => e.type === 'results').length).toBeLessThan(good.length)
    // So do starts: no `started` event of its own, each job's id named in (or before) the event
    // carrying its execution — and the forged job never started.
    expect(events.some((e) => e.type === 'started')).toBe(false)
    for (const j of good) {
      const startedIn = events.findIndex((e) => e.type === 'results' && (e.started ?? []).includes(j.id))
      const endedIn = events.findIndex((e) => e.type === 'results' && e.results.some((o) => o.jobId === j.id))
      expect(startedIn).toBeGreaterThanOrEqual(0)
      expect(startedIn).toBeLessThanOrEqual(endedIn)
    }
    expect(events.some((e) => e.type === 'results' && (e.started ?? []).includes(forged.id))).toBe(false)
    const runnerKey = publicKeyHexOfPeer(run.peerId) as string
    for (const j of good) {
      const outcome = resultsOf().find((o) => o.jobId === j.id)
      if (outcome === undefined || !('response' in outcome)) throw new Error(`no execution of ${j.id}`)
      const checked = verifyResult(outcome.response.result, {
        job: { jobId: j.id, attempt: j.attempt, digest: jobDigest(j) },
        runner: runnerKey,
      })
      expect(checked.ok).toBe(true)
      expect(outcome.response.replayed).toBe(false)
    }
    expect(resultsOf().some((o) => o.jobId === forged.id)).toBe(false)

    // The same batch again runs nothing twice: each is answered with its execution, replayed.
    const before = resultsOf().length
    const again = await client.call<{ accepted: ExecuteManyItem[] }>('runner.execute_many', { jobs: good })
    expect(again.accepted.every((a) => a.ok)).toBe(true)
    await waitFor(() => resultsOf().length >= before + good.length, { what: 'the replayed executions' })
    expect(
      resultsOf()
        .slice(before)
        .every((o) => 'response' in o && o.response.replayed),
    ).toBe(true)

    // Over the cap: refused as a whole, saying what is wrong, before any job is looked at.
    const tooMany = Array.from({ length: 65 }, () => first)
    const oversized = await client.call('runner.execute_many', { jobs: tooMany }).catch((e: unknown) => e)
    expect(oversized).toBeInstanceOf(InvalidParamsError)
    expect((oversized as Error).message).toMatch(/jobs.*64/)
  })
})

describe('a supervisor dispatching in batches', () => {
  it("hands a turn's jobs to a runner as one execute_many, keeping cancel and each job's timeout", async () => {
    const gates = new Gates()
    const [s, r, c] = await members(mesh, 'sup', 'run', 'cli')
    const sup = await mesh.start(s, { roles: ['supervisor'] })
    const run = await mesh.start(r, {
      roles: ['runner'],
      bootstrap: sup,
      options: {
        runner: {
          builtins: false,
          kinds: {
            work: async (j, ctx) => {
              if (j.payload.startsWith('held')) await gates.wait(j.payload, ctx.signal)
              return { done: j.payload }
            },
          },
        },
      },
    })
    const cli = await mesh.start(c, { roles: [], bootstrap: sup })
    await runnerVisible(sup, 'work', run)
    const batched = run.node.rpc.get('runner.execute_many')
    if (batched?.kind !== 'call') throw new Error('runner.execute_many missing')
    const batchCalls = vi.spyOn(batched.def, 'handler')
    const client = mesh.client(cli, sup)

    const quick = Array.from({ length: 20 }, (_, i) => job(cli, { runner: 'work', payload: `q${i}` }))
    const held = ['held-cancel', 'held-slow', 'held-ok'].map((payload) =>
      job(cli, { runner: 'work', payload, ...(payload === 'held-slow' ? { timeoutMs: 500 } : {}) }),
    )
    const { results } = await client.call<{ results: CreateJobsItem[] }>('supervisor.create_jobs', {
      jobs: [...quick, ...held],
    })
    expect(results.every((item) => item.ok)).toBe(true)
    for (const j of quick) expect((await result(client, j.id)).result?.output).toEqual({ done: j.payload })
    expect(batchCalls).toHaveBeenCalled()
    const sizes = batchCalls.mock.calls.map(([params]) => (params as { jobs: unknown[] }).jobs.length)
    expect(Math.max(...sizes)).toBeGreaterThan(1)

    await waitFor(() => gates.entered.has('held-cancel') && gates.entered.has('held-ok'), {
      what: 'the held jobs to run',
    })
    const cancelled = await client.call<{ status: string }>('supervisor.cancel_job', {
      jobId: (held[0] as JobEnvelope).id,
    })
    expect(cancelled.status).toBe('cancelled')
    // The runner enforces the job's own timeout; the supervisor records what it answered.
    const slow = await result(client, (held[1] as JobEnvelope).id)
    expect(slow.status).toBe('timed_out')
    gates.open('held-ok')
    expect((await result(client, (held[2] as JobEnvelope).id)).status).toBe('succeeded')
    expect((await result(client, (held[0] as JobEnvelope).id)).status).toBe('cancelled')
    // The cancelled job's execution (the runner stopped it) came after the supervisor stopped
    // waiting for it: dropped, and counted as such.
    expect(sup.roles.supervisor?.stats().strayExecutions).toBe(1)
  })

  it('drops an execution a runner sends for a job it was not handed', async () => {
    const gates = new Gates()
    const [s, h, e, c] = await members(mesh, 'sup', 'honest', 'evil', 'cli')
    const sup = await mesh.start(s, { roles: ['supervisor'] })
    const honest = await mesh.start(h, {
      roles: ['runner'],
      bootstrap: sup,
      options: {
        runner: {
          builtins: false,
          kinds: {
            slow: async (j, ctx) => {
              await gates.wait(j.payload, ctx.signal)
              return { by: 'honest' }
            },
          },
        },
      },
    })
    let victim: JobEnvelope | undefined
    const evil = await tamperingRunner(mesh, e, {
      bootstrap: sup,
      kinds: { work: async () => ({ by: 'evil' }) },
      tamper: (_job, response) => response,
      // With the executions of its own batch, an execution for the job running on the honest runner:
      // signed by this runner, bound to that job's envelope, claiming success.
      tamperResults: (outcomes) => {
        const own = outcomes.find((o) => 'response' in o)
        if (victim === undefined || own === undefined || !('response' in own)) return outcomes
        const forgedResult = createResult(
          {
            jobId: victim.id,
            job: jobDigest(victim),
            attempt: victim.attempt,
            status: 'succeeded',
            output: { pwned: true },
            startedAt: Date.now(),
            finishedAt: Date.now(),
          },
          evil.member.node.trust.signer,
        )
        return [...outcomes, { jobId: victim.id, response: { ...own.response, result: forgedResult } }]
      },
    })
    cleanups.push(evil.stop)
    const cli = await mesh.start(c, { roles: [], bootstrap: sup })
    await runnerVisible(sup, 'slow', honest)
    await runnerVisible(sup, 'work', evil.member)
    const client = mesh.client(cli, sup)

    victim = job(cli, { runner: 'slow', payload: 'victim' })
    await client.call('supervisor.create_job', { job: victim })
    await waitFor(() => gates.entered.has('victim'), { what: 'the victim job to run on the honest runner' })
    const bait = Array.from({ length: 4 }, (_, i) => job(cli, { runner: 'work', payload: `w${i}` }))
    await client.call('supervisor.create_jobs', { jobs: bait })
    for (const j of bait) expect((await result(client, j.id)).result?.output).toEqual({ by: 'evil' })

    expect(sup.roles.supervisor?.stats().strayExecutions).toBeGreaterThan(0)
    const meanwhile = await client.call<{ status: string; runner: string }>('supervisor.get_job_status', {
      jobId: victim.id,
    })
    expect(meanwhile).toMatchObject({ status: 'running', runner: honest.peerId })
    gates.open('victim')
    const done = await result(client, victim.id)
    expect(done.result?.output).toEqual({ by: 'honest' })
    expect(done.runner).toBe(honest.peerId)
    expect(sup.roles.supervisor?.stats().results.rejected).toMatchObject({ bad_signature: 0, wrong_job: 0 })
  })
})
