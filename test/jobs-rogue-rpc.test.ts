/**
 * Issue 4, acceptance 3 (the RPC half; the gossip half is jobs-gossip.test.ts): a rogue node whose
 * key is in nobody's trust policy sends forged and replayed jobs by RPC. None reaches an executor,
 * and every rejection is counted with its reason.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { adHocJobId, createJob, type JobEnvelope, JobRejectedError } from '../src/protocols/jobs/index.js'
import { RpcError } from '../src/protocols/rpc/index.js'
import { JobMesh, job, result, startRogueMesh, submit } from './jobs-flow-fixtures.js'

const mesh = new JobMesh()
afterEach(() => mesh.cleanup())

describe('a rogue node sending jobs by RPC', () => {
  it('is refused by supervisor and runner; forged and replayed jobs relayed by a client never execute', async () => {
    const { sup, run, cli, rogue, executed } = await startRogueMesh(mesh)

    // The rogue's own calls are refused before any job is looked at.
    const rogueToSup = mesh.client(rogue, sup)
    const rogueToRunner = mesh.client(rogue, run)
    const own = job(rogue, { runner: 'work', payload: 'mine' })
    for (const [client, method] of [
      [rogueToSup, 'supervisor.create_job'],
      [rogueToRunner, 'runner.execute'],
    ] as const) {
      const refused = await client.call(method, { job: own }).catch((err: unknown) => err)
      expect(refused).toBeInstanceOf(RpcError)
      expect((refused as RpcError).code).toBe(-32001)
    }

    // A trusted client relays what the rogue made: each is rejected with its reason.
    const client = mesh.client(cli, sup)
    const good = job(cli, { runner: 'work', payload: 'good' })
    await submit(client, good)
    expect((await result(client, good.id)).status).toBe('succeeded')

    // Trace context travels beside the envelope: garbage there (tracing off here) changes nothing.
    const traced: string[] = []
    for (const traceparent of [
      7,
      { a: 1 },
      'x'.repeat(100_000),
      'garbage',
      `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01`,
    ]) {
      const envelope = job(cli, { runner: 'work', payload: 'traced' })
      await client.call('supervisor.create_job', { job: envelope }, { traceparent: traceparent as string })
      expect((await result(client, envelope.id)).status).toBe('succeeded')
      traced.push(envelope.id)
    }

    const forged: JobEnvelope = { ...good, id: adHocJobId(good.submitter, 'forged'), payload: 'evil' } // signatures no longer match
    const signedByRogue = createJob({ runner: 'work', payload: 'x' }, rogue.node.trust.signer)
    const replayedUnderNewId: JobEnvelope = { ...good, id: adHocJobId(good.submitter, 'replay-1') }
    const reasons: string[] = []
    for (const bad of [forged, signedByRogue, replayedUnderNewId]) {
      const refused = await submit(client, bad).catch((err: unknown) => err)
      expect(refused).toBeInstanceOf(JobRejectedError)
      reasons.push((refused as JobRejectedError).message)
    }
    expect(reasons[0]).toMatch(/bad_signature/)
    expect(reasons[1]).toMatch(/untrusted_key/)
    expect(reasons[2]).toMatch(/bad_signature/)

    // The same envelope again is the same job, answered from the record: it does not run twice.
    const again = await submit(client, good)
    expect(again.jobId).toBe(good.id)

    const stats = sup.node.trust.verifier.stats()
    expect(stats.rejected.bad_signature).toBeGreaterThanOrEqual(2)
    expect(stats.rejected.untrusted_key).toBeGreaterThanOrEqual(1)
    expect(executed).toEqual([good.id, ...traced])
  })
})
