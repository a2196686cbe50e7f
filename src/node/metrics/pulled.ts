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

/** The options both kinds take, with a `collect` that rebuilds the samples through `write`. */
function options<M extends { reset(): void }>(
  metric: PulledMetric,
  write: (target: M, labels: Record<string, string>, value: number) => void,
) {
  return {
    name: metric.name,
    help: metric.help,
    labelNames: metric.labelNames ?? [],
    registers: [metric.registry],
    collect(this: M) {
      this.reset()
      for (const [labels, value] of metric.read()) write(this, labels, value)
    },
  }
}

export function pulledCounter(metric: PulledMetric): Counter {
  return new Counter(options<Counter>(metric, (counter, labels, value) => counter.inc(labels, value)))
}

export function pulledGauge(metric: PulledMetric): Gauge {
  return new Gauge(options<Gauge>(metric, (gauge, labels, value) => gauge.set(labels, value)))
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
