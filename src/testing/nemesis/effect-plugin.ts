/**
 * A runner plugin (config `runner.plugins`) with one kind, `effect`: a step with an external side
 * effect. It records each execution in a counter service over HTTP (see counter-service.ts), then
 * works for a while, then returns an output that depends only on its payload and its inputs, so a
 * test can compute every step's expected output from the workflow alone.
 *
 * Payload (JSON): `{ "value": 3, "sleepMs": 200, "counter": "http://10.80.0.2:8080" }`; every
 * field optional. Output: `{ "value": value + the sum of the upstream outputs' values }`.
 */

import { delay as sleep } from '../../client/events.js'
import { boundedCall } from '../../core/bounded-call.js'

interface EffectJob {
  id: string
  payload: string
  input?: Record<string, unknown>
}

interface EffectContext {
  signal: AbortSignal
  log(line: string): void
}

interface EffectPayload {
  value?: number
  sleepMs?: number
  counter?: string
}

/** How long the counter may take to acknowledge an execution. */
const RECORD_TIMEOUT_MS = 5_000

function parsePayload(text: string): EffectPayload {
  if (text.trim() === '') return {}
  const parsed = JSON.parse(text) as unknown
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error(`effect: payload must be a JSON object, got ${text.slice(0, 80)}`)
  return parsed as EffectPayload
}

function upstreamSum(input: Record<string, unknown> | undefined): number {
  let sum = 0
  for (const value of Object.values(input ?? {})) {
    const n = (value as { value?: unknown } | null)?.value
    if (typeof n === 'number') sum += n
  }
  return sum
}

async function effect(job: EffectJob, ctx: EffectContext): Promise<unknown> {
  const payload = parsePayload(job.payload)
  if (payload.counter !== undefined) {
    const counter = payload.counter
    const response = await boundedCall(ctx.signal, RECORD_TIMEOUT_MS, (signal) =>
      fetch(new URL('/executions', counter), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jobId: job.id, node: process.env.HORUS_NEMESIS_NODE ?? String(process.pid) }),
        signal,
      }),
    )
    if (!response.ok) throw new Error(`effect: the counter answered ${response.status}`)
    ctx.log(`recorded ${job.id}`)
  }
  await sleep(payload.sleepMs ?? 0, ctx.signal)
  return { value: (payload.value ?? 0) + upstreamSum(job.input) }
}

export const kinds = { effect }
