/**
 * The cost of a `for_each` child in the coordinator's pure core (no libp2p): a 10,000-element map
 * run to completion through plan → commit → job reports, against its baseline measured in the same
 * run — the same number of static steps (a 10,000-wide fan-out). Both with every child in flight
 * at once, and with `max_parallel` 100 (a plan per slot that frees, as a live coordinator does).
 * Per-child cost over the real network is in workflow.ts.
 */
import { pathToFileURL } from 'node:url'
import { Hlc } from '../../src/protocols/state/hlc.js'
import {
  commitAction,
  createRun,
  plan,
  recordJobUpdate,
} from '../../src/roles/coordinator/scheduling/index.js'
import { type CompiledWorkflow, compileWorkflow } from '../../src/roles/coordinator/workflow/index.js'
import type { BenchTable } from './table.js'

const ITEMS = 10_000

function mapWorkflow(maxParallel: number | undefined): CompiledWorkflow {
  return compileWorkflow({
    workflow: {
      name: 'map',
      steps: [
        { id: 'split', runner: 'hero' },
        {
          id: 'each',
          runner: 'sal',
          depends_on: ['split'],
          for_each: 'steps.split.output',
          ...(maxParallel === undefined ? {} : { max_parallel: maxParallel }),
        },
        { id: 'join', runner: 'osiris', depends_on: ['each'] },
      ],
    },
  })
}

function fanOutWorkflow(): CompiledWorkflow {
  const workers = Array.from({ length: ITEMS }, (_, i) => ({
    id: `w${i}`,
    runner: 'sal',
    depends_on: ['split'],
  }))
  return compileWorkflow({
    workflow: {
      name: 'fan',
      steps: [
        { id: 'split', runner: 'hero' },
        ...workers,
        { id: 'join', runner: 'osiris', depends_on: workers.map((w) => w.id) },
      ],
    },
  })
}

/**
 * Runs the workflow to completion; every job finishes right after its dispatch. `batch` jobs are
 * reported between two plans (a live coordinator plans once per event-loop turn).
 */
function simulate(workflow: CompiledWorkflow, concurrency: number, batch: number) {
  let now = 1_700_000_000_000
  const clock = new Hlc('bench', { now: () => now })
  const state = createRun(workflow, { run: 'bench', stamp: clock.now() })
  const list = Array.from({ length: ITEMS }, (_, i) => i)
  const pending: { step: string; attempt: number }[] = []
  let plans = 0
  const started = performance.now()
  for (;;) {
    plans++
    const result = plan(workflow, state, now, { maxConcurrency: concurrency })
    for (const action of result.actions) {
      commitAction(state, action, clock.now())
      if (action.type === 'dispatch') pending.push({ step: action.step, attempt: action.attempt })
    }
    if (result.status === 'completed') break
    for (const job of pending.splice(0, batch)) {
      const output = job.step === 'split' ? list : null
      recordJobUpdate(workflow, state, { type: 'started', ...job }, clock.now())
      recordJobUpdate(workflow, state, { type: 'succeeded', ...job, result: output }, clock.now())
    }
    now++
  }
  const ms = performance.now() - started
  return { ms, plans, bytes: JSON.stringify(state.toJSON()).length }
}

export function runWorkflowMapBench(): BenchTable {
  const rows: (string | number)[][] = []
  const cases: [string, CompiledWorkflow, number, number][] = [
    ['fan-out (baseline), all in flight', fanOutWorkflow(), ITEMS, ITEMS],
    ['for_each, all in flight', mapWorkflow(undefined), ITEMS, ITEMS],
    ['fan-out (baseline), 100 in flight, 10 reports per plan', fanOutWorkflow(), 100, 10],
    ['for_each, max_parallel 100, 10 reports per plan', mapWorkflow(100), 10_000, 10],
  ]
  for (const [label, workflow, concurrency, batch] of cases) {
    simulate(workflow, concurrency, batch) // warm-up
    const { ms, plans, bytes } = simulate(workflow, concurrency, batch)
    rows.push([
      label,
      ITEMS,
      plans,
      Math.round(ms),
      Number(((ms * 1_000) / ITEMS).toFixed(1)),
      Math.round(bytes / ITEMS),
    ])
  }
  return {
    title: `for_each: ${ITEMS.toLocaleString('en')} children through the scheduler (pure core)`,
    columns: ['shape', 'children', 'plans', 'total ms', 'µs/child', 'state bytes/child'],
    rows,
    note:
      'Baseline: the same number of static steps in a fan-out, in the same run. A child costs a ' +
      'state entry and its events like any step; what the map adds is evaluating the list and ' +
      'reading the children at each plan.',
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { formatTable } = await import('./table.js')
  process.stdout.write(formatTable(runWorkflowMapBench()))
}
