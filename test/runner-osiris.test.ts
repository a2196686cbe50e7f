import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LevelDatastore } from 'datastore-level'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createJobExecutor, type JobExecutor } from '../src/roles/runner/execution/index.js'
import { builtinKinds } from '../src/roles/runner/kinds/index.js'
import { job } from './runner-fixtures.js'

const SEED_STORE = 'let model = osiris.model("results");\nmodel.create(input.process);\n'

describe('osiris kind', () => {
  let dir: string
  let datastore: LevelDatastore
  let executor: JobExecutor

  async function open(): Promise<void> {
    datastore = new LevelDatastore(join(dir, 'db'))
    await datastore.open()
    executor = createJobExecutor({ kinds: builtinKinds(), datastore })
    await executor.start()
  }

  async function close(): Promise<void> {
    await executor.stop()
    await datastore.close()
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'horus-osiris-test-'))
    await open()
  })

  afterEach(async () => {
    await close()
    await rm(dir, { recursive: true, force: true })
  })

  it('runs the seed store step as written and returns the created record with its id', async () => {
    const result = await executor.execute(
      job('osiris', SEED_STORE, { input: { process: { count: 3, sum: 6 } } }),
    )
    expect(result.status).toBe('succeeded')
    const record = result.output as { id: string; count: number; sum: number }
    expect(record).toMatchObject({ count: 3, sum: 6 })
    expect(record.id).toMatch(/^[a-z0-9]{21}$/)
  })

  it('creates, gets, lists, updates, queries and deletes records', async () => {
    const code = `
      const m = osiris.model("people");
      const a = m.create({ name: "ada", city: { name: "london" }, age: 36 });
      const b = m.create({ name: "bob", city: { name: "paris" }, age: 40 });
      const c = m.create({ id: "carol", name: "carol", city: { name: "london" }, age: 25 });
      const updated = m.update(a.id, { age: 37 });
      const london = m.query({ "city.name": "london" }).map((r) => r.name);
      const deleted = [m.delete(b.id), m.delete(b.id)];
      ({
        got: m.get("carol"),
        missing: m.get("nobody"),
        updated,
        london,
        deleted,
        names: m.list().map((r) => r.name),
        page: m.list({ limit: 1, offset: 1 }).map((r) => r.name),
        other: osiris.model("other").list(),
      })`
    const result = await executor.execute(job('osiris', code))
    expect(result.status).toBe('succeeded')
    const out = result.output as Record<string, unknown>
    expect(out.got).toEqual({ id: 'carol', name: 'carol', city: { name: 'london' }, age: 25 })
    expect(out.missing).toBeNull()
    expect(out.updated).toMatchObject({ name: 'ada', age: 37 })
    expect(out.london).toEqual(expect.arrayContaining(['ada', 'carol']))
    expect(out.deleted).toEqual([true, false])
    expect(out.names).toHaveLength(2)
    expect(out.page).toHaveLength(1)
    expect(out.other).toEqual([])
  })

  it('keeps records across a restart of the datastore', async () => {
    const created = await executor.execute(job('osiris', 'osiris.model("results").create({ kept: true })'))
    const { id } = created.output as { id: string }
    await close()
    await open()
    const read = await executor.execute(job('osiris', `osiris.model("results").get(${JSON.stringify(id)})`))
    expect(read.output).toEqual({ id, kept: true })
  })

  it('reports conflicts, missing records and bad arguments as typed errors', async () => {
    await executor.execute(job('osiris', 'osiris.model("m").create({ id: "x" })'))
    const conflict = await executor.execute(job('osiris', 'osiris.model("m").create({ id: "x" })'))
    expect(conflict.error).toMatchObject({ name: 'OsirisConflictError', code: 'OSIRIS_CONFLICT' })
    const missing = await executor.execute(job('osiris', 'osiris.model("m").update("nope", { a: 1 })'))
    expect(missing.error).toMatchObject({ name: 'OsirisNotFoundError', code: 'OSIRIS_NOT_FOUND' })
    const badName = await executor.execute(job('osiris', 'osiris.model("../x").list()'))
    expect(badName.error).toMatchObject({ name: 'OsirisArgumentError' })
    const badRecord = await executor.execute(job('osiris', 'osiris.model("m").create([1, 2])'))
    expect(badRecord.error?.message).toContain('create(record): expected an object, got an array')
  })

  it('grants only the osiris API: no os, fs or http, and the raw host call is hidden', async () => {
    const result = await executor.execute(
      job('osiris', '[typeof os, typeof fs, typeof http, typeof osiris.__call, Object.isFrozen(osiris)]'),
    )
    expect(result.output).toEqual(['undefined', 'undefined', 'undefined', 'undefined', true])
  })
})
