/**
 * Large values on a runner: an output over the result's inline limit is stored as a blob under the
 * digest the signed result names; a job whose input references a blob gets the value, fetched from
 * the peer the reference names and verified; scripts see the run's inputs and the run.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { blobRef } from '../src/protocols/blob/index.js'
import { canonicalJson, outputDigest, verifyResult } from '../src/protocols/jobs/index.js'
import type { ExecuteResponse, KindHandler } from '../src/roles/runner/index.js'
import { JobMesh, job } from './jobs-flow-fixtures.js'

const mesh = new JobMesh()
afterEach(() => mesh.cleanup())

const big = { rows: Array.from({ length: 20_000 }, (_, i) => ({ i, name: `row-${i}` })) }

describe('runner: large outputs and inputs as blobs', () => {
  it('stores a large output as a blob under the signed digest, and resolves a blob input of another job', async () => {
    const [r, s] = [await mesh.member('run'), await mesh.member('sup')]
    const seen: unknown[] = []
    const kinds: Record<string, KindHandler> = {
      produce: async () => big,
      consume: async (j) => {
        seen.push(j.input.data)
        return { count: (j.input.data as typeof big).rows.length }
      },
    }
    const run = await mesh.start(r, { roles: ['runner'], options: { runner: { builtins: false, kinds } } })
    const sup = await mesh.start(s, { roles: [], bootstrap: run })
    const client = mesh.client(sup, run)

    const produced = await client.call<ExecuteResponse>('runner.execute', {
      job: job(sup, { runner: 'produce' }),
    })
    const digest = outputDigest(big)
    expect(produced.result).toMatchObject({ status: 'succeeded', outputDigest: digest })
    expect(produced.result.output).toBeUndefined()
    expect(verifyResult(produced.result).ok).toBe(true)
    const size = Buffer.byteLength(canonicalJson(big))
    expect(size).toBeGreaterThan(256 * 1024)
    expect(await run.node.blobs.store.size(digest)).toBe(size)

    // Another node fetches it the way a coordinator does: from the runner named as source.
    expect(await sup.node.blobs.ensure(blobRef(digest, size, [run.peerId]))).toEqual({ digest, size })
    // A job whose input is the reference gets the value.
    await run.node.blobs.store.delete(digest)
    const consumed = await client.call<ExecuteResponse>('runner.execute', {
      job: job(sup, { runner: 'consume', input: { data: blobRef(digest, size, [sup.peerId]) } }),
    })
    expect(consumed.result).toMatchObject({ status: 'succeeded', output: { count: 20_000 } })
    expect(seen).toEqual([big])
  })

  it('fails the job, retryably, when a blob input cannot be had', async () => {
    const [r, s] = [await mesh.member('run'), await mesh.member('sup')]
    const kinds: Record<string, KindHandler> = { consume: async () => 'never runs' }
    const run = await mesh.start(r, { roles: ['runner'], options: { runner: { builtins: false, kinds } } })
    const sup = await mesh.start(s, { roles: [], bootstrap: run })
    const missing = outputDigest({ nobody: 'has this' })
    const answer = await mesh.client(sup, run).call<ExecuteResponse>('runner.execute', {
      job: job(sup, { runner: 'consume', input: { data: blobRef(missing, 10, [sup.peerId]) } }),
    })
    expect(answer.result).toMatchObject({
      status: 'failed',
      error: { name: 'BlobInputError', retryable: true },
    })
    expect(answer.result.error?.message).toContain(`input blob ${missing}`)
  })

  it('scripts see the run’s inputs and the run besides input and env', async () => {
    const [r, s] = [await mesh.member('run'), await mesh.member('sup')]
    const run = await mesh.start(r, { roles: ['runner'], options: { runner: { builtins: ['sal'] } } })
    const sup = await mesh.start(s, { roles: [], bootstrap: run })
    const answer = await mesh.client(sup, run).call<ExecuteResponse>('runner.execute', {
      job: job(sup, {
        runner: 'sal',
        payload:
          '({ region: inputs.region, failed: run.error.step, id: run.id, mode: env.MODE, up: input.a })',
        input: { a: 1 },
        env: { MODE: 'fast' },
        context: {
          inputs: { region: 'eu' },
          run: { id: 'r1', workflow: 'w', error: { step: 'deploy', type: 'E', message: 'm' } },
        },
      }),
    })
    expect(answer.result).toMatchObject({
      status: 'succeeded',
      output: { region: 'eu', failed: 'deploy', id: 'r1', mode: 'fast', up: 1 },
    })
  })
})
