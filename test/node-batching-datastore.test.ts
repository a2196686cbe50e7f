/**
 * The node's batching datastore (src/node/batching-datastore.ts): the writes of one event-loop
 * turn go to LevelDB as one batch, each resolving only once its batch is written — on a real
 * on-disk LevelDB, and across a SIGKILL of a real process.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { Key } from 'interface-datastore'
import { afterEach, describe, expect, it } from 'vitest'
import { BatchingLevelDatastore } from '../src/node/batching-datastore.js'

const WRITER = join(import.meta.dirname, 'fixtures/batched-writer.mjs')
const dirs: string[] = []
const encode = (s: string): Uint8Array => new TextEncoder().encode(s)
const decode = (b: Uint8Array): string => new TextDecoder().decode(b)

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'horus-batching-'))
  dirs.push(dir)
  return dir
}

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

describe('the batching datastore', () => {
  it('writes the puts and deletes of one turn as one batch, and reads see them before it lands', async () => {
    const store = new BatchingLevelDatastore(await tempDir())
    await store.open()
    try {
      await store.put(new Key('/gone'), encode('old'))
      const before = store.batchesWritten
      const writes = Array.from({ length: 300 }, (_, i) => store.put(new Key(`/k/${i}`), encode(`v${i}`)))
      const deleted = store.delete(new Key('/gone'))
      // Not committed yet, already visible.
      expect(decode(await store.get(new Key('/k/7')))).toBe('v7')
      expect(await store.has(new Key('/gone'))).toBe(false)
      await Promise.all([...writes, deleted])
      expect(store.batchesWritten - before).toBe(1)
      expect(decode(await store.get(new Key('/k/299')))).toBe('v299')
      await expect(store.get(new Key('/gone'))).rejects.toThrow()
    } finally {
      await store.close()
    }
  })

  it('keeps the last of several writes to one key, and writes everything queued on close', async () => {
    const dir = await tempDir()
    const store = new BatchingLevelDatastore(dir)
    await store.open()
    void store.put(new Key('/same'), encode('first'))
    void store.put(new Key('/same'), encode('second'))
    const pending = store.put(new Key('/late'), encode('late'))
    await store.close()
    await pending
    const reopened = new BatchingLevelDatastore(dir)
    await reopened.open()
    try {
      expect(decode(await reopened.get(new Key('/same')))).toBe('second')
      expect(decode(await reopened.get(new Key('/late')))).toBe('late')
    } finally {
      await reopened.close()
    }
  })

  it('loses no acknowledged write when its process is SIGKILLed right after the acknowledgement', async () => {
    const dir = await tempDir()
    const child = spawn(process.execPath, [WRITER, dir, '2000', '100'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const acknowledged: string[] = []
    const lines = createInterface({ input: child.stdout })
    const exited = once(child, 'exit')
    for await (const line of lines) {
      acknowledged.push(line)
      if (acknowledged.length === 100) break
    }
    child.kill('SIGKILL')
    await exited
    expect(acknowledged).toHaveLength(100)
    const store = new BatchingLevelDatastore(dir)
    await store.open()
    try {
      for (const i of acknowledged) expect(decode(await store.get(new Key(`/w/${i}`)))).toBe(`value ${i}`)
    } finally {
      await store.close()
    }
  })
})
