/** `GET /metrics`: the node's metrics for a Prometheus scraper, behind the gateway's own checks. */
import { sendError } from '../gateway/http-io.js'
import type { RouteHandler } from '../gateway/routes.js'
import { METRICS_PATH } from './constants.js'
import type { NodeMetrics } from './node-metrics.js'

export function metricsRoute(metrics: NodeMetrics): RouteHandler {
  return async (_req, res, ctx) => {
    if (ctx.url.pathname !== METRICS_PATH) {
      sendError(res, 404, 'NotFound', `no route for ${ctx.url.pathname}`)
      return
    }
    const body = await metrics.text()
    res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' })
    res.end(body)
  }
}
