/**
 * Acceptance 2: hostile `sal` scripts sent through a supervisor end with a clear error in their
 * signed result, and the runner keeps serving: a normal job afterwards (and alongside) succeeds.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { JobMesh, job, result, runnerVisible, submit } from './jobs-flow-fixtures.js'

const mesh = new JobMesh()
afterEach(() => mesh.cleanup())

interface Hostile {
  name: string
  payload: string
  status: 'failed' | 'timed_out'
  error: string
  message: RegExp
  /** The job's own timeout (default 3 s, the one the infinite loop must hit). */
  timeoutMs?: number
}

const HOSTILE: Hostile[] = [
  {
    name: 'infinite loop',
    payload: 'while (true) {}',
    status: 'timed_out',
    error: 'JobTimeoutError',
    message: /timed out after 3000 ms/,
  },
  {
    name: 'memory bomb',
    payload: 'let a = []; while (true) a.push("x".repeat(1 << 20) + a.length)',
    // The memory limit must be what stops it, on however loaded a machine: not the job's timeout.
    timeoutMs: 60_000,
    status: 'failed',
    error: 'ScriptMemoryError',
    message: /memory limit/,
  },
  {
    name: 'deep recursion',
    payload: 'function f(n) { return f(n + 1) + 1 }\nf(0)',
    status: 'failed',
    error: 'ScriptStackOverflowError',
    message: /recursion too deep/,
  },
  {
    name: 'process',
    payload: 'process.exit(1)',
    status: 'failed',
    error: 'ScriptError',
    message: /'process' is not defined/,
  },
  {
    name: 'require',
    payload: 'require("node:fs").readFileSync("/etc/passwd", "utf8")',
    status: 'failed',
    error: 'ScriptError',
    message: /'require' is not defined/,
  },
  {
    // The Function constructor builds functions inside QuickJS, whose global has no `process`.
    name: 'globalThis escape',
    payload:
      'globalThis.constructor.constructor("return this.process")().mainModule.require("child_process")',
    status: 'failed',
    error: 'ScriptError',
    message: /cannot read property 'mainModule' of undefined/,
  },
  {
    name: 'file outside the work dir',
    payload: 'fs.read("../../../../../etc/passwd")',
    status: 'failed',
    error: 'PathOutsideWorkDirError',
    message: /outside the job's work directory/,
  },
]

describe('hostile scripts', () => {
  it('each ends with a clear error, and the runner keeps serving', async () => {
    const [s, r, c] = [await mesh.member('sup'), await mesh.member('run'), await mesh.member('cli')]
    const sup = await mesh.start(s, { roles: ['supervisor'] })
    const run = await mesh.start(r, {
      roles: ['runner'],
      bootstrap: sup,
      options: { runner: { concurrency: 8 } },
    })
    const cli = await mesh.start(c, { roles: [], bootstrap: sup })
    await runnerVisible(sup, 'sal', run)
    const client = mesh.client(cli, sup)

    const jobs = HOSTILE.map((h) => ({
      ...h,
      envelope: job(cli, { runner: 'sal', payload: h.payload, timeoutMs: h.timeoutMs ?? 3_000 }),
    }))
    const healthy = job(cli, { runner: 'sal', payload: '[1, 2, 3].map((x) => x * 2)' })
    for (const j of jobs) await submit(client, j.envelope)
    await submit(client, healthy)

    for (const j of jobs) {
      const answer = await result(client, j.envelope.id)
      expect(answer.status, `${j.name}: ${JSON.stringify(answer.result?.error)}`).toBe(j.status)
      expect(answer.result?.error?.name, j.name).toBe(j.error)
      expect(answer.result?.error?.message, j.name).toMatch(j.message)
      expect(answer.runner).toBe(run.peerId)
    }
    expect((await result(client, healthy.id)).result?.output).toEqual([2, 4, 6])

    const after = job(cli, { runner: 'sal', payload: '"still serving"' })
    await submit(client, after)
    const answer = await result(client, after.id)
    expect(answer.status).toBe('succeeded')
    expect(answer.result?.output).toBe('still serving')
  })
})

describe('hostile osiris scripts against the byte caps', () => {
  it('fail with the cap and the size named, and the runner keeps serving', async () => {
    const [s, r, c] = [await mesh.member('sup'), await mesh.member('run'), await mesh.member('cli')]
    const sup = await mesh.start(s, { roles: ['supervisor'] })
    const run = await mesh.start(r, { roles: ['runner'], bootstrap: sup })
    const cli = await mesh.start(c, { roles: [], bootstrap: sup })
    await runnerVisible(sup, 'osiris', run)
    const client = mesh.client(cli, sup)
    const record = job(cli, {
      runner: 'osiris',
      payload: 'osiris.model("big").create({ blob: "x".repeat(2 * 1024 * 1024) })',
    })
    const listing = job(cli, {
      runner: 'osiris',
      payload:
        'const m = osiris.model("many"); for (let i = 0; i < 9; i++) m.create({ blob: "y".repeat(1000 * 1000) }); m.list().length',
    })
    for (const envelope of [record, listing]) await submit(client, envelope)
    const tooBig = await result(client, record.id)
    expect(tooBig.result?.error?.name).toBe('OsirisRecordTooLargeError')
    expect(tooBig.result?.error?.message).toMatch(
      /is 20971\d\d bytes of JSON, more than the limit of 1048576 bytes \(runner\.osiris\.maxRecordBytes\)/,
    )
    const tooMuch = await result(client, listing.id)
    expect(tooMuch.result?.error?.name).toBe('OsirisResultTooLargeError')
    expect(tooMuch.result?.error?.message).toMatch(
      /would return more than 8388608 bytes \(runner\.osiris\.maxResultBytes\): \d+ bytes after 9 record/,
    )
    const after = job(cli, { runner: 'osiris', payload: 'osiris.model("many").list({ limit: 2 }).length' })
    await submit(client, after)
    expect((await result(client, after.id)).result?.output).toBe(2)
  })
})
