import { mkdir } from 'node:fs/promises'
import { chromium } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { HorusClient } from '../src/client/index.js'
import { mountDashboard } from '../src/gateway-dashboard/index.js'
import { ClientMesh, hears, runnerVisible, serveItems } from './client-mesh.js'
import { CHROMIUM_ARGS, chromiumPath, pixelShares } from './dashboard-browser.js'

const mesh = new ClientMesh()
let fixture: Awaited<ReturnType<typeof serveItems>>
beforeAll(async () => {
  fixture = await serveItems([2, 7, 1, 8])
})
afterAll(() => fixture.close())
afterEach(() => mesh.cleanup())

/** fetch → (gate ‖ count) → store; `gate` holds until the test releases it. */
function workflow(url: string): string {
  return `workflow:
  name: "dashboard-demo"
  steps:
    - id: "fetch"
      runner: "hero"
      payload: "!!http.get url:'${url}'"
    - id: "gate"
      runner: "sal"
      depends_on: ["fetch"]
      payload: |
        wait_for_release();
        ({ released: true })
    - id: "count"
      runner: "sal"
      depends_on: ["fetch"]
      payload: "({ count: input.fetch.items.length })"
    - id: "store"
      runner: "osiris"
      depends_on: ["gate", "count"]
      payload: |
        osiris.model("dashboard").create({ count: input.count.count, released: input.gate.released });
`
}

const holdingWorkflow = `workflow:
  name: "held-demo"
  steps:
    - id: "hold"
      runner: "sal"
      payload: |
        hold();
        ({ held: true })
    - id: "after"
      runner: "sal"
      depends_on: ["hold"]
      payload: "1"
`

describe('dashboard acceptance (headless Chromium)', () => {
  it('watches a run started through the SDK go to completed, live, with step logs on click', async () => {
    let release: () => void = () => {}
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    const [c, r, me] = [await mesh.member('coord'), await mesh.member('run'), await mesh.member('sdk')]
    const coord = await mesh.start(c, { roles: ['coordinator', 'supervisor'], gateway: true })
    let unhold: () => void = () => {}
    const held = new Promise<void>((resolve) => {
      unhold = resolve
    })
    const run = await mesh.start(r, {
      roles: ['runner'],
      bootstrap: [coord],
      options: {
        runner: {
          functions: {
            wait_for_release: async () => released.then(() => true),
            hold: async () => held.then(() => true),
          },
        },
      },
    })
    await runnerVisible(coord, 'sal')
    await hears(coord, [run])
    const gateway = coord.node.gateway
    if (gateway === undefined) throw new Error('no gateway')
    mountDashboard(gateway, { registry: coord.node.rpc })

    const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS })
    const client = await HorusClient.connect({ bootstrap: [coord.addr], identity: me.dataDir })
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 860 } })
      const errors: string[] = []
      page.on('pageerror', (err) => errors.push(err.message))
      await page.goto(`${gateway.url}/`)
      await page.locator(`tr[data-peer="${run.peerId}"]`).waitFor({ timeout: 15_000 })

      // The page is open before the run exists: it must learn of it by itself.
      const runId = await client.submitWorkflow(workflow(fixture.url))
      const row = page.locator(`tr[data-run="${runId}"]`)
      await row.waitFor({ timeout: 15_000 })
      await row.click()
      await page.locator('#dag g.step[data-step="gate"][data-state="running"]').waitFor({ timeout: 20_000 })
      expect(await page.locator('#run-status').getAttribute('data-status')).toBe('running')
      expect(await page.locator('#dag g.step').count()).toBe(4)
      expect(await page.locator('#dag g.step[data-step="fetch"]').getAttribute('data-state')).toBe(
        'succeeded',
      )

      release()
      await page.locator('#run-status[data-status="completed"]').waitFor({ timeout: 20_000 })
      for (const step of ['fetch', 'gate', 'count', 'store']) {
        await page
          .locator(`#dag g.step[data-step="${step}"][data-state="succeeded"]`)
          .waitFor({ timeout: 5_000 })
      }
      expect(await page.locator('#live').getAttribute('data-mode')).toBe('live')
      expect(await page.locator('#events li').count()).toBeGreaterThan(0)

      await page.locator('#dag g.step[data-step="store"]').click()
      await page.locator('#step-panel[data-step="store"]').waitFor({ timeout: 5_000 })
      expect(await page.locator('#step-panel').textContent()).toContain('released')
      await page.locator('#step-panel h3', { hasText: 'Logs' }).waitFor()

      // History from the start of the run, and a timeline bar per attempt.
      await page.locator('#events li[data-type="workflow_started"]').waitFor({ timeout: 5_000 })
      await page.locator('#timeline rect.bar[data-outcome="succeeded"]').nth(3).waitFor({ timeout: 5_000 })
      expect(await page.locator('#timeline rect.bar').count()).toBe(4)

      // A finished run's DAG is not redrawn by the next refresh (a click would race a detached node).
      await page.evaluate("document.querySelector('#dag svg').dataset.mark = 'kept'")
      // Two refreshes: the first one's answer has surely been drawn once the second is asked for.
      for (let i = 0; i < 2; i++) {
        await page.waitForRequest(
          (req) => req.url().endsWith('/rpc') && (req.postData() ?? '').includes('get_workflow_status'),
          { timeout: 15_000 },
        )
      }
      expect(await page.evaluate("document.querySelector('#dag svg').dataset.mark")).toBe('kept')

      // Key regions of the picture: each step box is painted in the succeeded colour, the DAG is not blank.
      const dagBox = await page.locator('#dag').boundingBox()
      if (dagBox === null) throw new Error('no #dag box')
      const regions = []
      for (const step of ['fetch', 'gate', 'count', 'store']) {
        const box = await page.locator(`#dag g.step[data-step="${step}"] rect`).boundingBox()
        if (box === null) throw new Error(`no box for ${step}`)
        // The right half of the box's lower band: fill only (the text sits at the left).
        regions.push({
          x: box.x - dagBox.x + box.width * 0.6,
          y: box.y - dagBox.y + box.height * 0.75,
          width: box.width * 0.3,
          height: box.height * 0.15,
          color: '#e3f9ef',
        })
      }
      const dagShot = await page.locator('#dag').screenshot()
      const shares = await pixelShares(page, dagShot, regions)
      for (const share of shares.regions) expect(share).toBeGreaterThan(0.8)
      expect(shares.painted).toBeGreaterThan(0.05)

      // Opened afresh on a finished run, the page still shows its whole history.
      await page.reload()
      await page.locator('#events li[data-type="workflow_started"]').waitFor({ timeout: 10_000 })
      expect(await page.locator('#run-submitter').getAttribute('class')).toContain('mono')
      expect(await page.locator('#run-outputs').textContent()).toContain('Outputs')

      // Search and filter the runs list.
      const heldRun = await client.submitWorkflow(holdingWorkflow)
      await page.goto(`${gateway.url}/#/`)
      await page.locator('#runs-search').fill('dashboard-demo')
      await page.locator(`tr[data-run="${heldRun}"]`).waitFor({ state: 'detached', timeout: 10_000 })
      expect(await page.locator(`tr[data-run="${runId}"]`).count()).toBe(1)
      await page.locator('#runs-search').fill('no-such-workflow-zzz')
      await page.locator('#runs-body .empty', { hasText: 'No run matches.' }).waitFor({ timeout: 10_000 })
      await page.locator('#runs-search').fill('')
      await page.locator('#runs-status').selectOption('running')
      await page.locator(`tr[data-run="${heldRun}"]`).waitFor({ timeout: 10_000 })
      expect(await page.locator(`tr[data-run="${runId}"]`).count()).toBe(0)

      // Actions: pause, resume, and cancel only once confirmed.
      await page.locator(`tr[data-run="${heldRun}"]`).click()
      await page.locator('#dag g.step[data-step="hold"][data-state="running"]').waitFor({ timeout: 20_000 })
      await page.locator('button[data-action="pause"]').click()
      await page.locator('#run-status[data-status="paused"]').waitFor({ timeout: 10_000 })
      await page.locator('button[data-action="resume"]').click()
      await page.locator('#run-status[data-status="running"]').waitFor({ timeout: 10_000 })
      page.once('dialog', (dialog) => {
        dialog.dismiss().catch(() => {})
      })
      await page.locator('button[data-action="cancel"]').click()
      expect(await page.locator('#run-status').getAttribute('data-status')).toBe('running')
      const dialogs: string[] = []
      page.once('dialog', (dialog) => {
        dialogs.push(dialog.message())
        dialog.accept().catch(() => {})
      })
      await page.locator('button[data-action="cancel"]').click()
      await page.locator('#run-status[data-status="cancelled"]').waitFor({ timeout: 10_000 })
      expect(dialogs[0]).toContain(`cancel run ${heldRun}`)
      expect(await page.locator('#action-error').textContent()).toBe('')

      await mkdir('test-artifacts', { recursive: true })
      await page.screenshot({ path: 'test-artifacts/dashboard.png', fullPage: true })
      expect(errors).toEqual([])
    } finally {
      unhold()
      release()
      await client.close()
      await browser.close()
    }
  })
})
