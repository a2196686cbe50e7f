import { mkdir } from 'node:fs/promises'
import { chromium } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { HorusClient } from '../src/client/index.js'
import { mountDashboard } from '../src/gateway-dashboard/index.js'
import { ClientMesh, hears, runnerVisible, serveItems } from './client-mesh.js'
import { CHROMIUM_ARGS, chromiumPath } from './dashboard-browser.js'

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

describe('dashboard acceptance (headless Chromium)', () => {
  it('watches a run started through the SDK go to completed, live, with step logs on click', async () => {
    let release: () => void = () => {}
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    const [c, r, me] = [await mesh.member('coord'), await mesh.member('run'), await mesh.member('sdk')]
    const coord = await mesh.start(c, { roles: ['coordinator', 'supervisor'], gateway: true })
    const run = await mesh.start(r, {
      roles: ['runner'],
      bootstrap: [coord],
      options: { runner: { functions: { wait_for_release: async () => released.then(() => true) } } },
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

      await mkdir('test-artifacts', { recursive: true })
      await page.screenshot({ path: 'test-artifacts/dashboard.png', fullPage: true })
      expect(errors).toEqual([])
    } finally {
      release()
      await client.close()
      await browser.close()
    }
  })
})
