/**
 * The workflow features across separate OS processes — two coordinators (one also a supervisor),
 * a runner producing (builtins + producer kinds) and a runner consuming — driven by the CLI as a
 * user would: a 50 MB output passed from one runner to another through a coordinator whose memory
 * stays bounded, a 300-element for_each, steps after a failure and on_failure, a rerun from the
 * failed step, a signal, run inputs and env in scripts, a sleep surviving its owner's death, and
 * triggers replicated between the coordinators.
 * (`npm test` builds dist/ first; for a local run: `npx tsc -p tsconfig.build.json`.)
 */
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HorusClient } from '../src/client/index.js'
import type { RunView } from '../src/client/types.js'
import { waitFor } from '../src/testing/index.js'
import { ProcessMesh, type ProcessNode, stopProcess } from '../src/testing/process-mesh.js'
import { horus } from './cli-capture.js'

const BIN = fileURLToPath(new URL('../dist/src/cli/bin.js', import.meta.url))
const PRODUCER = fileURLToPath(new URL('./fixtures/workflow-producer.mjs', import.meta.url))
const CONSUMER = fileURLToPath(new URL('./fixtures/workflow-consumer.mjs', import.meta.url))

let dir: string
let processes: ProcessMesh
let coordA: ProcessNode
let coordB: ProcessNode
/** One SDK session for submitting and waiting (the CLI is used for what a user types). */
let client: HorusClient

/** `horus …` against a node, as the mesh's trusted client. */
function cli(node: ProcessNode, ...argv: string[]) {
  return horus([...argv, '--peer', node.multiaddrs[0] as string, '--data-dir', processes.clientDir])
}

/** Submits through the CLI to `node` (which then owns the run). */
async function submitVia(node: ProcessNode, name: string, yaml: string, ...flags: string[]): Promise<string> {
  const file = join(dir, `${name}.yaml`)
  await writeFile(file, yaml)
  const result = await cli(node, 'workflow', 'submit', file, '--json', ...flags)
  expect(result.code, result.stderr).toBe(0)
  return (JSON.parse(result.stdout) as { runId: string }).runId
}

function submit(yaml: string, inputs: Record<string, unknown> = {}): Promise<string> {
  return client.submitWorkflow(yaml, inputs)
}

async function status(node: ProcessNode, runId: string): Promise<RunView> {
  const result = await cli(node, 'workflow', 'status', runId, '--json')
  expect(result.code, result.stderr).toBe(0)
  return JSON.parse(result.stdout) as RunView
}

function finished(runId: string, timeoutMs = 60_000): Promise<RunView> {
  return client.waitForCompletion(runId, { signal: AbortSignal.timeout(timeoutMs) })
}

const step = (run: RunView, id: string) => run.steps.find((s) => s.id === id)
const outputOf = <T>(run: RunView, id: string): T => step(run, id)?.output as T

/** Peak resident memory of a process (Linux `VmHWM`), in bytes. */
function peakRss(pid: number): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(kb?.[1] ?? 0) * 1024
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'horus-wf-proc-'))
  processes = new ProcessMesh({ dir, bin: BIN })
  const lease = { leaseTtlMs: 3_000, leaseGraceMs: 1_000 }
  ;[coordA, coordB] = (await processes.start([
    { name: 'coordA', roles: ['coordinator', 'supervisor'], extra: { coordinator: lease } },
    { name: 'coordB', roles: ['coordinator'], extra: { coordinator: lease } },
    { name: 'produce', roles: ['runner'], extra: { runner: { plugins: [PRODUCER] } } },
    { name: 'consume', roles: ['runner'], extra: { runner: { kinds: [], plugins: [CONSUMER] } } },
  ])) as [ProcessNode, ProcessNode]
  // Runners announce their kinds in heartbeats; workflows are validated against them.
  for (const node of [coordA, coordB]) {
    await waitFor(
      async () => {
        const result = await cli(node, 'mesh', 'runners', '--json')
        if (result.code !== 0) return undefined
        const kinds = new Set(
          (JSON.parse(result.stdout) as { capabilities: string[] }[]).flatMap((r) => r.capabilities),
        )
        return ['bigout', 'bigin', 'echo', 'sal'].every((k) => kinds.has(k))
      },
      { timeoutMs: 45_000, intervalMs: 500, what: `${node.name} to see both runners` },
    )
  }
  client = await HorusClient.connect({
    bootstrap: [coordA.multiaddrs[0] as string],
    identity: processes.clientDir,
  })
}, 120_000)

afterAll(async () => {
  await client?.close()
  await processes?.stop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('workflows across processes', () => {
  // Two runs, each given 120 s (the transfers are disk- and CPU-bound: slow on a loaded machine).
  it('passes a 50 MB output from one runner to another; the coordinator never holds it whole', async () => {
    const big = (mb: number) => `workflow:
  name: big
  steps:
    - { id: produce, runner: bigout, payload: "${mb}" }
    - { id: consume, runner: bigin, depends_on: [produce] }
`
    // A first, smaller transfer warms every code path up, so the next one measures the transfer.
    expect((await finished(await submit(big(8)), 120_000)).status).toBe('completed')
    const pid = coordA.child.pid as number
    const before = peakRss(pid)
    const run = await finished(await submit(big(50)), 120_000)
    expect(run.status, JSON.stringify(run.steps.map((s) => [s.id, s.state, s.error]))).toBe('completed')
    const rows = 50 * 1024
    let checksum = 0
    for (let i = 0; i < rows; i++) {
      const head = String(i).padStart(8, '0')
      for (let k = 0; k < 8; k++) checksum = (checksum * 31 + head.charCodeAt(k)) >>> 0
    }
    expect(step(run, 'consume')?.output).toMatchObject({ rows, bytes: rows * 1008, checksum })
    const ref = step(run, 'produce')?.output as { $blob: string; size: number }
    expect(ref.size).toBeGreaterThan(50_000_000)
    expect(step(run, 'consume')?.runnerPeer).toBe(processes.nodes[3]?.peerId)
    // The coordinator fetched the bytes from the producer and served them to the consumer, a
    // window at a time through its disk: its peak memory grew by far less than their size
    // (whole, and parsed, they would have taken several times it).
    const growth = peakRss(pid) - before
    expect(growth, `coordinator peak RSS grew by ${Math.round(growth / 1e6)} MB`).toBeLessThan(ref.size * 0.6)
  }, 300_000)

  it('maps over 300 elements, in order', async () => {
    const runId = await submit(
      `workflow:
  name: map
  steps:
    - { id: split, runner: sal, payload: "Array.from({ length: 300 }, (_, i) => i)" }
    - id: each
      runner: echo
      depends_on: [split]
      for_each: steps.split.output
      max_parallel: 50
      env: { WF_SQUARE: item }
`,
    )
    const run = await finished(runId, 120_000)
    expect(run.status).toBe('completed')
    const outputs = step(run, 'each')?.output as { input: { item: number; index: number } }[]
    expect(outputs.map((o) => o.input.item)).toEqual(Array.from({ length: 300 }, (_, i) => i))
    expect(step(run, 'each')?.items).toEqual({ total: 300, counts: { succeeded: 300 } })
  })

  it('runs a cleanup after a failure and on_failure with the failure; a rerun from the failed step completes', async () => {
    const marker = join(dir, 'fixed')
    const runId = await submitVia(
      coordA,
      'flaky',
      `workflow:
  name: flaky
  inputs: { region: { default: eu } }
  steps:
    - { id: prepare, runner: sal, payload: "({ region: inputs.region, mode: env.WF_MODE })", env: { WF_MODE: "'fast'" } }
    - { id: work, runner: flaky, payload: "${marker}", depends_on: [prepare] }
    - { id: cleanup, runner: echo, depends_on: [work], trigger_rule: all_done }
  on_failure:
    - { id: alert, runner: echo, env: { WF_WHY: run.error.message } }
`,
      '--input',
      'region=us',
    )
    const failed = await finished(runId)
    expect(failed.status).toBe('failed')
    expect(step(failed, 'prepare')?.output).toEqual({ region: 'us', mode: 'fast' })
    expect(step(failed, 'cleanup')?.state).toBe('succeeded')
    expect(outputOf<{ env: { WF_WHY: string } }>(failed, 'alert').env.WF_WHY).toContain('does not exist yet')
    await writeFile(marker, 'ok')
    const retried = await cli(coordB, 'workflow', 'retry', runId, '--wait', '--json')
    expect(retried.code, retried.stderr).toBe(0)
    const done = JSON.parse(retried.stdout) as RunView
    expect(done).toMatchObject({ status: 'completed', epoch: 1 })
    expect(step(done, 'work')?.output).toBe('recovered')
    // The step that succeeded kept its output and did not run again.
    expect(step(done, 'prepare')?.jobId).toBe(`${runId}/prepare/1`)
  })

  it('a signal from the CLI completes the step waiting for it', async () => {
    const runId = await submit(
      `workflow:
  name: approval
  steps:
    - { id: approve, wait_for_signal: release, timeout: 5m }
    - { id: ship, runner: echo, depends_on: [approve] }
`,
    )
    await waitFor(async () => (await status(coordB, runId)).waitingFor.includes('release'), {
      intervalMs: 250,
      what: 'the run to wait for the signal',
    })
    const signalled = await cli(coordB, 'workflow', 'signal', runId, 'release', '--data', '{"approved":true}')
    expect(signalled.code, signalled.stderr).toBe(0)
    const run = await finished(runId)
    expect(run.status).toBe('completed')
    expect(outputOf<{ input: unknown }>(run, 'ship').input).toEqual({ approve: { approved: true } })
  })

  it('a trigger added on one coordinator is listed on the other, and removed everywhere', async () => {
    const file = join(dir, 'nightly.yaml')
    await writeFile(file, 'workflow:\n  name: nightly\n  steps:\n    - { id: a, runner: echo }\n')
    const added = await cli(
      coordA,
      'trigger',
      'add',
      'nightly',
      '--workflow',
      file,
      '--cron',
      '0 3 * * *',
      '--catch-up',
      '1',
    )
    expect(added.code, added.stderr).toBe(0)
    await waitFor(
      async () => (await cli(coordB, 'trigger', 'list')).stdout.includes('nightly  cron "0 3 * * *"'),
      {
        intervalMs: 250,
        what: 'coordB to list the trigger',
      },
    )
    expect((await cli(coordB, 'trigger', 'remove', 'nightly')).code).toBe(0)
    await waitFor(async () => (await cli(coordA, 'trigger', 'list')).stdout === 'no triggers', {
      intervalMs: 250,
      what: 'coordA to drop it',
    })
  })

  // Last: it kills a coordinator.
  it('a sleep survives the death of the coordinator that owns the run', async () => {
    const runId = await submitVia(
      coordB,
      'nap',
      `workflow:
  name: nap
  steps:
    - { id: nap, sleep: 6s }
    - { id: after, runner: echo, depends_on: [nap] }
`,
    )
    const started = await waitFor(
      async () => {
        const run = await status(coordB, runId)
        return step(run, 'nap')?.state === 'running' ? step(run, 'nap') : undefined
      },
      { intervalMs: 200, what: 'the sleep to start' },
    )
    await waitFor(async () => (await status(coordA, runId).catch(() => undefined))?.owner === coordB.peerId, {
      intervalMs: 200,
      what: 'coordA to hold a replica of the run',
    })
    await stopProcess(coordB.child, 'SIGKILL')
    const run = await finished(runId, 60_000)
    expect(run.status).toBe('completed')
    expect(run.owner).toBe(coordA.peerId)
    // The new owner woke the step when the first owner would have: not earlier.
    const wake = Date.parse(started?.until as string)
    expect(Date.parse(step(run, 'nap')?.finishedAt as string)).toBeGreaterThanOrEqual(wake)
    expect(Date.parse(step(run, 'after')?.startedAt as string)).toBeGreaterThanOrEqual(wake)
  })
})
