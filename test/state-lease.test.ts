import { describe, expect, it } from 'vitest'
import { Hlc } from '../src/protocols/state/hlc.js'
import { renewLease, takeOverLease } from '../src/protocols/state/lease.js'
import { RunState } from '../src/protocols/state/run-state.js'

describe('the owner lease', () => {
  const options = { ttlMs: 10_000, graceMs: 1_000 }

  it('is taken over only once lapsed past the grace, or once its owner was lost that long ago', () => {
    const a = new Hlc('node-a')
    const b = new Hlc('node-b')
    const state = new RunState('run-1')
    takeOverLease(state, a.now(), 'node-a', 0, options)
    expect(state.lease).toMatchObject({ owner: 'node-a', expiresAt: 10_000 })
    expect(takeOverLease(state.clone(), b.now(), 'node-b', 10_500, options)).toBeUndefined()
    expect(takeOverLease(state.clone(), b.now(), 'node-b', 11_000, options)).toBeDefined()
    // The owner's heartbeats stopped at 3 s: its lease counts as lapsed from then.
    expect(
      takeOverLease(state.clone(), b.now(), 'node-b', 3_500, { ...options, lapsedAt: 3_000 }),
    ).toBeUndefined()
    const early = state.clone()
    expect(takeOverLease(early, b.now(), 'node-b', 4_000, { ...options, lapsedAt: 3_000 })).toBeDefined()
    expect(early.lease).toMatchObject({ owner: 'node-b', expiresAt: 14_000 })
    // A liveness loss later than the expiry changes nothing.
    expect(
      takeOverLease(state.clone(), b.now(), 'node-b', 10_500, { ...options, lapsedAt: 20_000 }),
    ).toBeUndefined()
    // Renewal is refused to anyone but the owner.
    expect(renewLease(early, a.now(), 'node-a', 4_000, options)).toBeUndefined()
  })
})
