import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LevelDatastore } from 'datastore-level'
import { Key } from 'interface-datastore'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  Hlc,
  InvalidRunIdError,
  RunState,
  StateDecodeError,
  StateStore,
} from '../src/protocols/state/index.js'

describe('StateStore on a LevelDB datastore', () => {
  let dir: string
  let datastore: LevelDatastore
  const clock = new Hlc('node-a', { now: () => 1_700_000_000_000 })

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'horus-state-'))
    datastore = new LevelDatastore(join(dir, 'db'))
    await datastore.open()
  })

  afterEach(async () => {
    await datastore.close()
    await rm(dir, { recursive: true, force: true })
  })

  async function reopen(): Promise<StateStore> {
    await datastore.close()
    datastore = new LevelDatastore(join(dir, 'db'))
    await datastore.open()
    return new StateStore({ datastore })
  }

  it('appends deltas and reads the joined state back after a reopen', async () => {
    const store = new StateStore({ datastore })
    const state = RunState.create({
      run: 'run-1',
      hlc: clock.now(),
      workflow: { workflow: { name: 'w' } },
      inputs: { n: 1 },
    })
    await store.append(state)
    await store.append(
      state.setStep('a', { attempt: 1, phase: 'dispatched', hlc: clock.now(), dispatchedAt: 1 }),
    )
    await store.append(
      state.setStep('a', { attempt: 1, phase: 'succeeded', hlc: clock.now(), result: { ok: true } }),
    )
    await store.append(state.setPaused(clock.now(), true))
    // A stale delta persisted late changes nothing: parts are merged, not replayed in order.
    await store.append(new RunState('run-1').setStep('a', { attempt: 1, phase: 'running', hlc: clock.now() }))

    const loaded = await (await reopen()).load('run-1')
    expect(loaded?.equals(state)).toBe(true)
    expect(loaded?.step('a')?.result).toEqual({ ok: true })
    expect(loaded?.meta?.inputs).toEqual({ n: 1 })
  })

  it('save merges with what is stored and compacts the deltas into one snapshot', async () => {
    const store = new StateStore({ datastore })
    const a = RunState.create({ run: 'r', hlc: clock.now(), workflow: null, inputs: {} })
    await store.append(a)
    await store.append(a.setStep('x', { attempt: 1, phase: 'dispatched', hlc: clock.now() }))
    const other = new RunState('r')
    other.setStep('y', { attempt: 1, phase: 'dispatched', hlc: clock.now() })
    const saved = await store.save(other)
    expect(saved.step('x')).toBeDefined()
    expect(saved.step('y')).toBeDefined()
    const keys: string[] = []
    for await (const key of datastore.queryKeys({ prefix: '/horus/state/runs/r/' })) keys.push(key.toString())
    expect(keys).toEqual(['/horus/state/runs/r/snapshot'])
    await store.append(saved.setStep('x', { attempt: 1, phase: 'running', hlc: clock.now() }))
    const compacted = await store.compact('r')
    expect(compacted?.step('x')?.phase).toBe('running')
    expect((await store.load('r'))?.equals(saved)).toBe(true)
  })

  it('lists and deletes runs without touching runs that share a prefix', async () => {
    const store = new StateStore({ datastore })
    for (const run of ['r1', 'r10', 'r2'])
      await store.append(RunState.create({ run, hlc: clock.now(), workflow: null, inputs: {} }))
    expect(await store.runs()).toEqual(['r1', 'r10', 'r2'])
    await store.delete('r1')
    expect(await store.runs()).toEqual(['r10', 'r2'])
    expect(await store.load('r1')).toBeUndefined()
    expect(await store.load('r10')).toBeDefined()
    await expect(store.delete('../x')).rejects.toThrow(InvalidRunIdError)
    await expect(store.load('a/b')).rejects.toThrow(InvalidRunIdError)
  })

  it('reports corrupted records as StateDecodeError naming the key', async () => {
    const store = new StateStore({ datastore })
    await datastore.put(
      new Key('/horus/state/runs/bad/delta/1'),
      new TextEncoder().encode('{"v":1,"run":"bad","steps":7}'),
    )
    await expect(store.load('bad')).rejects.toThrow(StateDecodeError)
    await expect(store.load('bad')).rejects.toThrow('/horus/state/runs/bad/delta/1:steps')
  })

  it('honours an abort signal', async () => {
    const store = new StateStore({ datastore })
    await store.append(RunState.create({ run: 'r', hlc: clock.now(), workflow: null, inputs: {} }))
    await expect(store.load('r', { signal: AbortSignal.abort() })).rejects.toThrow()
  })
})
