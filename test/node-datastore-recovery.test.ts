/**
 * A node's datastore found corrupted at start: copied aside as found, then repaired with LevelDB's
 * repair — never a node that cannot start, and `node.health` says what happened.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Key } from 'interface-datastore'
import { afterEach, describe, expect, it } from 'vitest'
import { DATASTORE_DIR } from '../src/node/constants.js'
import { datastoreCheck, openDatastore } from '../src/node/datastore.js'

const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

async function storeWithKeys(count: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'horus-ds-'))
  dirs.push(dir)
  const { datastore, recovery } = await openDatastore(dir)
  expect(recovery).toBeUndefined()
  for (let i = 0; i < count; i++) await datastore.put(new Key(`/k/${i}`), new TextEncoder().encode(`v${i}`))
  await datastore.close()
  return dir
}

async function countKeys(dir: string): Promise<number> {
  const { datastore } = await openDatastore(dir)
  let n = 0
  for await (const _ of datastore.query({ prefix: '/k' })) n++
  await datastore.close()
  return n
}

describe('a datastore corrupted on disk', () => {
  it('is repaired at open when LevelDB can rebuild it, and says so', async () => {
    const dir = await storeWithKeys(500)
    const path = join(dir, DATASTORE_DIR)
    const manifest = (await readdir(path)).find((f) => f.startsWith('MANIFEST-'))
    expect(manifest).toBeDefined()
    await writeFile(join(path, manifest as string), Buffer.alloc(256, 7))
    const errors: string[] = []
    const log = Object.assign(() => {}, {
      error: (...args: unknown[]) => errors.push(args.map(String).join(' ')),
      trace: () => {},
      enabled: true,
      newScope: () => log,
    })
    const { datastore, recovery } = await openDatastore(dir, log as never)
    await datastore.close()
    expect(recovery?.action).toBe('repaired')
    // The store as found is kept beside it.
    expect(recovery?.quarantinedAt).toMatch(new RegExp(`${DATASTORE_DIR}\\.corrupt-`))
    expect(await readdir(recovery?.quarantinedAt as string)).toContain(manifest)
    expect(recovery?.cause).toMatch(/corrupt/i)
    expect(datastoreCheck(recovery as never)).toMatch(/^repaired at start after corruption/)
    expect(errors.join('\n')).toMatch(/is corrupted .* copied as found to .* repairing it in place/)
    // The records were in the log or tables, not the manifest: the repair finds them all.
    expect(await countKeys(dir)).toBe(500)
  })
})
