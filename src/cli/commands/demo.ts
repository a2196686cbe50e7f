import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { HorusClient } from '../../client/horus-client.js'
import type { RunView } from '../../client/types.js'
import { ProcessMesh, type ProcessNode } from '../../testing/process-mesh.js'
import { parseCommandArgs } from '../args.js'
import { FixtureServer } from '../demo/fixture-server.js'
import { demoWorkflow } from '../demo/workflow.js'
import { UsageError } from '../errors.js'
import type { Output } from '../output.js'
import { createProgressView } from '../progress.js'
import { progressSink, untilInterrupted } from '../progress-sink.js'

export const DEMO_HELP = `Usage: horus demo [--once] [--keep]

Starts a local mesh of separate processes on loopback — one coordinator+supervisor node (with the
HTTP gateway and dashboard) and two runner nodes — submits a sample data pipeline (fetch from a
local HTTP fixture → process → three statistics in parallel → aggregate → store), shows the DAG's
progress live, prints the results, and keeps the mesh and dashboard up until Ctrl-C.

Options:
  --once    exit as soon as the run ends: 0 when it completed, 1 otherwise
  --keep    keep the demo's data directory (keys, configs, datastores) instead of deleting it`

/** The runners load this module's `functions` (process_data) into their scripts. */
const PLUGIN = fileURLToPath(new URL('../demo/plugin.js', import.meta.url))

export async function demoCommand(argv: string[], out: Output): Promise<number> {
  const { values, positionals } = parseCommandArgs('demo', argv, {
    once: { type: 'boolean' },
    keep: { type: 'boolean' },
  })
  if (positionals.length > 0) throw new UsageError(`demo: unexpected argument "${positionals[0]}"`)
  const dir = await mkdtemp(join(tmpdir(), 'horus-demo-'))
  const fixture = new FixtureServer()
  const mesh = new ProcessMesh({ dir })
  let client: HorusClient | undefined
  try {
    const fetchUrl = await fixture.start()
    out.error('starting a local mesh: 1 coordinator+supervisor node, 2 runner nodes …')
    const runner = { runner: { plugins: [PLUGIN] } }
    const nodes = await mesh.start([
      { name: 'control', roles: ['coordinator', 'supervisor'], gateway: true },
      { name: 'runner-1', roles: ['runner'], extra: runner },
      { name: 'runner-2', roles: ['runner'], extra: runner },
    ])
    for (const node of nodes)
      out.error(`  ${node.name.padEnd(9)} ${node.peerId}  ${node.multiaddrs[0] ?? ''}`)
    const control = nodes[0] as ProcessNode

    client = await HorusClient.connect({ bootstrap: control.multiaddrs, identity: mesh.clientDir })
    await waitForRunners(client, out)
    const runId = await client.submitWorkflow(demoWorkflow(fetchUrl))
    out.error(`submitted run ${runId}`)
    const view = createProgressView(progressSink(out))
    const connected = client
    const outcome = await untilInterrupted((signal) =>
      connected.waitForCompletion(runId, { signal, onProgress: (run) => view.update(run) }),
    )
    if (outcome === undefined) return 130
    view.finish(outcome.value)
    printResults(outcome.value, out)
    const dashboard = `${control.gatewayUrl ?? ''}/#/runs/${encodeURIComponent(runId)}`
    if (values.once === true) return outcome.value.status === 'completed' ? 0 : 1

    out.line(`dashboard: ${dashboard}`)
    out.error('the mesh keeps running; press Ctrl-C to stop it')
    await untilInterrupted(
      (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    )
    return outcome.value.status === 'completed' ? 0 : 1
  } finally {
    await client?.close()
    const codes = await mesh.stop()
    await fixture.stop()
    if (codes.some((code) => code !== 0))
      out.error(`warning: a node did not stop cleanly (exit codes ${codes.join(', ')})`)
    if (values.keep === true) out.error(`demo data kept in ${dir}`)
    else await rm(dir, { recursive: true, force: true })
  }
}

/** Runners join a moment after the coordinator; submitting earlier would only queue the steps. */
async function waitForRunners(client: HorusClient, out: Output): Promise<void> {
  const deadline = Date.now() + 30_000
  for (;;) {
    const runners = await client.liveness({ role: 'runner' })
    const kinds = new Set(runners.flatMap((r) => r.capabilities))
    if (['hero', 'sal', 'osiris'].every((k) => kinds.has(k)) && runners.length >= 2) return
    if (Date.now() > deadline) {
      out.error('warning: not every runner announced itself within 30 s; submitting anyway')
      return
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

function printResults(run: RunView, out: Output): void {
  out.line(`run ${run.runId}: ${run.status}`)
  const aggregate = run.steps.find((s) => s.id === 'aggregate')
  const store = run.steps.find((s) => s.id === 'store')
  if (aggregate?.output !== undefined) out.line(`statistics: ${JSON.stringify(aggregate.output)}`)
  if (store?.output !== undefined) out.line(`stored record: ${JSON.stringify(store.output)}`)
  if (run.error !== undefined)
    out.line(`error: ${run.error.step ?? ''} ${run.error.name}: ${run.error.message}`)
}
