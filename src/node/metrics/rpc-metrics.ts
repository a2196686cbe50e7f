/** RPC calls, errors and handling time by method and transport, from the registry's call observers. */
import { Counter, Histogram, type Registry } from 'prom-client'
import type { MethodRegistry } from '../../protocols/rpc/registry.js'
import { METRIC_PREFIX, RPC_DURATION_BUCKETS } from './constants.js'

/** Starts counting; returns the function that stops it. */
export function observeRpc(registry: Registry, methods: MethodRegistry): () => void {
  const labelNames = ['method', 'via'] as const
  const calls = new Counter({
    name: `${METRIC_PREFIX}rpc_calls_total`,
    help: 'RPC calls answered, by method and transport (libp2p or http).',
    labelNames,
    registers: [registry],
  })
  const errors = new Counter({
    name: `${METRIC_PREFIX}rpc_errors_total`,
    help: 'RPC calls answered with an error, by method, transport and error name.',
    labelNames: [...labelNames, 'error'],
    registers: [registry],
  })
  const duration = new Histogram({
    name: `${METRIC_PREFIX}rpc_duration_seconds`,
    help: 'Time to answer an RPC call (subscriptions: to answer the subscribe call), by method and transport.',
    labelNames,
    buckets: RPC_DURATION_BUCKETS,
    registers: [registry],
  })
  return methods.observers.add((call) => {
    const labels = { method: call.method, via: call.via }
    calls.inc(labels)
    duration.observe(labels, call.durationMs / 1000)
    if (call.outcome !== 'ok') errors.inc({ ...labels, error: call.outcome })
  })
}
