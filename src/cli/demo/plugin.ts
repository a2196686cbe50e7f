/**
 * The demo runners' plugin: host functions an operator registers into the runner's script engine,
 * as the seed's system does. `process_data` is the one the seed's data-pipeline workflow calls.
 */

interface Reading {
  sensor: string
  value: number
}

function process_data(data: unknown): unknown {
  const readings = (data as { readings?: Reading[] } | null)?.readings
  if (!Array.isArray(readings)) throw new Error('process_data: expected { readings: [{ sensor, value }] }')
  const valid = readings.filter((r) => typeof r?.value === 'number' && Number.isFinite(r.value))
  return {
    count: valid.length,
    sensors: valid.map((r) => r.sensor),
    values: valid.map((r) => r.value),
  }
}

export const functions = { process_data }
