/**
 * The hand-off of a run copy held outside the run's replica set (replica-handoff.ts): it is
 * dropped only once every member confirmed what the copy holds of its own, a member's own changes
 * need no confirmation (so a busy run is let go), and an anti-entropy answer that arrives after the
 * copy was dropped does not bring back a partial copy (anti-entropy.ts).
 */
import { describe, expect, it } from 'vitest'
import { createLogger } from '../src/core/logger.js'
import { formatHlc } from '../src/protocols/state/hlc.js'
import { RunState } from '../src/protocols/state/run-state.js'
import { type SyncHost, syncWith } from '../src/protocols/state/sync/index.js'
import { ReplicaHandoff } from '../src/roles/coordinator/service/replica-handoff.js'
import { RunEntry } from '../src/roles/coordinator/service/run-entry.js'

const SELF = 'outsider'
const MEMBERS = ['m1', 'm2', 'm3']
const stamp = (wall: number, node = SELF) => formatHlc({ wall, counter: 0, node })

/** A coordinator outside run `r`'s set, holding a copy of it; merges are counted as `merged` does. */
function outsider() {
  const runs = new Map<string, RunEntry>()
  const handedLease: string[] = []
  const handoff = new ReplicaHandoff({
    self: SELF,
    sets: { members: () => MEMBERS, forget: () => {} },
    runs,
    handOverLease: (_entry, owner) => handedLease.push(owner),
    drop: async (entry) => {
      runs.delete(entry.id)
    },
    log: createLogger('handoff').forComponent('horus:test'),
  })
  const copy = (): RunEntry => {
    let entry = runs.get('r')
    if (entry === undefined) {
      entry = new RunEntry(new RunState('r'))
      runs.set('r', entry)
    }
    return entry
  }
  /** A change written here (a submission, a lease). */
  const write = (wall: number): void => {
    copy().state.setLease(stamp(wall), 'm1', wall + 10_000)
  }
  /** A change a peer sent, merged as the coordinator service merges it. */
  const receive = (from: string, wall: number): void => {
    const entry = copy()
    const before = entry.state.version
    entry.state.merge(new RunState('r').setLease(stamp(wall, from), 'm1', wall + 10_000))
    handoff.merged('r', from, before, entry.state.version)
  }
  /** `peer` confirmed holding the copy as it stands now. */
  const confirm = async (peer: string): Promise<void> => {
    handoff.onRound(peer, new Map([['r', copy().state.version]]))
    await handoff.idle()
  }
  return { runs, handoff, handedLease, write, receive, confirm, held: () => runs.has('r') }
}

describe('handing off a copy held outside the replica set', () => {
  it('keeps a copy with its own writes until every member confirmed them', async () => {
    const o = outsider()
    o.write(1)
    await o.confirm('m1')
    await o.confirm('m2')
    expect(o.held()).toBe(true)
    await o.confirm('m3')
    expect(o.held()).toBe(false)
  })

  it('a write after a confirmation needs that member to confirm again', async () => {
    const o = outsider()
    o.write(1)
    await o.confirm('m1')
    o.write(2)
    await o.confirm('m2')
    await o.confirm('m3')
    expect(o.held()).toBe(true)
    await o.confirm('m1')
    expect(o.held()).toBe(false)
  })

  it("lets go of a busy run: a member's changes arriving between confirmations need no confirmation", async () => {
    const o = outsider()
    o.write(1)
    await o.confirm('m1')
    o.receive('m2', 2)
    await o.confirm('m2')
    o.receive('m3', 3)
    await o.confirm('m3')
    expect(o.held()).toBe(false)
  })

  it('a change from a coordinator outside the set counts as its own', async () => {
    const o = outsider()
    o.write(1)
    await o.confirm('m1')
    await o.confirm('m2')
    o.receive('elsewhere', 2)
    await o.confirm('m3')
    expect(o.held()).toBe(true)
    await o.confirm('m1')
    await o.confirm('m2')
    expect(o.held()).toBe(false)
  })

  it('drops a copy fetched from a member (nothing of its own) at the first round', async () => {
    const o = outsider()
    o.receive('m1', 1)
    await o.confirm('m2')
    expect(o.held()).toBe(false)
  })

  it('hands its own lease to the first member before dropping the copy', async () => {
    const o = outsider()
    o.runs.set('r', new RunEntry(new RunState('r')))
    o.runs.get('r')?.state.setLease(stamp(1), SELF, 10_000)
    for (const m of MEMBERS) await o.confirm(m)
    expect(o.handedLease).toEqual(['m1'])
    expect(o.held()).toBe(true)
  })
})

describe('an anti-entropy answer for a run dropped during the round', () => {
  it('does not bring back a partial copy', async () => {
    const held = new Map<string, RunState>([['r', new RunState('r')]])
    held.get('r')?.setLease(stamp(1), 'm1', 10_000)
    const applied: string[] = []
    const host: SyncHost = {
      runs: () => [...held.keys()],
      state: (run) => held.get(run),
      apply: (delta) => {
        applied.push(delta.run)
        held.set(delta.run, delta)
      },
    }
    const newer = new RunState('r').setLease(stamp(2, 'm1'), 'm1', 20_000)
    const client = {
      call: async <T>(): Promise<T> => {
        // The copy is handed off while the peer answers.
        held.delete('r')
        return { deltas: [newer.toJSON()], digests: [] } as T
      },
    }
    const stats = await syncWith(client, host, 'm1')
    expect(applied).toEqual([])
    expect(stats.received).toBe(0)
    expect(held.has('r')).toBe(false)
  })
})
