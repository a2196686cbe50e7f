/**
 * Issue 10, part A — a result is only as good as its signer. A trusted-but-malicious runner and a
 * trusted-but-malicious supervisor (real services whose answers are rewritten on the way out) try
 * forged outputs, results signed by another key, results of other jobs, and a runner whose key
 * was revoked while it worked. The supervisor, the coordinator and the SDK each refuse them with a
 * typed reason and count them; `{ pwned: true }` never becomes a job result or a step output.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { HorusClient, ResultRefusedError } from '../src/client/index.js'
import {
  createResult,
  generateSigner,
  type JobResult,
  peerIdFromPublicKeyHex,
  signerKeyHex,
  type TrustConfig,
} from '../src/protocols/jobs/index.js'
import type { JobResultView } from '../src/roles/supervisor/index.js'
import { waitFor } from '../src/testing/index.js'
import {
  coordinatorOf,
  Gates,
  JobMesh,
  type RunningMember,
  runnerVisible,
  step,
  waitForStatus,
} from './coordinator-fixtures.js'
import { job, result, submit } from './jobs-flow-fixtures.js'
import { addr, members, tamperingRunner, tamperingSupervisor } from './trust-fixtures.js'

const mesh = new JobMesh()
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {})
  await mesh.cleanup()
})

const stranger = generateSigner()
const strangerPeer = peerIdFromPublicKeyHex(signerKeyHex(stranger)).toString()
const PWNED = { pwned: true }

/** What a malicious supervisor does to a result (by the job's payload), and the reason it earns. */
const FORGERIES: Record<string, string> = {
  replay: 'wrong_job',
  forge: 'bad_signature',
  accomplice: 'not_dispatched_runner',
  stranger: 'untrusted_runner',
}

/** The same result with another output and its signature kept: a forgery. */
function forged(result: JobResult): JobResult {
  const { outputDigest: _digest, ...rest } = result
  return { ...rest, output: PWNED }
}

/** A result for `result`'s job signed by the stranger (correct job, id and digest, wrong key). */
function signedByStranger(result: JobResult): JobResult {
  return createResult(
    {
      jobId: result.jobId,
      job: result.job,
      attempt: result.attempt,
      status: 'succeeded',
      output: PWNED,
      startedAt: result.startedAt,
      finishedAt: result.finishedAt,
    },
    stranger,
  )
}

describe('a malicious runner', () => {
  it("fails each job it forges a result for, at the supervisor, with the result's reason", async () => {
    const gates = new Gates()
    const [s, e, k] = await members(mesh, 'sup', 'evil', 'cli')
    const sup = await mesh.start(s, { roles: ['supervisor'] })
    let honest: JobResult | undefined
    const evil = await tamperingRunner(mesh, e, {
      bootstrap: sup,
      kinds: {
        echo: async (j, ctx) => {
          if (j.payload === 'held') await gates.wait('held', ctx.signal)
          return { echo: j.payload }
        },
      },
      tamper: (j, response) => {
        const own = response.result
        switch (j.payload) {
          case 'honest':
            honest = own
            return response
          case 'replay': // another job's genuine result
            return { ...response, result: honest as JobResult }
          case 'rebind': // this id and attempt, signed by this runner, bound to another envelope
            return {
              ...response,
              result: createResult(
                { ...own, job: (honest as JobResult).job, output: PWNED },
                evil.member.node.trust.signer,
              ),
            }
          case 'forge':
            return { ...response, result: forged(own) }
          case 'accomplice':
            return { ...response, result: signedByStranger(own) }
          default:
            return response
        }
      },
    })
    cleanups.push(evil.stop)
    const cli = await mesh.start(k, { roles: [], bootstrap: sup })
    await runnerVisible(sup, 'echo', evil.member)
    const client = mesh.client(cli, sup)

    const good = job(cli, { runner: 'echo', payload: 'honest' })
    await submit(client, good)
    expect((await result(client, good.id)).result?.output).toEqual({ echo: 'honest' })

    const expected: Record<string, string> = {
      replay: 'wrong_job',
      rebind: 'wrong_job',
      forge: 'bad_signature',
      accomplice: 'not_dispatched_runner',
    }
    for (const [payload, reason] of Object.entries(expected)) {
      const bad = job(cli, { runner: 'echo', payload })
      await submit(client, bad)
      const answer = await result(client, bad.id)
      expect(answer, payload).toMatchObject({ status: 'failed', error: { name: 'InvalidResult' } })
      expect(answer.error?.message, payload).toMatch(new RegExp(`^${reason}: `))
      expect(answer.result).toBeUndefined()
    }

    // A runner revoked while it works: its result arrives signed by a key no longer trusted.
    const held = job(cli, { runner: 'echo', payload: 'held' })
    await submit(client, held)
    await waitFor(() => gates.entered.has('held'), { what: 'the held job to run' })
    sup.node.trust.update({ keys: mesh.trust().keys.filter((entry) => entry.key !== evil.member.peerId) })
    gates.open('held')
    const revoked = await result(client, held.id)
    expect(revoked.error?.message).toMatch(/^untrusted_runner: /)

    expect(sup.roles.supervisor?.stats().results).toEqual({
      accepted: 1,
      rejected: {
        malformed: 0,
        too_large: 0,
        bad_signature: 1,
        untrusted_runner: 1,
        not_dispatched_runner: 1,
        wrong_job: 2,
      },
    })
    const jobs = await client.call<unknown[]>('supervisor.list_jobs', {})
    expect(jobs).toHaveLength(6)
    expect(JSON.stringify(await Promise.all([good, held].map((j) => result(client, j.id))))).not.toContain(
      'pwned',
    )
  })
})

describe('a malicious supervisor', () => {
  async function setup(): Promise<{
    run: RunningMember
    evil: RunningMember
    coord: RunningMember
    sdkDir: string
  }> {
    const [r, e, c, d] = await members(mesh, 'run', 'evilsup', 'coord', 'sdk')
    const run = await mesh.start(r, {
      roles: ['runner'],
      options: { runner: { builtins: false, kinds: { echo: async (j) => ({ echo: j.payload }) } } },
    })
    let honest: JobResultView | undefined
    const payloadOf = (jobId: string): string | undefined => supervisor.service.findRecord(jobId)?.job.payload
    const supervisor = await tamperingSupervisor(mesh, e, {
      bootstrap: run,
      tamper: (view) => {
        const { result: own } = view
        if (own === undefined) return view
        switch (payloadOf(view.jobId)) {
          case 'honest':
            honest = view
            return view
          case 'replay':
            return { ...view, result: honest?.result as JobResult }
          case 'forge':
            return { ...view, result: forged(own) }
          case 'accomplice':
            return { ...view, result: signedByStranger(own) }
          case 'stranger':
            return { ...view, runner: strangerPeer, result: signedByStranger(own) }
          case 'envelope':
            return view.job === undefined ? view : { ...view, job: { ...view.job, payload: 'rewritten' } }
          default:
            return view
        }
      },
    })
    cleanups.push(supervisor.stop)
    const coord = await mesh.start(c, {
      roles: ['coordinator'],
      bootstrap: run,
      options: { coordinator: { supervisors: [addr(supervisor.member)], runnerKinds: ['echo'] } },
    })
    await waitFor(() => supervisor.service.runners().some((x) => x.peerId === run.peerId), {
      what: 'the supervisor to see the runner',
    })
    await waitFor(() => coord.node.liveness.get(supervisor.member.peerId)?.roles.includes('supervisor'), {
      what: 'the coordinator to hear the supervisor',
    })
    return { run, evil: supervisor.member, coord, sdkDir: d.dataDir }
  }

  it("cannot make a forged or misattributed result a step's output", async () => {
    const { coord } = await setup()
    const coordinator = coordinatorOf(coord)
    const warm = await coordinator.submit({
      workflow: { name: 'warm', steps: [{ id: 'w', runner: 'echo', payload: 'honest' }] },
    })
    expect((await waitForStatus(coordinator, warm, ['completed', 'failed'])).status).toBe('completed')
    const runId = await coordinator.submit({
      workflow: {
        name: 'attacked',
        steps: Object.keys(FORGERIES).map((id) => ({
          id,
          runner: 'echo',
          payload: id,
          continue_on_failure: true,
        })),
      },
    })
    const view = await waitForStatus(coordinator, runId, ['completed', 'failed', 'cancelled'])
    for (const [id, reason] of Object.entries(FORGERIES)) {
      const s = step(view, id)
      expect(s.state, id).toBe('failed')
      expect(s.output, id).toBeUndefined()
      expect(s.error, id).toMatchObject({ name: 'InvalidResult' })
      expect(s.error?.message, id).toMatch(new RegExp(`^${reason}: `))
    }
    expect(JSON.stringify(view)).not.toContain('pwned')
    expect(coordinator.stats().results).toEqual({
      accepted: 1,
      rejected: {
        malformed: 0,
        too_large: 0,
        bad_signature: 1,
        untrusted_runner: 1,
        not_dispatched_runner: 1,
        wrong_job: 1,
      },
    })
  })

  it('cannot hand the SDK a forged, misattributed or rebound result', async () => {
    const { coord, run, sdkDir } = await setup()
    const client = await HorusClient.connect({ bootstrap: [addr(coord)], identity: sdkDir })
    cleanups.push(() => client.close())
    const create = async (payload: string) =>
      (await client.createJob({ runner: 'echo', payload, timeoutMs: 10_000 })).jobId
    const honest = await create('honest')
    expect((await client.waitForJob(honest)).result?.output).toEqual({ echo: 'honest' })
    for (const [payload, reason] of Object.entries(FORGERIES)) {
      const id = await create(payload)
      const refused = await client.waitForJob(id).catch((err: unknown) => err)
      expect(refused, payload).toBeInstanceOf(ResultRefusedError)
      expect((refused as ResultRefusedError).reason, payload).toBe(reason)
    }

    // A client that did not create the job (another process, same key) gets the envelope from the
    // supervisor and checks it too: signed by the submitter, and the one the result is bound to.
    const envelope = await create('envelope')
    await client.waitForJob(envelope).catch(() => {})
    const other = await HorusClient.connect({ bootstrap: [addr(coord)], identity: sdkDir })
    cleanups.push(() => other.close())
    expect((await other.getJobResult(honest)).result?.output).toEqual({ echo: 'honest' })
    const rewritten = await other.getJobResult(envelope).catch((err: unknown) => err)
    expect(rewritten).toBeInstanceOf(ResultRefusedError)
    expect((rewritten as ResultRefusedError).message).toMatch(/does not verify/)

    // With a policy of its own that does not list the runner, the client believes none of its results.
    const strict = await HorusClient.connect({
      bootstrap: [addr(coord)],
      identity: sdkDir,
      trust: {
        keys: mesh
          .trust()
          .keys.map((entry) => (entry.key === run.peerId ? { ...entry, roles: ['client'] } : entry)),
      } as TrustConfig,
    })
    cleanups.push(() => strict.close())
    const untrusted = await strict.getJobResult(honest).catch((err: unknown) => err)
    expect((untrusted as ResultRefusedError).reason).toBe('untrusted_runner')
  })
})
