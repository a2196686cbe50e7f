/**
 * The dashboard a node's gateway serves at `/`: the mesh (nodes, roles, capabilities, load,
 * liveness), the runs, and each run's DAG drawn with dagre, coloured by step state and updated live
 * from `coordinator.events` over `POST /rpc/subscribe` (polling `coordinator.get_workflow_status`
 * when no event stream can be had), with step logs on click. Plain HTML/CSS/JS, no build step; the
 * page talks to the node only through the gateway's `/rpc` endpoints. Behind a token-protected gateway
 * the page asks for the token once and keeps it in the tab's sessionStorage.
 *
 * ```ts
 * if (node.gateway) mountDashboard(node.gateway, { registry: node.rpc })
 * ```
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { HttpGateway } from '../node/gateway/http-gateway.js'
import { sendError } from '../node/gateway/http-io.js'
import type { RouteHandler } from '../node/gateway/routes.js'
import type { MethodRegistry } from '../protocols/rpc/registry.js'
import { findAssetsDir, findDagreBundle } from './assets-dir.js'
import { DASHBOARD_ASSET_PREFIX, DASHBOARD_FILES } from './constants.js'

export { DASHBOARD_ASSET_PREFIX } from './constants.js'
export { DashboardAssetsMissingError } from './errors.js'

export interface DashboardOptions {
  /**
   * The node's registry: the page is told which methods exist (to say "this node runs no
   * coordinator" instead of failing calls). Without it the page asks `rpc.discover`.
   */
  registry?: MethodRegistry
  /** Where index.html, app.js, dag.js and style.css are. @default found next to this module */
  assetsDir?: string
}

/** Mounts the dashboard's routes on `gateway`; returns the function that unmounts them. */
export function mountDashboard(
  gateway: Pick<HttpGateway, 'route'>,
  options: DashboardOptions = {},
): () => void {
  const assetsDir = options.assetsDir ?? findAssetsDir()
  const dagre = findDagreBundle()
  // The page and its scripts are public files (the method names embedded in the page included):
  // served without the bearer token, so a browser can load the login form of a token-protected
  // gateway. Every call the page makes goes to /rpc, which checks the token.
  const open = { authenticatesItself: true }
  const unmount = [
    gateway.route('GET', '/', pageRoute(assetsDir, options.registry), open),
    gateway.route('GET', DASHBOARD_ASSET_PREFIX, assetRoute(assetsDir, dagre), open),
  ]
  return () => {
    for (const u of unmount) u()
  }
}

/** `/` and `/index.html` only: the route prefix `/` also catches every path nothing else serves. */
function pageRoute(assetsDir: string, registry: MethodRegistry | undefined): RouteHandler {
  return async (_req, res, ctx) => {
    const path = ctx.url.pathname
    if (path !== '/' && path !== '/index.html') {
      sendError(res, 404, 'NotFound', `no route for ${path}`)
      return
    }
    let html = await readFile(join(assetsDir, 'index.html'), 'utf8')
    if (registry !== undefined) {
      const methods = registry.openrpc().methods.map((m) => m.name)
      html = html.replace('data-methods=""', `data-methods="${escapeAttribute(JSON.stringify(methods))}"`)
    }
    send(res, 200, 'text/html; charset=utf-8', html)
  }
}

function assetRoute(assetsDir: string, dagre: string): RouteHandler {
  return async (_req, res, ctx) => {
    const name = ctx.url.pathname.slice(DASHBOARD_ASSET_PREFIX.length + 1)
    if (name === 'dagre.min.js') {
      send(res, 200, 'text/javascript; charset=utf-8', await readFile(dagre))
      return
    }
    const entry = DASHBOARD_FILES[name]
    if (entry === undefined) {
      sendError(res, 404, 'NotFound', `no dashboard file ${name}`)
      return
    }
    send(res, 200, entry.type, await readFile(join(assetsDir, entry.file)))
  }
}

function send(res: Parameters<RouteHandler>[1], status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    // Everything the page loads and calls is on this origin; nothing inline, nothing remote.
    'content-security-policy':
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
  })
  res.end(body)
}

function escapeAttribute(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')
}
