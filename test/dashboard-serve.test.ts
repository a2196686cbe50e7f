import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { afterEach, describe, expect, it } from 'vitest'
import { mountDashboard } from '../src/gateway-dashboard/index.js'
import { ClientMesh, ECHO_RUNNER, hears } from './client-mesh.js'
import { CHROMIUM_ARGS, chromiumPath } from './dashboard-browser.js'

const mesh = new ClientMesh()
afterEach(() => mesh.cleanup())

describe('dashboard served by a node gateway', () => {
  it('serves the page, its scripts and dagre from the package, and 404s anything else', async () => {
    const me = await mesh.member('gw')
    const node = await mesh.start(me, { roles: ['supervisor'], gateway: true })
    const gateway = node.node.gateway
    if (gateway === undefined) throw new Error('no gateway')
    mountDashboard(gateway, { registry: node.node.rpc })
    const url = gateway.url
    const page = await fetch(`${url}/`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toContain('text/html')
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'")
    const html = await page.text()
    expect(html).toContain('/dashboard/dagre.min.js')
    expect(html).toContain('supervisor.create_job') // the registry's methods are embedded
    for (const file of ['app.js', 'dag.js', 'dagre.min.js']) {
      const res = await fetch(`${url}/dashboard/${file}`)
      expect(res.status, file).toBe(200)
      expect(res.headers.get('content-type')).toContain('javascript')
    }
    expect((await fetch(`${url}/dashboard/style.css`)).headers.get('content-type')).toContain('text/css')
    expect((await fetch(`${url}/dashboard/../package.json`)).status).toBe(404)
    expect((await fetch(`${url}/nothing-here`)).status).toBe(404)
    // The gateway's own routes are untouched by the `/` mount.
    expect((await fetch(`${url}/healthz`)).status).toBe(200)
  })

  it('shows the mesh: this node and the runners it hears, with roles and capabilities', async () => {
    const [a, b] = [await mesh.member('gw'), await mesh.member('run')]
    const gw = await mesh.start(a, { roles: ['supervisor'], gateway: true })
    const run = await mesh.start(b, { roles: ['runner'], bootstrap: [gw], options: ECHO_RUNNER })
    await hears(gw, [run])
    const gateway = gw.node.gateway
    if (gateway === undefined) throw new Error('no gateway')
    mountDashboard(gateway)
    const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS })
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 720 } })
      const errors: string[] = []
      page.on('pageerror', (err) => errors.push(err.message))
      await page.goto(`${gateway.url}/`)
      const runnerRow = page.locator(`tr[data-peer="${run.peerId}"]`)
      await runnerRow.waitFor({ timeout: 15_000 })
      expect(await runnerRow.textContent()).toContain('echo')
      expect(await runnerRow.locator('.role-runner').count()).toBe(1)
      expect(await page.locator(`tr[data-peer="${gw.peerId}"]`).textContent()).toContain('this node')
      expect(await page.locator('#runs').textContent()).toContain('no coordinator')
      await mkdir('test-artifacts', { recursive: true })
      await page.screenshot({ path: join('test-artifacts', 'dashboard-mesh.png'), fullPage: true })
      expect(errors).toEqual([])
    } finally {
      await browser.close()
    }
  })

  it('asks for the token of a token-protected gateway and keeps it for the tab only', async () => {
    const token = 'dashboard-login-token-0123456789'
    const me = await mesh.member('gw')
    const gw = await mesh.start(me, {
      roles: ['coordinator', 'supervisor'],
      extra: { gateway: { listen: '127.0.0.1:0', token } },
    })
    const url = gw.node.gateway?.url as string
    // The page and its scripts are public files; the data is not.
    expect((await fetch(`${url}/`)).status).toBe(200)
    expect((await fetch(`${url}/dashboard/app.js`)).status).toBe(200)
    expect(
      (
        await fetch(`${url}/rpc`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'node.info' }),
        })
      ).status,
    ).toBe(401)
    const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS })
    try {
      const context = await browser.newContext({ viewport: { width: 1280, height: 720 } })
      const page = await context.newPage()
      const errors: string[] = []
      page.on('pageerror', (err) => errors.push(err.message))
      await page.goto(`${url}/`)
      await page.locator('#login').waitFor({ timeout: 10_000 })
      await page.locator('#login-token').fill('not-the-token-0123456789')
      await page.locator('#login button[type="submit"]').click()
      await page.locator('#login-error', { hasText: 'refused' }).waitFor({ timeout: 10_000 })
      expect(await page.evaluate("sessionStorage.getItem('horus.gateway.token')")).toBeNull()
      await page.locator('#login-token').fill(token)
      await page.locator('#login button[type="submit"]').click()
      await page.locator(`tr[data-peer="${gw.peerId}"]`).waitFor({ timeout: 10_000 })
      await page.locator('#runs-search').waitFor({ timeout: 10_000 })
      expect(await page.locator('#live').getAttribute('data-mode')).not.toBe('connecting')
      // A reload in the same tab stays signed in; a new tab (another session) asks again.
      await page.reload()
      await page.locator(`tr[data-peer="${gw.peerId}"]`).waitFor({ timeout: 10_000 })
      const other = await (await browser.newContext()).newPage()
      await other.goto(`${url}/`)
      await other.locator('#login').waitFor({ timeout: 10_000 })
      // Signing out forgets the token.
      await page.locator('#sign-out').click()
      await page.locator('#login').waitFor({ timeout: 10_000 })
      expect(await page.evaluate("sessionStorage.getItem('horus.gateway.token')")).toBeNull()
      expect(errors).toEqual([])
    } finally {
      await browser.close()
    }
  })
})
