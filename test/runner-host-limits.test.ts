/**
 * Hostile scripts against the byte caps of host calls and osiris: each cap fails the job with a
 * typed error naming the cap and the size, the store is left as it was, and the executor keeps
 * serving. The last test replays the observed crash (one `list()` over 16 × 6 MB records) and
 * bounds the node's resident memory while it runs.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LevelDatastore } from 'datastore-level'
import { Key } from 'interface-datastore'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ConfigError } from '../src/core/errors.js'
import { createJobExecutor, type JobExecutor } from '../src/roles/runner/execution/index.js'
import { readRunnerConfig } from '../src/roles/runner/index.js'
import { builtinKinds, type OsirisLimits, OsirisStore } from '../src/roles/runner/kinds/index.js'
import { job } from './runner-fixtures.js'

const KiB = 1024
const MiB = 1024 * KiB

let dir: string
let datastore: LevelDatastore
let executor: JobExecutor
let opened = false

async function open(osiris: OsirisLimits = {}, maxHostCallBytes?: number): Promise<void> {
  datastore = new LevelDatastore(join(dir, 'db'))
  await datastore.open()
  executor = createJobExecutor({
    kinds: builtinKinds({ osiris }),
    datastore,
    ...(maxHostCallBytes === undefined ? {} : { sandbox: { maxHostCallBytes } }),
  })
  executor.functions.register('big_reply', () => 'x'.repeat(2 * MiB))
  executor.functions.register('huge_reply', () => 'x'.repeat(17 * MiB))
  await executor.start()
  opened = true
}

async function close(): Promise<void> {
  opened = false
  await executor.stop()
  await datastore.close()
}

async function stillServing(): Promise<void> {
  const result = await executor.execute(job('sal', '[1, 2].map((x) => x * 3)'))
  expect(result.output).toEqual([3, 6])
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'horus-host-limits-'))
})

afterEach(async () => {
  if (opened) await close()
  await rm(dir, { recursive: true, force: true })
})

describe('host-call byte caps', () => {
  it('refuses arguments over the cap before they leave the sandbox', async () => {
    await open({}, MiB)
    const result = await executor.execute(job('sal', 'fs.write("big.txt", "x".repeat(2 * 1024 * 1024))'))
    expect(result.status).toBe('failed')
    expect(result.error).toMatchObject({ name: 'HostCallTooLargeError', code: 'HOST_CALL_TOO_LARGE' })
    expect(result.error?.message).toMatch(
      /^fs\.write: the arguments of the host call are 209\d{4} bytes of JSON, more than the limit of 1048576 bytes \(sandbox limit maxHostCallBytes\)$/,
    )
    await stillServing()
  })

  it('refuses a reply over the cap; a script may catch it and go on', async () => {
    await open({}, MiB)
    const failed = await executor.execute(job('sal', 'big_reply()'))
    expect(failed.error).toMatchObject({ name: 'HostCallTooLargeError' })
    expect(failed.error?.message).toMatch(/^big_reply: the reply of the host call is 2097154 bytes/)
    const caught = await executor.execute(
      job('sal', 'let got; try { big_reply() } catch (e) { got = e.name + " " + e.code }; got'),
    )
    expect(caught.output).toBe('HostCallTooLargeError HOST_CALL_TOO_LARGE')
    await stillServing()
  })

  it('has a default: 16 MiB', async () => {
    await open()
    const result = await executor.execute(job('sal', 'huge_reply()'))
    expect(result.error?.message).toMatch(/^huge_reply: the reply .* more than the limit of 16777216 bytes/)
    await stillServing()
  })
})

describe('osiris caps and quota', () => {
  it('refuses a record over maxRecordBytes, on create and on update, and keeps the stored one', async () => {
    await open({ maxRecordBytes: 64 * KiB })
    const created = await executor.execute(
      job('osiris', 'osiris.model("m").create({ id: "a", blob: "x".repeat(100 * 1024) })'),
    )
    expect(created.error).toMatchObject({
      name: 'OsirisRecordTooLargeError',
      code: 'OSIRIS_RECORD_TOO_LARGE',
    })
    expect(created.error?.message).toMatch(
      /^osiris: a record of model "m" is 1024\d\d bytes of JSON, more than the limit of 65536 bytes \(runner\.osiris\.maxRecordBytes\)$/,
    )
    const updated = await executor.execute(
      job(
        'osiris',
        'const m = osiris.model("m"); m.create({ id: "a", n: 1 }); let e; try { m.update("a", { blob: "x".repeat(100 * 1024) }) } catch (err) { e = err.name }; ({ e, now: m.get("a") })',
      ),
    )
    expect(updated.output).toEqual({ e: 'OsirisRecordTooLargeError', now: { id: 'a', n: 1 } })
    await stillServing()
  })

  it('stops list and query past maxResultBytes, naming the cap; a smaller page works', async () => {
    await open({ maxResultBytes: 256 * KiB })
    const fill = await executor.execute(
      job(
        'osiris',
        'const m = osiris.model("m"); for (let i = 0; i < 8; i++) m.create({ i, blob: "y".repeat(50 * 1024) }); 8',
      ),
    )
    expect(fill.status).toBe('succeeded')
    for (const call of ['list()', 'query({})']) {
      const result = await executor.execute(job('osiris', `osiris.model("m").${call}.length`))
      expect(result.error, call).toMatchObject({
        name: 'OsirisResultTooLargeError',
        code: 'OSIRIS_RESULT_TOO_LARGE',
      })
      expect(result.error?.message).toMatch(
        new RegExp(
          `^osiris: ${call.startsWith('list') ? 'list' : 'query'} on model "m" would return more than 262144 bytes \\(runner\\.osiris\\.maxResultBytes\\): 3\\d{5} bytes after 6 record\\(s\\); ask for fewer with options \\{ limit, offset \\}$`,
        ),
      )
    }
    const page = await executor.execute(
      job(
        'osiris',
        'const m = osiris.model("m"); [m.list({ limit: 4 }).length, m.list({ limit: 4, offset: 4 }).length]',
      ),
    )
    expect(page.output).toEqual([4, 4])
    await stillServing()
  })

  it('keeps the node within quotaBytes, frees room on delete, and measures again after a restart', async () => {
    await open({ quotaBytes: 300 * KiB })
    const filled = await executor.execute(
      job(
        'osiris',
        'const m = osiris.model("q"); let n = 0; let e; try { for (;;) { m.create({ id: "r" + n, blob: "z".repeat(60 * 1024) }); n++ } } catch (err) { e = err.name + ": " + err.message }; ({ n, e })',
      ),
    )
    const { n, e } = filled.output as { n: number; e: string }
    expect(n).toBe(4)
    expect(e).toMatch(
      /^OsirisQuotaExceededError: osiris: storage quota exceeded: 2\d{5} bytes used, this write needs 61\d{3} more, the quota is 307200 bytes \(runner\.osiris\.quotaBytes\)$/,
    )
    const after = await executor.execute(
      job(
        'osiris',
        'const m = osiris.model("q"); m.delete("r0"); m.create({ id: "r9", blob: "z".repeat(60 * 1024) }).id',
      ),
    )
    expect(after.output).toBe('r9')
    await close()
    await open({ quotaBytes: 300 * KiB })
    const again = await executor.execute(
      job('osiris', 'osiris.model("q").create({ blob: "z".repeat(60 * 1024) })'),
    )
    expect(again.error?.name).toBe('OsirisQuotaExceededError')
    expect(await new OsirisStore(datastore, { quotaBytes: 300 * KiB }).usedBytes()).toBeLessThanOrEqual(
      300 * KiB,
    )
    await stillServing()
  })
})

describe('the observed crash, replayed', () => {
  it('list() over 16 × 6 MB records written before the caps fails fast; RSS stays within 150 MB of where it was', async () => {
    await open()
    // Records as an older runner (no record cap) could have stored them.
    const blob = 'w'.repeat(6 * 1000 * 1000)
    for (let i = 0; i < 16; i++) {
      const id = `r${String(i).padStart(2, '0')}`
      await datastore.put(new Key(`/osiris/big/${id}`), Buffer.from(JSON.stringify({ id, blob })))
    }
    await stillServing()
    const baseline = process.memoryUsage().rss
    let peak = baseline
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss)
    }, 5)
    const result = await executor.execute(job('osiris', 'osiris.model("big").list().length'))
    clearInterval(sampler)
    peak = Math.max(peak, process.memoryUsage().rss)
    expect(result.error).toMatchObject({ name: 'OsirisResultTooLargeError' })
    expect(result.error?.message).toMatch(/12000\d{3} bytes after 2 record\(s\)/)
    expect(peak - baseline, `RSS grew from ${baseline} to ${peak}`).toBeLessThan(150 * MiB)
    await stillServing()
  })
})

describe('runner.osiris config', () => {
  it('takes byte limits and names each bad value', () => {
    expect(readRunnerConfig({ osiris: { quotaBytes: 1024, maxRecordBytes: 10 } })).toEqual({
      osiris: { quotaBytes: 1024, maxRecordBytes: 10 },
    })
    let issues: readonly string[] = []
    try {
      readRunnerConfig({ osiris: { quotaBytes: 0, maxResultBytes: '8M', size: 1 } })
    } catch (err) {
      issues = (err as ConfigError).issues
    }
    expect(issues).toEqual([
      'runner.osiris.quotaBytes: expected a number of bytes ≥ 1, got 0',
      'runner.osiris.maxResultBytes: expected a number of bytes ≥ 1, got "8M"',
      'runner.osiris.size: unknown setting (known: maxRecordBytes, maxResultBytes, quotaBytes)',
    ])
  })
})
