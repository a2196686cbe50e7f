/**
 * Benchmark of the coordinator's pure core (no libp2p): workflow validation + compilation, the
 * run-state CRDT, and the scheduler. Run directly (`node dist/scripts/bench/workflow-core.js`) or
 * through the bench index, which calls `runWorkflowCoreBench()`. Takes well under 30 s.
 */

import { pathToFileURL } from 'node:url'
import { formatHlc, Hlc } from '../../src/protocols/state/hlc.js'
import { RunState } from '../../src/protocols/state/run-state.js'
import {
  commitAction,
  createRun,
  plan,
  recordJobUpdate,
} from '../../src/roles/coordinator/scheduling/index.js'
import { type CompiledWorkflow, compileWorkflow } from '../../src/roles/coordinator/workflow/index.js'

export interface BenchTable {
  title: string
  columns: string[]
  rows: (string | number)[][]
}

interface RawStep {
  id: string
  runner: string
  depends_on?: string[]
}

function chain(n: number): RawStep[] {
  return Array.from({ length: n }, (_, i) =>
    i === 0 ? { id: 's0', runner: 'hero' } : { id: `s${i}`, runner: 'hero', depends_on: [`s${i - 1}`] },
  )
}

/** Layers of `width` steps, each depending on 3 random steps of the previous layer. */
function layered(n: number, width = 100): RawStep[] {
  let seed = 7
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
    return seed / 2 ** 31
  }
  return Array.from({ length: n }, (_, i) => {
    const layer = Math.floor(i / width)
    if (layer === 0) return { id: `n${i}`, runner: 'sal' }
    const deps = new Set<string>()
    for (let k = 0; k < 3; k++) deps.add(`n${(layer - 1) * width + Math.floor(random() * width)}`)
    return { id: `n${i}`, runner: 'sal', depends_on: [...deps] }
  })
}

function fanOut(width: number): RawStep[] {
  const workers = Array.from({ length: width }, (_, i) => ({
    id: `w${i}`,
    runner: 'sal',
    depends_on: ['start'],
  }))
  return [
    { id: 'start', runner: 'hero' },
    ...workers,
    { id: 'end', runner: 'osiris', depends_on: workers.map((w) => w.id) },
  ]
}

const doc = (name: string, steps: RawStep[]) => ({ workflow: { name, steps } })

/** Median wall time of `fn` over `runs` runs after one warm-up, in ms. */
function time(runs: number, fn: () => void): number {
  fn()
  const samples: number[] = []
  for (let i = 0; i < runs; i++) {
    const started = performance.now()
    fn()
    samples.push(performance.now() - started)
  }
  samples.sort((a, b) => a - b)
  return samples[Math.floor(samples.length / 2)] as number
}

const round = (n: number, digits = 2) => Number(n.toFixed(digits))

function benchValidation(): BenchTable {
  const rows: (string | number)[][] = []
  for (const [shape, make] of [
    ['chain', chain],
    ['layered random DAG (width 100, 3 deps)', layered],
  ] as const) {
    for (const n of [10_000, 100_000]) {
      // Documents are built outside the timed region; compileWorkflow does not mutate them.
      const document = doc(shape, make(n))
      const ms = time(n > 10_000 ? 3 : 5, () => compileWorkflow(document))
      rows.push([shape, n, round(ms, 1), round((ms * 1_000) / n, 2)])
    }
  }
  return {
    title: 'Workflow validation + compilation',
    columns: ['shape', 'steps', 'median ms', 'µs/step'],
    rows,
  }
}

function benchCrdt(): BenchTable {
  const n = 10_000
  const stamp = (wall: number, node: string) => formatHlc({ wall, counter: 0, node })
  const a = RunState.create({
    run: 'bench',
    hlc: stamp(1, 'a'),
    workflow: { workflow: { name: 'w', steps: [{ id: 'a', runner: 'hero' }] } },
    inputs: {},
  })
  const b = new RunState('bench')
  for (let i = 0; i < n; i++) {
    a.setStep(`s${i}`, { attempt: 1, phase: 'succeeded', hlc: stamp(10 + i, 'a'), result: { i } })
    // Half the steps are newer on b (a later attempt), half older.
    b.setStep(`s${i}`, { attempt: i % 2 === 0 ? 2 : 1, phase: 'running', hlc: stamp(20 + i, 'b') })
    if (i % 10 === 0)
      a.appendLog({
        hlc: stamp(10 + i, 'a'),
        kind: 'event',
        type: 'step_succeeded',
        severity: 'info',
        message: `s${i}`,
      })
  }
  const rows: (string | number)[][] = []
  rows.push([
    'merge 10k-step state into a replica (half the steps change)',
    round(time(5, () => a.clone().merge(b))),
  ])
  rows.push(['merge again (idempotent, nothing changes)', round(time(5, () => a.merge(b)))])
  const json = JSON.stringify(a.toJSON())
  rows.push(['encode to JSON', round(time(5, () => JSON.stringify(a.toJSON())))])
  rows.push([
    `decode + validate JSON (${Math.round(json.length / 1024)} KiB)`,
    round(time(5, () => RunState.fromJSON(json))),
  ])
  rows.push(['digest (64 buckets)', round(time(5, () => a.clone().digest()))])
  const c = a.clone()
  c.setStep('s42', { attempt: 3, phase: 'dispatched', hlc: stamp(99_999, 'c') })
  const digest = c.digest()
  let repair = 0
  rows.push([
    'anti-entropy: deltaFor a digest differing in one step',
    round(
      time(5, () => {
        repair = a.deltaFor(digest).stepCount
      }),
    ),
  ])
  rows.push([`  (steps resent: ${repair} of ${n})`, ''])
  return { title: 'Run-state CRDT, 10k-step run', columns: ['operation', 'median ms'], rows }
}

/** Plans every round, commits, and reports every dispatched job done; returns ms per step. */
function simulateRun(workflow: CompiledWorkflow): { ms: number; rounds: number } {
  let now = 1_700_000_000_000
  const clock = new Hlc('bench', { now: () => now })
  const state = createRun(workflow, { run: 'bench', stamp: clock.now() })
  const started = performance.now()
  let rounds = 0
  for (;;) {
    rounds++
    const result = plan(workflow, state, now, { maxConcurrency: 10_000 })
    for (const action of result.actions) commitAction(state, action, clock.now())
    if (result.status === 'completed') break
    for (const action of result.actions) {
      if (action.type !== 'dispatch') continue
      recordJobUpdate(workflow, state, { type: 'started', step: action.step, attempt: 1 }, clock.now())
      recordJobUpdate(
        workflow,
        state,
        { type: 'succeeded', step: action.step, attempt: 1, result: null },
        clock.now(),
      )
    }
    now++
  }
  return { ms: performance.now() - started, rounds }
}

function benchScheduling(): BenchTable {
  const rows: (string | number)[][] = []
  for (const [label, steps] of [
    ['layered DAG, 10k steps, one plan() call mid-run', layered(10_000)],
    ['fan-out, 10k wide, one plan() call mid-run', fanOut(10_000)],
  ] as const) {
    const workflow = compileWorkflow(doc('plan', steps as RawStep[]))
    const clock = new Hlc('bench', { now: () => 1_700_000_000_000 })
    const state = createRun(workflow, { run: 'bench', stamp: clock.now() })
    // Finish the first half of the steps in topological order.
    for (const step of workflow.steps.slice(0, workflow.steps.length / 2)) {
      state.setStep(step.id, { attempt: 1, phase: 'succeeded', hlc: clock.now(), result: null })
    }
    const ms = time(5, () => plan(workflow, state, 1_700_000_000_000, { maxConcurrency: 100 }))
    rows.push([label, workflow.steps.length, round(ms), round((ms * 1_000) / workflow.steps.length, 2)])
  }
  for (const [label, steps] of [
    ['whole run, 1,000-step chain (plan per step)', chain(1_000)],
    ['whole run, 1,000-wide fan-out', fanOut(1_000)],
  ] as const) {
    const workflow = compileWorkflow(doc('run', steps as RawStep[]))
    simulateRun(workflow)
    const { ms, rounds } = simulateRun(workflow)
    rows.push([
      `${label}, ${rounds} plan rounds`,
      workflow.steps.length,
      round(ms),
      round((ms * 1_000) / workflow.steps.length, 2),
    ])
  }
  return {
    title: 'Scheduling (plan + commit + record, no I/O)',
    columns: ['case', 'steps', 'ms', 'µs/step'],
    rows,
  }
}

export async function runWorkflowCoreBench(): Promise<BenchTable[]> {
  return [benchValidation(), benchCrdt(), benchScheduling()]
}

function render(table: BenchTable): string {
  const lines = [
    `## ${table.title}`,
    '',
    `| ${table.columns.join(' | ')} |`,
    `|${table.columns.map(() => ' --- ').join('|')}|`,
  ]
  for (const row of table.rows) lines.push(`| ${row.join(' | ')} |`)
  return `${lines.join('\n')}\n`
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const tables = await runWorkflowCoreBench()
  process.stdout.write(`${tables.map(render).join('\n')}`)
}
