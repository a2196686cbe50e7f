import { access, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LevelDatastore } from 'datastore-level'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import {
  createJobExecutor,
  InvalidJobError,
  type JobContext,
  type JobExecutor,
  RunnerBusyError,
  UnknownKindError,
} from '../src/roles/runner/execution/index.js'
import { builtinKinds } from '../src/roles/runner/kinds/index.js'
import { job, startHttpServer, waitFor } from './runner-fixtures.js'

/** The seed workflow, byte for byte as in the shared fixtures (data-pipeline.yaml). */
const SEED_PIPELINE = `workflow:
  name: "data-pipeline"
  steps:
    - id: "fetch"
      runner: "hero"
      payload: "!!http.get url:'https://api.example.com/data'"
    - id: "process"
      runner: "sal"
      depends_on: ["fetch"]
      payload: |
        let data = input.fetch;
        let processed = process_data(data);
        processed
    - id: "store"
      runner: "osiris"
      depends_on: ["process"]
      payload: |
        let model = osiris.model("results");
        model.create(input.process);
`

/** A custom kind whose jobs wait until the test releases them, recording how many run at once. */
function gate() {
  const releases: Array<() => void> = []
  let running = 0
  let maxRunning = 0
  let calls = 0
  const handler = async (_job: unknown, ctx: JobContext): Promise<string> => {
    calls++
    running++
    maxRunning = Math.max(maxRunning, running)
    try {
      await new Promise<void>((resolve, reject) => {
        releases.push(resolve)
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true })
      })
      return 'released'
    } finally {
      running--
    }
  }
  return {
    handler,
    releaseAll: () => {
      for (const release of releases.splice(0)) release()
    },
    waiting: () => releases.length,
    stats: () => ({ maxRunning, calls }),
  }
}

describe('job executor', () => {
  let executor: JobExecutor | undefined
  let base: string

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'horus-executor-test-'))
  })

  afterEach(async () => {
    await executor?.stop()
    executor = undefined
    await rm(base, { recursive: true, force: true })
  })

  it('honours the concurrency limit, queues beyond it and refuses past the queue length', async () => {
    const g = gate()
    executor = createJobExecutor({ concurrency: 2, maxQueueLength: 2, kinds: { gate: g.handler } })
    await executor.start()
    const results = [1, 2, 3, 4].map(() => executor?.execute(job('gate', '')))
    await waitFor(() => g.waiting() === 2)
    expect(executor.load).toEqual({ running: 2, queued: 2, concurrency: 2 })
    await expect(executor.execute(job('gate', ''))).rejects.toBeInstanceOf(RunnerBusyError)
    g.releaseAll()
    await waitFor(() => g.waiting() === 2)
    g.releaseAll()
    const done = await Promise.all(results)
    expect(done.map((r) => r?.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded'])
    expect(g.stats().maxRunning).toBe(2)
  })

  it('cancels running and queued jobs, by id or by the caller signal', async () => {
    const g = gate()
    executor = createJobExecutor({ concurrency: 1, kinds: { gate: g.handler } })
    await executor.start()
    const running = executor.execute(job('gate', '', { id: 'run-1' }))
    const controller = new AbortController()
    const queued = executor.execute(job('gate', '', { id: 'queued-1' }), { signal: controller.signal })
    await waitFor(() => g.waiting() === 1)
    controller.abort()
    expect((await queued).status).toBe('cancelled')
    expect(executor.cancel('run-1', 'operator asked')).toBe(true)
    const result = await running
    expect(result.status).toBe('cancelled')
    expect(result.error).toMatchObject({
      name: 'JobCancelledError',
      code: 'JOB_CANCELLED',
      message: 'job cancelled: operator asked',
    })
    expect(executor.cancel('unknown')).toBe(false)
    expect(g.stats().calls).toBe(1)
  })

  it('times a job out at its timeoutMs, even when its handler ignores the signal', async () => {
    executor = createJobExecutor({ abortGraceMs: 100, kinds: { stuck: () => new Promise(() => {}) } })
    await executor.start()
    const result = await executor.execute(job('stuck', '', { timeoutMs: 100 }))
    expect(result.status).toBe('timed_out')
    expect(result.error).toMatchObject({ name: 'JobTimeoutError', code: 'JOB_TIMEOUT', retryable: true })
    expect(executor.load.running).toBe(0)
  })

  it("keeps a timeoutMs beyond setTimeout's range (maxTimeoutMs set above it) instead of firing at once", async () => {
    const warnings: string[] = []
    const onWarning = (warning: Error): void => void warnings.push(warning.name)
    process.on('warning', onWarning)
    try {
      const g = gate()
      executor = createJobExecutor({
        concurrency: 2,
        maxTimeoutMs: 3e9,
        kinds: { gate: g.handler, stuck: () => new Promise(() => {}) },
        abortGraceMs: 100,
      })
      await executor.start()
      const far = executor.execute(job('gate', '', { id: 'far', timeoutMs: 2 ** 31 + 1_000 }))
      let farSettled = false
      void far.finally(() => {
        farSettled = true
      })
      await waitFor(() => g.waiting() === 1)
      // A job started after it with a 50 ms timeout times out first: the far one is still running.
      const near = await executor.execute(job('stuck', '', { id: 'near', timeoutMs: 50 }))
      expect(near.status).toBe('timed_out')
      expect(farSettled).toBe(false)
      g.releaseAll()
      expect((await far).status).toBe('succeeded')
      expect(warnings).not.toContain('TimeoutOverflowWarning')
    } finally {
      process.off('warning', onWarning)
    }
  })

  it('executes a job id at most once: a repeated execute joins the same run', async () => {
    const g = gate()
    executor = createJobExecutor({ kinds: { gate: g.handler } })
    await executor.start()
    const j = job('gate', '', { id: 'once' })
    const lines: string[] = []
    const first = executor.execute(j)
    const second = executor.execute({ ...j }, { onLog: (line) => lines.push(line) })
    await waitFor(() => g.waiting() === 1)
    g.releaseAll()
    const [a, b] = await Promise.all([first, second])
    expect(a).toBe(b)
    expect(await executor.execute(j)).toBe(a)
    expect(g.stats().calls).toBe(1)
  })

  it('gives each job an empty work directory, removed afterwards, and the merged environment', async () => {
    let seen: { workDir: string; env: Record<string, string>; inside: boolean } | undefined
    executor = createJobExecutor({
      workDirBase: base,
      env: { SHARED: 'runner', OVERRIDE: 'runner' },
      kinds: {
        probe: async (_job, ctx) => {
          await access(ctx.workDir)
          seen = { workDir: ctx.workDir, env: ctx.env, inside: ctx.workDir.startsWith(base) }
          return 'ok'
        },
      },
    })
    await executor.start()
    await executor.execute(job('probe', '', { env: { OVERRIDE: 'job' } }))
    expect(seen?.inside).toBe(true)
    expect(seen?.env).toEqual({ SHARED: 'runner', OVERRIDE: 'job' })
    await expect(access(seen?.workDir as string)).rejects.toThrow()
  })

  it('makes no work directory for a job that never reads its path', async () => {
    let during: string[] | undefined
    executor = createJobExecutor({
      workDirBase: base,
      kinds: {
        quiet: async () => {
          during = await readdir(base)
          return null
        },
      },
    })
    await executor.start()
    expect((await executor.execute(job('quiet', ''))).status).toBe('succeeded')
    expect(during).toEqual([])
    expect(await readdir(base)).toEqual([])
  })

  it('removes work directories a killed runner left behind when it starts again', async () => {
    // What a runner killed mid-job leaves: its job's directory, with the files the job wrote.
    const left = join(base, 'run-1_fetch_1-AbC123')
    await mkdir(join(left, 'nested'), { recursive: true })
    await writeFile(join(left, 'nested', 'partial.csv'), 'a,b\n1,')
    executor = createJobExecutor({ workDirBase: base, kinds: { noop: async () => null } })
    await executor.start()
    expect(await readdir(base)).toEqual([])
    await executor.execute(job('noop', ''))
    expect(await readdir(base)).toEqual([])
  })

  it('bounds logs: long lines are cut, and lines past the total cap are dropped with a marker', async () => {
    executor = createJobExecutor({
      logs: { maxLineBytes: 50, maxTotalBytes: 500 },
      kinds: builtinKinds(),
    })
    await executor.start()
    const streamed: string[] = []
    const result = await executor.execute(
      job('sal', 'console.log("y".repeat(1000)); for (let i = 0; i < 1000; i++) console.log("line " + i); 1'),
      { onLog: (line) => streamed.push(line) },
    )
    expect(result.status).toBe('succeeded')
    expect(Buffer.byteLength(result.logs[0] as string)).toBeLessThanOrEqual(50)
    expect(result.logs[0]).toContain('bytes cut')
    expect(result.logsTruncated).toBe(true)
    expect(result.logs.at(-1)).toContain('log truncated')
    expect(result.logs.join('\n').length).toBeLessThan(700)
    expect(streamed).toEqual(result.logs)
  })

  it('refuses invalid jobs and unknown kinds without recording them', async () => {
    executor = createJobExecutor({ kinds: builtinKinds() })
    await executor.start()
    await expect(executor.execute({ ...job('sal', '1'), timeoutMs: 0 })).rejects.toBeInstanceOf(
      InvalidJobError,
    )
    await expect(executor.execute({ ...job('sal', '1'), env: { A: 1 } } as never)).rejects.toThrow(
      'env.A: expected a string, got number',
    )
    await expect(executor.execute(job('python', 'print(1)'))).rejects.toBeInstanceOf(UnknownKindError)
  })

  it('gives a handler that reads its signal only after a stop an aborted one, and emits its events to listeners', async () => {
    let resume: (() => void) | undefined
    let late: AbortSignal | undefined
    executor = createJobExecutor({
      abortGraceMs: 50,
      kinds: {
        late: async (_j, ctx) => {
          const { log, heartbeat } = ctx // detached, as a handler may pass them on
          log('before the wait')
          heartbeat({ step: 1 })
          await new Promise<void>((resolve) => {
            resume = resolve
          })
          late = ctx.signal
          return null
        },
      },
    })
    const events: string[] = []
    for (const type of ['job:started', 'job:log', 'job:heartbeat', 'job:completed'] as const) {
      executor.addEventListener(type, () => events.push(type))
    }
    await executor.start()
    const result = await executor.execute(job('late', '', { timeoutMs: 100 }))
    expect(result).toMatchObject({ status: 'timed_out', logs: ['before the wait'] })
    resume?.()
    await waitFor(() => late !== undefined)
    expect(late?.aborted).toBe(true)
    expect(late?.reason).toMatchObject({ name: 'JobTimeoutError' })
    expect(events).toEqual(['job:started', 'job:log', 'job:heartbeat', 'job:completed'])
  })

  it('registers custom kinds as plain async functions', async () => {
    executor = createJobExecutor()
    await executor.start()
    executor.register('upper', async (j, ctx) => {
      ctx.log(`upper-casing ${j.payload.length} chars`)
      ctx.heartbeat()
      return j.payload.toUpperCase()
    })
    const result = await executor.execute(job('upper', 'abc'))
    expect(result).toMatchObject({ status: 'succeeded', output: 'ABC', logs: ['upper-casing 3 chars'] })
    expect(() => executor?.register('upper', async () => 1)).toThrow('already registered')
  })

  it('ends each hostile script with a clear typed error and keeps serving normal jobs', async () => {
    executor = createJobExecutor({
      kinds: builtinKinds(),
      sandbox: { cpuTimeMs: 500, memoryBytes: 32 * 1024 * 1024 },
    })
    await executor.start()
    const hostile: Array<[string, string, string]> = [
      ['while (true) {}', 'timed_out', 'ScriptTimeoutError'],
      ['let a = []; while (true) a.push("x".repeat(1e5) + a.length)', 'failed', 'ScriptMemoryError'],
      ['let s = "x"; while (true) s += s', 'failed', 'ScriptMemoryError'],
      ['function f() { return f() + 1 } f()', 'failed', 'ScriptStackOverflowError'],
      ['process.exit(1)', 'failed', 'ScriptError'],
      ['require("fs").readFileSync("/etc/passwd")', 'failed', 'ScriptError'],
      ["this.constructor.constructor('return process')().exit(1)", 'failed', 'ScriptError'],
      ['globalThis.process.env', 'failed', 'ScriptError'],
      ["import('fs')", 'failed', 'ScriptResultError'],
      ['fs.read("../../etc/passwd")', 'failed', 'PathOutsideWorkDirError'],
    ]
    for (const [code, status, name] of hostile) {
      const result = await executor.execute(job('sal', code))
      expect({ code, status: result.status, name: result.error?.name }).toEqual({ code, status, name })
      const normal = await executor.execute(job('sal', '[1, 2, 3].map((x) => x * 2)'))
      expect(normal.output).toEqual([2, 4, 6])
    }
  })

  it('runs the seed data pipeline end to end: hero fetch → sal process → osiris store', async () => {
    const server = await startHttpServer()
    const datastore = new LevelDatastore(join(base, 'db'))
    await datastore.open()
    try {
      executor = createJobExecutor({ kinds: builtinKinds(), datastore })
      executor.functions.register('process_data', (data) => {
        const { items } = data as { items: number[] }
        return { total: items.reduce((a, b) => a + b, 0), n: items.length }
      })
      await executor.start()
      const steps = (
        parse(SEED_PIPELINE) as {
          workflow: { steps: Array<{ id: string; runner: string; payload: string }> }
        }
      ).workflow.steps
      const outputs: Record<string, unknown> = {}
      for (const step of steps) {
        // Only the fetch URL is changed, to the local fixture (fixtures/README.md allows it).
        const payload = step.payload.replace('https://api.example.com/data', `${server.url}/data`)
        const result = await executor.execute(job(step.runner, payload, { input: { ...outputs } }))
        expect(result.status, JSON.stringify(result.error)).toBe('succeeded')
        outputs[step.id] = result.output
      }
      expect(outputs.fetch).toEqual({ items: [1, 2, 3], source: 'fixture' })
      expect(outputs.process).toEqual({ total: 6, n: 3 })
      expect(outputs.store).toMatchObject({ total: 6, n: 3, id: expect.any(String) })
    } finally {
      await executor?.stop()
      executor = undefined
      await datastore.close()
      await server.close()
    }
  })
})
