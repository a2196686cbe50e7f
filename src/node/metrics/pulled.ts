/**
 * Metrics read at scrape time from counters the components already keep (`stats()`), so the
 * components need not know about Prometheus. A pulled counter is rebuilt from the source's
 * running totals on every scrape: it only ever rises, as long as the source lives as long as the
 * node (they all do).
 */
import { Counter, Gauge, type Registry } from 'prom-client'

/** One sample: its label values and its value. */
export type Sample = readonly [labels: Record<string, string>, value: number]

export interface PulledMetric {
  registry: Registry
  name: string
  help: string
  labelNames?: readonly string[]
  read(): Iterable<Sample>
}

export function pulledCounter(metric: PulledMetric): Counter {
  return new Counter({
    name: metric.name,
    help: metric.help,
    labelNames: metric.labelNames ?? [],
    registers: [metric.registry],
    collect() {
      this.reset()
      for (const [labels, value] of metric.read()) this.inc(labels, value)
    },
  })
}

export function pulledGauge(metric: PulledMetric): Gauge {
  return new Gauge({
    name: metric.name,
    help: metric.help,
    labelNames: metric.labelNames ?? [],
    registers: [metric.registry],
    collect() {
      this.reset()
      for (const [labels, value] of metric.read()) this.set(labels, value)
    },
  })
}

/** `{ a: 1, b: 2 }` as samples labelled `label="a"`, `label="b"`, with `fixed` labels on each. */
export function samplesOf(
  label: string,
  counts: Readonly<Record<string, number>> | ReadonlyMap<string, number>,
  fixed: Record<string, string> = {},
): Sample[] {
  const entries = counts instanceof Map ? [...counts] : Object.entries(counts)
  return entries.map(([key, value]) => [{ ...fixed, [label]: key }, value] as const)
}
