/**
 * Prometheus metrics of a node (`node.metrics`), served by the gateway at `GET /metrics` with the
 * gateway's authentication. README "Metrics and tracing" lists every metric.
 */
export * from './constants.js'
export { metricsRoute } from './metrics-route.js'
export { NodeMetrics, type NodeMetricsInit } from './node-metrics.js'
export { pulledCounter, pulledGauge, type Sample } from './pulled.js'
