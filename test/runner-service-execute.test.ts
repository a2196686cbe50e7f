/**
 * The runner's RPC surface called directly, as a supervisor would: at most once per job id (also
 * across a runner restart), who may call, what it announces, and streamed logs.
 */
import { Key } from 'interface-datastore'
import { afterEach, describe, expect, it } from 'vitest'
import { capabilityCid, findProviders } from '../src/protocols/capabilities/index.js'
import { JobRejectedError, verifyResult } from '../src/protocols/jobs/index.js'
import { UnauthorizedError } from '../src/protocols/rpc/index.js'
import type {
  ExecuteResponse,
  KindHandler,
  RunnerDescription,
  RunnerJobEvent,
} from '../src/roles/runner/index.js'
import type { ExecuteManyItem, ExecuteOutcome, RunnerStreamEvent } from '../src/roles/runner/service/wire.js'
import { waitFor } from '../src/testing/index.js'
import { dispatcherStream, JobMesh, job } from './jobs-flow-fixtures.js'

const mesh = new JobMesh()
afterEach(() => mesh.cleanup())

function counted(): { kind: KindHandler; runs: () => number } {
  let runs = 0
  return {
    kind: async (j, ctx) => {
      runs++
      ctx.log(`line one of ${j.id}`)
      ctx.log('line two')
      return { n: runs }
    },
    runs: () => runs,
  }
}

/** A `hold` kind whose jobs run until `release` or until cancelled, and say which. */
function holding(): { kinds: { hold: KindHandler }; release: () => void } {
  let release = (): void => undefined
  const held = new Promise<void>((resolve) => {
    release = resolve
  })
  const kinds: { hold: KindHandler } = {
    hold: async (_j, ctx) => {
      await Promise.race([held, new Promise((resolve) => ctx.signal.addEventListener('abort', resolve))])
      return { aborted: ctx.signal.aborted }
    },
  }
  return { kinds, release: () => release() }
}

describe('runner service', () => {
  it('executes a job id once: a repeat, and a repeat after a restart, get the same signed result', async () => {
    const [r, s] = [await mesh.member('run'), await mesh.member('sup')]
    const counter = counted()
    const options = { runner: { builtins: false as const, kinds: { count: counter.kind } } }
    let run = await mesh.start(r, { roles: ['runner'], options })
    const sup = await mesh.start(s, { roles: [], bootstrap: run })
    let client = mesh.client(sup, run)
    const envelope = job(sup, { runner: 'count' })

    const first = await client.call<ExecuteResponse>('runner.execute', { job: envelope })
    expect(first.replayed).toBe(false)
    expect(first.result).toMatchObject({ jobId: envelope.id, status: 'succeeded', output: { n: 1 } })
    expect(first.logs).toEqual([`line one of ${envelope.id}`, 'line two'])
    expect(verifyResult(first.result, { runner: run.node.identity.publicKeyHex }).ok).toBe(true)
    const second = await client.call<ExecuteResponse>('runner.execute', { job: envelope })
    expect(second).toEqual({ ...first, replayed: true })

    await mesh.stop(run)
    run = await mesh.start(r, { roles: ['runner'], options })
    client = mesh.client(sup, run)
    const third = await client.call<ExecuteResponse>('runner.execute', { job: envelope })
    expect(third).toEqual({ ...first, replayed: true })
    expect(counter.runs()).toBe(1)

    // Its nonce gone from the replay cache too (a supervisor record that held it was unreadable):
    // the result kept here still answers it.
    await mesh.stop(run)
    const replayKey = new Key(`/horus/replay/${envelope.submitter}/${envelope.nonce}`)
    await run.node.datastore.open()
    expect(await run.node.datastore.has(replayKey)).toBe(true)
    await run.node.datastore.delete(replayKey)
    await run.node.datastore.close()
    run = await mesh.start(r, { roles: ['runner'], options })
    client = mesh.client(sup, run)
    const fourth = await client.call<ExecuteResponse>('runner.execute', { job: envelope })
    expect(fourth).toEqual({ ...first, replayed: true })
    expect(counter.runs()).toBe(1)
  })

  it('answers a job its node’s supervisor may only have answered, never running it (answerOnly)', async () => {
    const r = await mesh.member('run')
    const counter = counted()
    const run = await mesh.start(r, {
      roles: ['runner'],
      options: { runner: { builtins: false, kinds: { count: counter.kind } } },
    })
    const service = run.roles.runner
    if (service === undefined) throw new Error('no runner role')
    const envelope = job(run, { runner: 'count' })
    const refused = await service
      .execute(envelope, { trusted: true, dispatcher: run.peerId, answerOnly: true })
      .catch((err: unknown) => err)
    expect(refused).toBeInstanceOf(JobRejectedError)
    expect((refused as Error).message).toMatch(/cannot be answered without running it again/)
    expect(counter.runs()).toBe(0)
    const ran = await service.execute(envelope, { trusted: true, dispatcher: run.peerId })
    expect(ran.result.status).toBe('succeeded')
    const answered = await service.execute(envelope, {
      trusted: true,
      dispatcher: run.peerId,
      answerOnly: true,
    })
    expect(answered).toEqual({ ...ran, replayed: true })
    expect(counter.runs()).toBe(1)
  })

  it('lets a supervisor cancel only a job it dispatched here, not one another supervisor did', async () => {
    const [r, a, b] = [await mesh.member('run'), await mesh.member('sup-a'), await mesh.member('sup-b')]
    const { kinds, release } = holding()
    const run = await mesh.start(r, { roles: ['runner'], options: { runner: { builtins: false, kinds } } })
    const [supA, supB] = [
      await mesh.start(a, { roles: [], bootstrap: run }),
      await mesh.start(b, { roles: [], bootstrap: run }),
    ]
    try {
      const [clientA, clientB] = [mesh.client(supA, run), mesh.client(supB, run)]
      const envelope = job(supA, { runner: 'hold' })
      const execution = clientA.call<ExecuteResponse>('runner.execute', { job: envelope })
      await waitFor(() => run.roles.runner?.describe().load.running === 1, { what: 'the job to run' })
      // Trusted as a supervisor too, but no owner of this job: refused, and the job runs on.
      expect(await clientB.call('runner.cancel', { jobId: envelope.id })).toBe(false)
      expect(run.roles.runner?.describe().load.running).toBe(1)
      expect(await clientA.call('runner.cancel', { jobId: envelope.id })).toBe(true)
      expect((await execution).result.status).toBe('cancelled')
    } finally {
      release()
    }
  })

  it('keeps running a job another supervisor also follows when the first releases it, and stops it for both on a cancel', async () => {
    const [r, a] = [await mesh.member('run'), await mesh.member('sup-a')]
    const { kinds, release } = holding()
    const later = holding()
    const run = await mesh.start(r, {
      roles: ['runner'],
      options: { runner: { builtins: false, kinds: { ...kinds, later: later.kinds.hold } } },
    })
    const supA = await mesh.start(a, { roles: [], bootstrap: run })
    const service = run.roles.runner
    if (service === undefined) throw new Error('no runner role')
    try {
      const clientA = mesh.client(supA, run)
      const envelope = job(supA, { runner: 'hold' })
      void clientA.call<ExecuteResponse>('runner.execute', { job: envelope }).catch(() => undefined)
      await waitFor(() => service.describe().load.running === 1, { what: 'the job to run' })
      // The node's own supervisor took the same envelope (A was lost to its coordinator) and
      // follows the execution: attached at once, before the call's first await.
      const followed = service.execute(envelope, { trusted: true, dispatcher: run.peerId, answerOnly: true })
      // A gives its copy up (its coordinator moved the job): the node's supervisor's still runs.
      expect(await clientA.call('runner.cancel', { jobId: envelope.id, release: true })).toBe(true)
      expect(service.describe().load.running).toBe(1)
      release()
      const answer = await followed
      expect(answer.result).toMatchObject({ status: 'succeeded', output: { aborted: false } })
      expect(answer.replayed).toBe(true)

      // A cancel (a user's, through A) stops a job both follow, for both.
      const next = job(supA, { runner: 'later' })
      const first = clientA.call<ExecuteResponse>('runner.execute', { job: next })
      await waitFor(() => service.describe().load.running === 1, { what: 'the next job to run' })
      const second = service.execute(next, { trusted: true, dispatcher: run.peerId, answerOnly: true })
      expect(await clientA.call('runner.cancel', { jobId: next.id })).toBe(true)
      expect((await first).result.status).toBe('cancelled')
      expect((await second).result.status).toBe('cancelled')
    } finally {
      release()
      later.release()
    }
  })

  it('admits only supervisors, and only jobs its policy trusts', async () => {
    const [r, s, s2] = [await mesh.member('run'), await mesh.member('sup'), await mesh.member('sup2')]
    // `sup` holds only the client role in the runner's policy: it may submit jobs, not hand them to runners.
    const trust = mesh.trust()
    trust.keys = trust.keys.map((k) => (k.key === s.peerId ? { ...k, roles: ['client'] } : k))
    const run = await mesh.start(r, { roles: ['runner'], extra: { trust } })
    const sup = await mesh.start(s, { roles: [], bootstrap: run })
    const client = mesh.client(sup, run)
    const envelope = job(sup, { runner: 'sal', payload: '1' })
    await expect(client.call('runner.execute', { job: envelope })).rejects.toBeInstanceOf(UnauthorizedError)
    // Tampered after signing: refused with the verifier's reason, never executed.
    const allowed = await mesh.start(s2, { roles: [], bootstrap: run })
    const forged = { ...job(allowed, { runner: 'sal', payload: '1' }), payload: '2' }
    const refused = await mesh
      .client(allowed, run)
      .call('runner.execute', { job: forged })
      .catch((err: unknown) => err)
    expect(refused).toBeInstanceOf(JobRejectedError)
    expect((refused as Error).message).toMatch(/bad_signature/)
  })

  it('describes itself, provides its capabilities in the DHT, and streams log lines', async () => {
    const [r, s] = [await mesh.member('run'), await mesh.member('sup')]
    const counter = counted()
    const run = await mesh.start(r, {
      roles: ['runner'],
      options: { runner: { kinds: { count: counter.kind }, functions: { process_data: (x) => x } } },
    })
    const sup = await mesh.start(s, { roles: [], bootstrap: run })
    const client = mesh.client(sup, run)
    const description = await client.call<RunnerDescription>('runner.describe', {})
    expect(description.capabilities.sort()).toEqual(['count', 'hero', 'osiris', 'sal'])
    expect(description.functions).toEqual(['process_data'])
    expect(description.publicKey).toBe(run.node.identity.publicKeyHex)

    const cid = await capabilityCid('count')
    const providers = await waitFor(
      async () => {
        const found = await findProviders(sup.node.libp2p, cid, { signal: AbortSignal.timeout(2_000) })
        return found.some((p) => p.id.toString() === run.peerId) ? found : undefined
      },
      { what: 'the runner to provide "count" in the DHT' },
    )
    expect(providers.length).toBeGreaterThan(0)

    const envelope = job(sup, { runner: 'count' })
    const events = client.subscribe<RunnerJobEvent>('runner.logs', { jobId: envelope.id })
    await events.id
    await client.call('runner.execute', { job: envelope })
    const seen: RunnerJobEvent[] = []
    for await (const event of events) {
      seen.push(event)
      if (seen.length === 3) break
    }
    expect(seen.map((e) => [e.type, e.line])).toEqual([
      ['started', undefined],
      ['log', `line one of ${envelope.id}`],
      ['log', 'line two'],
    ])
  })

  it('a second caller sending a running job again gets its lines from then on, and the first keeps its stream', async () => {
    const [r, s1, s2] = [await mesh.member('run'), await mesh.member('sup1'), await mesh.member('sup2')]
    let release!: () => void
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    const gated: KindHandler = async (_j, ctx) => {
      ctx.log('before')
      await released
      ctx.log('after')
      return 'done'
    }
    const run = await mesh.start(r, {
      roles: ['runner'],
      options: { runner: { builtins: false, kinds: { gated } } },
    })
    const [sup1, sup2] = [
      await mesh.start(s1, { roles: [], bootstrap: run }),
      await mesh.start(s2, { roles: [], bootstrap: run }),
    ]
    const lines = (events: RunnerStreamEvent[]): unknown[] =>
      events.filter((e) => e.type === 'log').map((e) => (e as RunnerJobEvent).line)
    const [first, second] = [mesh.client(sup1, run), mesh.client(sup2, run)]
    const [firstStream, secondStream] = [await dispatcherStream(first), await dispatcherStream(second)]

    const envelope = job(sup1, { runner: 'gated' })
    const firstCall = first.call<ExecuteResponse>('runner.execute', { job: envelope })
    await waitFor(() => lines(firstStream).length === 1, {
      what: "the first line on the first caller's stream",
    })
    // The same envelope from another supervisor: attached to the execution in progress.
    const { accepted } = await second.call<{ accepted: ExecuteManyItem[] }>('runner.execute_many', {
      jobs: [envelope],
    })
    expect(accepted).toEqual([{ ok: true }])
    release()

    const answer = await firstCall
    expect(answer).toMatchObject({ replayed: false, logs: ['before', 'after'] })
    const replayed = await waitFor(
      () =>
        secondStream
          .flatMap((e) => (e.type === 'results' ? e.results : []))
          .find((o) => o.jobId === envelope.id),
      { what: "the execution on the second caller's stream" },
    )
    expect(replayed).toMatchObject({ response: { replayed: true, logs: ['before', 'after'] } })
    expect(lines(secondStream)).toEqual(['after'])
    await waitFor(() => lines(firstStream).length === 2, {
      what: "the second line on the first caller's stream",
    })
    expect(lines(firstStream)).toEqual(['before', 'after'])
  })

  it('still emits job:event and job:outcome to outside listeners, and a listener that throws fails neither the job nor the stream', async () => {
    const [r, s] = [await mesh.member('run'), await mesh.member('sup')]
    const counter = counted()
    const run = await mesh.start(r, {
      roles: ['runner'],
      options: { runner: { builtins: false, kinds: { count: counter.kind } } },
    })
    const sup = await mesh.start(s, { roles: [], bootstrap: run })
    const service = run.roles.runner
    if (service === undefined) throw new Error('the runner role did not start')
    const outside: RunnerJobEvent[] = []
    const outcomes: Array<{ dispatcher: string; outcome: ExecuteOutcome }> = []
    service.addEventListener('job:event', (evt) => outside.push(evt.detail))
    service.addEventListener('job:outcome', (evt) => outcomes.push(evt.detail))
    const detachThrowing = service.watch({ dispatcher: sup.peerId }, () => {
      throw new Error('a watcher that throws')
    })
    const client = mesh.client(sup, run)
    const stream = await dispatcherStream(client)

    const envelope = job(sup, { runner: 'count' })
    const { accepted } = await client.call<{ accepted: ExecuteManyItem[] }>('runner.execute_many', {
      jobs: [envelope],
    })
    expect(accepted).toEqual([{ ok: true }])
    const execution = await waitFor(
      () =>
        stream.flatMap((e) => (e.type === 'results' ? e.results : [])).find((o) => o.jobId === envelope.id),
      { what: 'the execution on the stream' },
    )
    expect(execution).toMatchObject({ response: { result: { status: 'succeeded', output: { n: 1 } } } })
    // The stream carried the start in its batch, and the lines one by one, despite the throwing watcher.
    expect(stream.some((e) => e.type === 'results' && (e.started ?? []).includes(envelope.id))).toBe(true)
    expect(stream.filter((e) => e.type === 'log').map((e) => (e as RunnerJobEvent).line)).toEqual([
      `line one of ${envelope.id}`,
      'line two',
    ])
    expect(outside.map((e) => [e.jobId, e.type, e.line])).toEqual([
      [envelope.id, 'started', undefined],
      [envelope.id, 'log', `line one of ${envelope.id}`],
      [envelope.id, 'log', 'line two'],
    ])
    expect(outcomes).toHaveLength(1)
    expect(outcomes[0]).toMatchObject({ dispatcher: sup.peerId, outcome: { jobId: envelope.id } })
    detachThrowing()
  })

  it('refuses another job under the id of one it runs or ran, instead of answering it with that one’s output', async () => {
    const r = await mesh.member('run')
    const { kinds, release } = holding()
    const run = await mesh.start(r, { roles: ['runner'], options: { runner: { builtins: false, kinds } } })
    const service = run.roles.runner
    if (service === undefined) throw new Error('no runner role')
    try {
      // Two copies of one step under its id, as two coordinators would sign them: other nonces.
      const step = { run: 'run-1', step: 'step', attempt: 1, runner: 'hold' }
      const first = job(run, { ...step, payload: 'first' })
      const second = job(run, { ...step, payload: 'second' })
      expect(second.id).toBe(first.id)
      const running = service.execute(first, { trusted: true, dispatcher: run.peerId })
      await waitFor(() => service.describe().load.running === 1, { what: 'the first copy to run' })
      await expect(service.execute(second, { trusted: true, dispatcher: run.peerId })).rejects.toThrow(
        /is running here for another job/,
      )
      release()
      expect((await running).result.status).toBe('succeeded')
      await expect(service.execute(second, { trusted: true, dispatcher: run.peerId })).rejects.toThrow(
        /was run here for another job that has not expired/,
      )
      // The first copy itself is still answered with its own result.
      expect((await service.execute(first, { trusted: true, dispatcher: run.peerId })).replayed).toBe(true)
    } finally {
      release()
    }
  })
})
