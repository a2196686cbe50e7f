/**
 * Waits longer than a timer can hold (2^31 − 1 ms, ~24.8 days): a sleep, a signal wait's timeout
 * and a run's timeout are held by the coordinator's wake timer, which must neither fire at once
 * nor — since the plan it runs sets it again — spin. And a job step whose timeout is longer than
 * a job envelope may live (24 h by default) is still signed with a lifetime verifiers accept.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { RunView } from '../src/roles/coordinator/index.js'
import { waitFor } from '../src/testing/index.js'
import {
  Executions,
  Gates,
  JobMesh,
  runnerVisible,
  step,
  submitParams,
  testKinds,
} from './coordinator-fixtures.js'

const mesh = new JobMesh()
afterEach(() => mesh.cleanup())

describe('a wait beyond setTimeout’s range', () => {
  it('keeps a 30-day sleep, a 40-day signal timeout and a 60-day run timeout without the wake timer firing', async () => {
    const warnings: string[] = []
    const onWarning = (warning: Error): void => void warnings.push(warning.name)
    process.on('warning', onWarning)
    try {
      const [h, c] = [await mesh.member('hub'), await mesh.member('cli')]
      const hub = await mesh.start(h, { roles: ['coordinator'] })
      const cli = await mesh.start(c, { roles: [], bootstrap: hub })
      const client = mesh.client(cli, hub)
      const workflow = {
        workflow: {
          name: 'patient',
          timeout: '60d',
          steps: [
            { id: 'nap', sleep: '30d' },
            { id: 'approve', wait_for_signal: 'go', timeout: '40d' },
          ],
        },
      }
      const { runId } = await client.call<{ runId: string }>(
        'coordinator.submit_workflow',
        submitParams(cli, workflow),
      )
      const status = (): Promise<RunView> =>
        client.call<RunView>('coordinator.get_workflow_status', { runId })
      const waiting = await waitFor(
        async () => {
          const view = await status()
          return step(view, 'nap').state === 'running' && view.waitingFor.includes('go') ? view : undefined
        },
        { what: 'the run to sleep and wait for its signal' },
      )
      const day = 86_400_000
      expect(Date.parse(step(waiting, 'nap').until as string) - Date.now()).toBeGreaterThan(29 * day)
      // One more round trip: a wake timer clamped to 1 ms would have fired (and warned) by now.
      expect((await status()).status).toBe('running')
      expect(warnings).not.toContain('TimeoutOverflowWarning')
      await client.call('coordinator.signal_workflow', { runId, name: 'go' })
      await waitFor(async () => step(await status(), 'approve').state === 'succeeded', {
        what: 'the signal to complete its step',
      })
      expect(step(await status(), 'nap').state).toBe('running')
      expect(warnings).not.toContain('TimeoutOverflowWarning')
    } finally {
      process.off('warning', onWarning)
    }
  })

  it('signs a job step with a 2-day timeout so that its supervisor and runner accept and run it', async () => {
    const [h, r, c] = [await mesh.member('hub'), await mesh.member('run'), await mesh.member('cli')]
    const hub = await mesh.start(h, { roles: ['coordinator', 'supervisor'] })
    const run = await mesh.start(r, {
      roles: ['runner'],
      bootstrap: hub,
      options: {
        runner: {
          builtins: false,
          kinds: testKinds(new Gates(), new Executions()),
          maxTimeoutMs: 3 * 86_400_000,
        },
      },
    })
    const cli = await mesh.start(c, { roles: [], bootstrap: hub })
    await runnerVisible(hub, 'echo', run)
    const client = mesh.client(cli, hub)
    const workflow = {
      workflow: { name: 'long-step', steps: [{ id: 'slow', runner: 'echo', payload: 'hi', timeout: '2d' }] },
    }
    const { runId } = await client.call<{ runId: string }>(
      'coordinator.submit_workflow',
      submitParams(cli, workflow),
    )
    const done = await client.call<RunView>(
      'coordinator.wait_for_completion',
      { runId, timeoutMs: 20_000 },
      { timeoutMs: 25_000 },
    )
    expect(done.status).toBe('completed')
    expect(step(done, 'slow')).toMatchObject({ state: 'succeeded', attempt: 1 })
  })
})
