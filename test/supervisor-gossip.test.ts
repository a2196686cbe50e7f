/**
 * Jobs announced on `horus/v1/jobs/<capability>` are claimed by exactly one live supervisor (the
 * rendezvous-hashing rule of src/roles/supervisor/CLAIMS.md), and the config sections of both
 * roles are validated with messages that name the path.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigError } from '../src/core/errors.js'
import { adHocJobId, jobTopic } from '../src/protocols/jobs/index.js'
import { readRunnerConfig } from '../src/roles/runner/index.js'
import { claimant, readSupervisorConfig } from '../src/roles/supervisor/index.js'
import { waitFor } from '../src/testing/index.js'
import { JobMesh, job, type RunningMember, runnerVisible } from './jobs-flow-fixtures.js'

const mesh = new JobMesh()
afterEach(() => mesh.cleanup())

function seesSupervisor(node: RunningMember, other: RunningMember): boolean {
  return node.node.liveness.get(other.peerId)?.roles.includes('supervisor') === true
}

describe('gossip claims', () => {
  it('has each announced job claimed and run by exactly one supervisor, the rendezvous winner', async () => {
    const members = [
      await mesh.member('sup1'),
      await mesh.member('sup2'),
      await mesh.member('run'),
      await mesh.member('cli'),
    ]
    const [s1, s2, r, c] = members as [
      (typeof members)[0],
      (typeof members)[0],
      (typeof members)[0],
      (typeof members)[0],
    ]
    const sup1 = await mesh.start(s1, { roles: ['supervisor'] })
    const sup2 = await mesh.start(s2, { roles: ['supervisor'], bootstrap: sup1 })
    const run = await mesh.start(r, {
      roles: ['runner'],
      bootstrap: sup1,
      options: { runner: { builtins: false, kinds: { noop: async () => 'ok' } } },
    })
    const cli = await mesh.start(c, { roles: [], bootstrap: sup1 })
    for (const sup of [sup1, sup2]) await runnerVisible(sup, 'noop', run)
    await waitFor(() => seesSupervisor(sup1, sup2) && seesSupervisor(sup2, sup1), {
      what: 'the supervisors to see each other',
    })
    const topic = jobTopic('noop')
    const pubsub = cli.node.libp2p.services.pubsub
    await waitFor(
      () => {
        const subscribers = pubsub.getSubscribers(topic).map(String)
        return subscribers.includes(sup1.peerId) && subscribers.includes(sup2.peerId)
      },
      { what: 'both supervisors to subscribe to the job topic' },
    )

    const envelopes = Array.from({ length: 20 }, (_, i) =>
      job(cli, { runner: 'noop', id: adHocJobId(cli.node.identity.publicKeyHex, `announced-${i}`) }),
    )
    for (const envelope of envelopes)
      await pubsub.publish(topic, new TextEncoder().encode(JSON.stringify(envelope)))

    const supervisors = [sup1, sup2]
    const services = supervisors.map((s) => s.roles.supervisor)
    await waitFor(
      () =>
        services.reduce((n, s) => n + (s?.list().filter((j) => j.status === 'succeeded').length ?? 0), 0) ===
        envelopes.length,
      { what: 'every announced job to succeed' },
    )
    const candidates = [sup1.peerId, sup2.peerId]
    for (const envelope of envelopes) {
      const holders = supervisors.filter((s) =>
        s.roles.supervisor?.list().some((j) => j.job.id === envelope.id),
      )
      expect(holders.map((h) => h.peerId)).toEqual([claimant(envelope.id, candidates)])
    }
    for (const service of services) {
      expect(service?.list().every((j) => j.source === 'gossip')).toBe(true)
      expect(service?.list().length).toBeGreaterThan(0)
    }
  })
})

describe('claim rule and role config', () => {
  it('picks the same claimant whatever the order, and moves only the lost one’s jobs', () => {
    const peers = ['peerA', 'peerB', 'peerC']
    const ids = Array.from({ length: 200 }, (_, i) => `job-${i}`)
    for (const id of ids) expect(claimant(id, peers)).toBe(claimant(id, [...peers].reverse()))
    const moved = ids.filter((id) => claimant(id, peers) !== claimant(id, ['peerA', 'peerB']))
    expect(moved.every((id) => claimant(id, peers) === 'peerC')).toBe(true)
    expect(new Set(ids.map((id) => claimant(id, peers))).size).toBe(3)
  })

  it('validates the runner: and supervisor: sections with exact messages', () => {
    expect(readRunnerConfig({ concurrency: 8, kinds: ['sal'], env: { A: 'b' } })).toEqual({
      concurrency: 8,
      builtins: ['sal'],
      env: { A: 'b' },
    })
    const runnerIssues = (() => {
      try {
        readRunnerConfig({ concurrency: 0, kinds: ['perl'], colour: 'blue' })
      } catch (err) {
        return (err as ConfigError).issues
      }
      return []
    })()
    expect(runnerIssues).toEqual([
      'runner.colour: unknown setting (known: concurrency, maxQueueLength, maxTimeoutMs, workDir, kinds, env, plugins, osiris)',
      'runner.concurrency: expected an integer ≥ 1, got 0',
      'runner.kinds[0]: expected one of hero, sal, osiris, got "perl"',
    ])
    expect(readRunnerConfig({ maxTimeoutMs: 604_800_000 })).toEqual({ maxTimeoutMs: 604_800_000 })
    expect(() => readRunnerConfig({ maxTimeoutMs: 604_800_001 })).toThrow(
      'runner.maxTimeoutMs: expected an integer from 1 to 604800000 (7 days, the longest timeoutMs a job may carry), got 604800001',
    )
    expect(() => readSupervisorConfig({ maxDispatches: -1, capabilities: ['Bad Name'] })).toThrow(ConfigError)
    expect(readSupervisorConfig({ maxDispatches: 3, gossip: false, capabilities: ['sal'] })).toEqual({
      maxDispatches: 3,
      gossip: false,
      gossipCapabilities: ['sal'],
    })
  })
})
