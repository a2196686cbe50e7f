import { chromium } from 'playwright-core'
import { afterEach, describe, expect, it } from 'vitest'
import { HorusClient } from '../src/client/index.js'
import { mountDashboard } from '../src/gateway-dashboard/index.js'
import { waitFor } from '../src/testing/index.js'
import { ClientMesh, runnerVisible } from './client-mesh.js'
import { CHROMIUM_ARGS, chromiumPath } from './dashboard-browser.js'

const mesh = new ClientMesh()
afterEach(() => mesh.cleanup())

/** A human approval, then a step that fails on its first execution only. */
const WORKFLOW = `workflow:
  name: "approve-then-flaky"
  steps:
    - id: "approve"
      wait_for_signal: "approve"
    - id: "apply"
      runner: "sal"
      depends_on: ["approve"]
      payload: "({ applied: flaky(), by: input.approve.by })"
`

describe('dashboard run actions (headless Chromium)', () => {
  it('delivers a signal from its form, then reruns the failed step from the retry button', async () => {
    let executions = 0
    const [c, me] = [await mesh.member('coord'), await mesh.member('sdk')]
    const coord = await mesh.start(c, {
      roles: ['coordinator', 'supervisor', 'runner'],
      gateway: true,
      options: {
        runner: {
          functions: {
            flaky: async () => {
              executions++
              if (executions === 1) throw new Error('first execution fails')
              return executions
            },
          },
        },
      },
    })
    await runnerVisible(coord, 'sal')
    const gateway = coord.node.gateway
    if (gateway === undefined) throw new Error('no gateway')
    mountDashboard(gateway, { registry: coord.node.rpc })

    const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS })
    const client = await HorusClient.connect({ bootstrap: [coord.addr], identity: me.dataDir })
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 860 } })
      const errors: string[] = []
      page.on('pageerror', (err) => errors.push(err.message))
      const runId = await client.submitWorkflow(WORKFLOW)
      await page.goto(`${gateway.url}/#/runs/${encodeURIComponent(runId)}`)
      await page
        .locator('#dag g.step[data-step="approve"][data-state="running"]')
        .waitFor({ timeout: 15_000 })
      expect(await page.locator('#retry-run').count()).toBe(0)

      // Data that is not JSON is refused on the page, naming the signal; nothing is sent.
      await page.locator('input[data-signal-data="approve"]').fill('{by: ana}')
      await page.locator('button[data-signal="approve"]').click()
      await page.locator('#run-action-error:not([hidden])').waitFor({ timeout: 5_000 })
      expect(await page.locator('#run-action-error').textContent()).toContain('signal "approve" is not JSON')
      expect((await client.getStatus(runId)).waitingFor).toEqual(['approve'])

      await page.locator('input[data-signal-data="approve"]').fill('{"by":"ana"}')
      await page.locator('button[data-signal="approve"]').click()
      await page.locator('#run-status[data-status="failed"]').waitFor({ timeout: 20_000 })
      expect(await page.locator('button[data-signal]').count()).toBe(0)

      await page.locator('#retry-run').click()
      await page.locator('#run-status[data-status="completed"]').waitFor({ timeout: 20_000 })
      await page.locator('#dag g.step[data-step="apply"]').click()
      await page.locator('#step-panel[data-step="apply"]').waitFor({ timeout: 5_000 })
      expect(await page.locator('#step-panel').textContent()).toContain('"by": "ana"')

      const run = await client.getStatus(runId)
      expect(run).toMatchObject({ status: 'completed', epoch: 1, retryable: false })
      expect(run.steps.find((s) => s.id === 'apply')).toMatchObject({ attempt: 2, output: { applied: 2 } })
      expect(run.steps.find((s) => s.id === 'approve')).toMatchObject({ output: { by: 'ana' } })
      expect(executions).toBe(2)
      expect(errors).toEqual([])
    } finally {
      await client.close()
      await browser.close()
    }
  })

  it('shows an action its grant does not cover as refused, leaving the run unchanged; a run it may not read says so', async () => {
    let executions = 0
    const [c, me] = [await mesh.member('coord'), await mesh.member('sdk')]
    // An operator's gateway narrowed to the client role and the hero capability: it may read and
    // control the runs its node submitted, not rerun their sal steps, and not see anyone else's.
    const coord = await mesh.start(c, {
      roles: ['coordinator', 'supervisor', 'runner'],
      extra: {
        gateway: { listen: '127.0.0.1:0', grant: { roles: ['client'], capabilities: ['hero'] } },
      },
      options: {
        runner: {
          functions: {
            flaky: async () => {
              executions++
              throw new Error('fails every time')
            },
          },
        },
      },
    })
    await runnerVisible(coord, 'sal')
    const gateway = coord.node.gateway
    const coordinator = coord.roles.coordinator
    if (gateway === undefined || coordinator === undefined) throw new Error('no gateway or coordinator')
    mountDashboard(gateway, { registry: coord.node.rpc })
    const own = await coordinator.submit({
      workflow: { name: 'own-flaky', steps: [{ id: 'apply', runner: 'sal', payload: 'flaky()' }] },
    })
    await waitFor(async () => (await coordinator.status(own)).status === 'failed', {
      timeoutMs: 20_000,
      what: 'the run to fail',
    })

    const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS })
    const client = await HorusClient.connect({ bootstrap: [coord.addr], identity: me.dataDir })
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 860 } })
      const errors: string[] = []
      page.on('pageerror', (err) => errors.push(err.message))
      await page.goto(`${gateway.url}/#/runs/${encodeURIComponent(own)}`)
      await page.locator('#run-status[data-status="failed"]').waitFor({ timeout: 15_000 })
      await page.locator('#retry-run').click()
      const refusal = page.locator('#action-error[data-error="CapabilityDeniedError"]')
      await refusal.waitFor({ timeout: 10_000 })
      const said = await refusal.textContent()
      expect(said).toContain('Retry refused (CapabilityDeniedError)')
      expect(said).toContain('does not include capability "sal"')
      expect(said).toContain('The run was not changed.')
      // Still there after the page refreshed the run twice, and the run is as it was.
      for (let i = 0; i < 2; i++) {
        await page.waitForRequest(
          (req) => req.url().endsWith('/rpc') && (req.postData() ?? '').includes('get_workflow_status'),
          { timeout: 15_000 },
        )
      }
      expect(await refusal.textContent()).toBe(said)
      expect(await page.locator('#run-status').getAttribute('data-status')).toBe('failed')
      expect(await coordinator.status(own)).toMatchObject({ status: 'failed', epoch: 0 })
      expect(executions).toBe(1)

      // A run of another key: the page says access is refused (not "not found"), and offers nothing.
      const theirs = await client.submitWorkflow(WORKFLOW)
      await page.goto(`${gateway.url}/#/runs/${encodeURIComponent(theirs)}`)
      const denied = page.locator('#run-unavailable[data-error="RunAccessDeniedError"]')
      await denied.waitFor({ timeout: 15_000 })
      expect(await denied.locator('h2').textContent()).toBe('Access refused')
      expect(await denied.textContent()).toContain("neither the run's submitter nor trusted as admin")
      expect(await page.locator('button[data-action], #retry-run, button[data-signal]').count()).toBe(0)
      expect((await client.getStatus(theirs)).waitingFor).toEqual(['approve'])
      expect(errors).toEqual([])
    } finally {
      await client.close()
      await browser.close()
    }
  })
})
