/**
 * Issue 10, fake state deltas by the other door: anti-entropy (`coordinator.sync`) is answered only
 * for keys the policy holds as coordinators. A client trusted for the run's capability may neither
 * pull every run's state through it (reading others' runs) nor push deltas that forge a run or a
 * step's output; each call is refused and counted, and no run holds a trace of it.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Hlc } from '../src/protocols/state/hlc.js'
import { RunState } from '../src/protocols/state/run-state.js'
import { HERO_ONLY, refusal, startAuthorityMesh } from './authority-fixtures.js'
import { coordinatorOf, JobMesh, step, submitParams } from './coordinator-fixtures.js'

const mesh = new JobMesh()
afterEach(() => mesh.cleanup())

describe('anti-entropy from a key that is not a coordinator', () => {
  it('neither reads nor writes any run: refused, counted, no trace', async () => {
    const m = await startAuthorityMesh(mesh)
    const alice = mesh.client(m.alice, m.hub)
    const { runId } = await alice.call<{ runId: string }>(
      'coordinator.submit_workflow',
      submitParams(m.alice, HERO_ONLY),
    )
    await alice.call('coordinator.wait_for_completion', { runId, timeoutMs: 15_000 })
    const bob = mesh.client(m.bob, m.hub)
    const stamp = new Hlc(m.bob.peerId).now()
    const forgedOutput = new RunState(runId).setStep('a', {
      attempt: 2,
      phase: 'succeeded',
      hlc: stamp,
      result: { pwned: true },
    })
    const forgedRun = new RunState('pwned-run').setLease(stamp, m.bob.peerId, Date.now() + 60_000)
    const attempts = [
      { digests: [], complete: true },
      { deltas: [forgedOutput.toJSON(), forgedRun.toJSON()] },
    ]
    for (const params of attempts) {
      const err = await refusal(bob.call('coordinator.sync', params as never))
      expect(err.message).toMatch(/not allowed to call coordinator\.sync/)
    }
    expect(m.hub.node.rpcServer.dispatcher.refusedCalls()['coordinator.sync']).toBe(attempts.length)
    const coordinator = coordinatorOf(m.hub)
    expect(coordinator.runState('pwned-run')).toBeUndefined()
    const view = await coordinator.status(runId)
    expect(step(view, 'a')).toMatchObject({ state: 'succeeded', attempt: 1 })
    expect(JSON.stringify(view)).not.toContain('pwned')
    // A key the policy holds as a coordinator is answered: the door is shut by role, not closed.
    // (Run state is sharded: it is sent a run it names; `complete` adds only the runs whose replica
    // set includes it, and mallory, announcing no role, is in none.)
    const answer = await mesh
      .client(m.mallory, m.hub)
      .call<{ deltas: Array<{ run: string }> }>('coordinator.sync', {
        digests: [new RunState(runId).digest()],
        complete: true,
      })
    expect(answer.deltas.map((d) => d.run)).toEqual([runId])
    expect(m.hub.node.rpcServer.dispatcher.refusedCalls()['coordinator.sync']).toBe(attempts.length)
  })
})
