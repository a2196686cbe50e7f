/**
 * Verifiable provenance (issue 10): a run on a real 3-node mesh (a coordinator+supervisor, a second
 * coordinator holding a replica, a runner) is exported as a bundle — over RPC from the replica and
 * by the CLI as a separate process — and verified offline. Then every kind of tampering: one
 * changed character anywhere that matters (property-based), and the named attacks — a forged
 * submission, job, result, output or key, steps reordered, a result replayed onto another job, a
 * job of another run — each refused with the check and the step that failed.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunBundle, type RunBundleReport, signRunBundle, verifyRunBundle } from '../src/client/index.js'
import { authoritySigner, generateSigner, toHex } from '../src/protocols/jobs/index.js'
import type { KindHandler } from '../src/roles/runner/index.js'
import { waitFor } from '../src/testing/index.js'
import { refusal, scopedTrust } from './authority-fixtures.js'
import { horus } from './cli-capture.js'
import {
  JobMesh,
  type MeshMember,
  type RunningMember,
  runnerVisible,
  submitParams,
} from './coordinator-fixtures.js'
import { runCli } from './helpers/cli.js'
import { addr } from './trust-fixtures.js'

/** A diamond with a retried step and a composed workflow, so every check has something to bite. */
const DIAMOND = {
  workflow: {
    name: 'diamond',
    inputs: { greeting: { default: 'hi' } },
    steps: [
      { id: 'a', runner: 'hero', payload: 'a' },
      { id: 'b', runner: 'hero', payload: 'b', depends_on: ['a'] },
      {
        id: 'c',
        runner: 'hero',
        payload: 'flaky',
        depends_on: ['a'],
        retry: { max_attempts: 2, initial_delay: 1 },
      },
      { id: 'inner', workflow: 'child', depends_on: ['b'], with: { from: 'steps.b.output.hero' } },
      { id: 'd', runner: 'hero', payload: { last: true }, depends_on: ['c', 'inner'] },
      // Over the recording limits: the output is recorded once (in the step), the next envelope
      // without its input; export puts both back.
      { id: 'big', runner: 'hero', payload: 'big' },
      { id: 'after', runner: 'hero', payload: 'after', depends_on: ['big'] },
    ],
  },
  workflows: {
    child: {
      name: 'child',
      inputs: { from: null },
      outputs: { x: 'steps.x.output' },
      steps: [{ id: 'x', runner: 'hero', payload: 'x' }],
    },
  },
}

/** `hero` echoes its payload and input; payload `flaky` fails its first attempt. */
const hero: KindHandler = async (job) => {
  if (job.payload === 'flaky' && job.id.endsWith('/1')) throw new Error('first attempt fails')
  if (job.payload === 'big') return { blob: 'x'.repeat(70 * 1024) }
  return { hero: job.payload, input: job.input }
}

/** A signal gates a fan-out; a sleep and an all_done step follow: the workflow features' provenance. */
const FANOUT = {
  workflow: {
    name: 'fanout',
    steps: [
      { id: 'gate', wait_for_signal: 'go' },
      { id: 'pause', sleep: 1, depends_on: ['gate'] },
      {
        id: 'each',
        runner: 'hero',
        payload: 'each',
        depends_on: ['gate'],
        for_each: 'steps.gate.output.items',
        env: { ITEM: 'item' },
      },
      // An empty list: the step succeeds at once with [] and no children.
      {
        id: 'none',
        runner: 'hero',
        payload: 'none',
        depends_on: ['gate'],
        for_each: 'steps.gate.output.empty',
      },
      { id: 'sum', runner: 'hero', payload: 'sum', depends_on: ['each', 'pause', 'none'] },
      { id: 'tidy', runner: 'hero', payload: 'tidy', depends_on: ['sum'], trigger_rule: 'all_done' },
    ],
  },
}

const mesh = new JobMesh()
let fanout: RunBundle
let dir: string
let bundle: RunBundle
let otherRun: RunBundle
let hub: RunningMember
let replica: RunningMember
let carol: MeshMember

function trustOf(members: Record<string, MeshMember>) {
  return scopedTrust(members, {
    hub: [['client', 'coordinator', 'supervisor', 'runner'], ['*']],
    replica: [['coordinator', 'supervisor'], []],
    runner: [['runner'], ['hero']],
    alice: [['client'], ['hero']],
    bob: [['client'], ['hero']],
    carol: [['client', 'admin'], ['hero']],
  })
}

/**
 * A copy of the bundle with `edit` applied and signed again by the exporter: a lying coordinator,
 * whose signature is good, so only the checks under it can catch the lie.
 */
function tampered(
  edit: (b: RunBundle) => void,
  base: RunBundle = bundle,
  by: RunningMember = replica,
): RunBundle {
  const copy = structuredClone(base)
  edit(copy)
  const { signature: _signature, exportedBy: _by, ...unsigned } = copy
  return signRunBundle(unsigned, by.node.trust.signer)
}

function checksOf(report: RunBundleReport): string[] {
  return report.failures.map((f) => `${f.check}${f.step === undefined ? '' : `@${f.step}`}`)
}

function stepOf(b: RunBundle, id: string) {
  const found = b.steps.find((s) => s.id === id)
  if (found === undefined) throw new Error(`no step ${id}`)
  return found
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'horus-provenance-'))
  const names = ['hub', 'replica', 'runner', 'alice', 'bob', 'carol'] as const
  const members: Record<string, MeshMember> = {}
  for (const name of names) members[name] = await mesh.member(name)
  carol = members.carol as MeshMember
  const trust = trustOf(members)
  hub = await mesh.start(members.hub as MeshMember, {
    roles: ['coordinator', 'supervisor'],
    extra: { trust },
    options: { coordinator: { runnerKinds: ['hero'] } },
  })
  const runner = await mesh.start(members.runner as MeshMember, {
    roles: ['runner'],
    bootstrap: hub,
    extra: { trust },
    options: { runner: { builtins: false, kinds: { hero } } },
  })
  replica = await mesh.start(members.replica as MeshMember, {
    roles: ['coordinator'],
    bootstrap: hub,
    extra: { trust },
    options: { coordinator: { runnerKinds: ['hero'] } },
  })
  const alice = await mesh.start(members.alice as MeshMember, { roles: [], bootstrap: hub, extra: { trust } })
  await runnerVisible(hub, 'hero', runner)
  const asAlice = mesh.client(alice, hub)
  const submit = async (document: unknown): Promise<string> => {
    const { runId } = await asAlice.call<{ runId: string }>(
      'coordinator.submit_workflow',
      submitParams(alice, document, { greeting: 'hello' }),
    )
    const view = await asAlice.call<{ status: string }>('coordinator.wait_for_completion', {
      runId,
      timeoutMs: 20_000,
    })
    expect(view.status).toBe('completed')
    return runId
  }
  const runId = await submit(DIAMOND)
  const other = await submit(DIAMOND)
  // The replica holds every record of the run once anti-entropy or gossip brought them.
  const records = (member: RunningMember) =>
    member.roles.coordinator
      ?.runState(runId)
      ?.state.log()
      .filter((e) => e.type.startsWith('job_')).length ?? 0
  await waitFor(() => records(replica) > 0 && records(replica) === records(hub), {
    what: 'the replica to hold the run’s records',
  })
  const elided = (hub.roles.coordinator?.runState(runId)?.state.log() ?? []).filter(
    (e) =>
      (e.data as Record<string, unknown> | undefined)?.inputElided === true ||
      (e.data as Record<string, unknown> | undefined)?.outputElided === true,
  )
  expect(elided.map((e) => `${e.type}@${e.step}`).sort()).toEqual([
    'job_dispatched@after',
    'job_result@after',
    'job_result@big',
  ])
  const fromReplica = mesh.client(alice, replica)
  bundle = await fromReplica.call<RunBundle>('coordinator.export_run', { runId })
  otherRun = await fromReplica.call<RunBundle>('coordinator.export_run', { runId: other })
  const fromOwner = await asAlice.call<RunBundle>('coordinator.export_run', { runId })
  // The same run from either replica; the keys are each exporter's own policy's view of them.
  const { exportedAt: _a, exportedBy: _b, signature: _e, keys: ownerKeys, ...owned } = fromOwner
  const { exportedAt: _c, exportedBy: _d, signature: _f, keys: replicaKeys, ...replicated } = bundle
  expect(replicated).toEqual(owned)
  // The exporter is among the keys, with the rest: the submitter, the coordinator, the runner.
  expect(replicaKeys.map((k) => k.name).sort()).toEqual(['alice', 'hub', 'replica', 'runner'])
  expect(ownerKeys.map((k) => k.name).sort()).toEqual(['alice', 'hub', 'runner'])
  const { runId: fanoutId } = await asAlice.call<{ runId: string }>(
    'coordinator.submit_workflow',
    submitParams(alice, FANOUT, {}),
  )
  await asAlice.call('coordinator.signal_workflow', {
    runId: fanoutId,
    name: 'go',
    data: { items: [1, 2, 3], empty: [] },
  })
  const fanoutView = await asAlice.call<{ status: string }>('coordinator.wait_for_completion', {
    runId: fanoutId,
    timeoutMs: 20_000,
  })
  expect(fanoutView.status).toBe('completed')
  fanout = await asAlice.call<RunBundle>('coordinator.export_run', { runId: fanoutId })
  const bob = await mesh.start(members.bob as MeshMember, { roles: [], bootstrap: hub, extra: { trust } })
  const denied = await refusal(mesh.client(bob, replica).call('coordinator.export_run', { runId }))
  expect(denied.data).toMatchObject({ name: 'RunAccessDeniedError' })
}, 60_000)

afterAll(async () => {
  await mesh.cleanup()
  await rm(dir, { recursive: true, force: true })
})

describe('a run exported from any coordinator holding it', () => {
  it('verifies offline: every job, result and output traced to the submission and the runner', () => {
    expect(bundle.steps.map((s) => s.id)).toEqual(['a', 'big', 'b', 'c', 'after', 'inner.x', 'inner', 'd'])
    expect(stepOf(bundle, 'c').attempts.map((a) => a.attempt)).toEqual([1, 2])
    const report = verifyRunBundle(bundle)
    expect(report.failures).toEqual([])
    expect(report).toMatchObject({ ok: true, runId: bundle.runId, steps: 8, results: 8, verifiedOutputs: 8 })
    expect(report.jobs).toBeGreaterThanOrEqual(8)
    expect(verifyRunBundle(JSON.stringify(bundle)).ok).toBe(true)
    expect(verifyRunBundle(bundle, { submitter: hub.peerId })).toMatchObject({
      ok: false,
      failures: [{ check: 'authority' }],
    })
  })

  // Two CLI processes, each starting Node and (for export) a libp2p host: given time on a loaded machine.
  it('is written by `horus workflow export` and checked by `horus workflow verify`, separate processes', {
    timeout: 120_000,
  }, async () => {
    const exported = await runCli(
      ['workflow', 'export', bundle.runId, '--peer', addr(replica), '--data-dir', carol.dataDir],
      { timeoutMs: 60_000 },
    )
    expect(exported.stderr).toBe('')
    expect(exported.code).toBe(0)
    const file = join(dir, 'run.json')
    await writeFile(file, exported.stdout)
    const good = await runCli(['workflow', 'verify', file], { timeoutMs: 60_000 })
    expect(good.code).toBe(0)
    expect(good.stdout).toContain(`verified: run ${bundle.runId} (8 steps,`)
    const forged = structuredClone(JSON.parse(exported.stdout) as RunBundle)
    ;(stepOf(forged, 'd').output as Record<string, unknown>).hero = 'pwned'
    await writeFile(file, JSON.stringify(forged))
    // The same command in-process (one process start less on a loaded machine).
    const bad = await horus(['workflow', 'verify', file])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('NOT verified')
    expect(bad.stderr).toMatch(/output: step d: its output is not the output of a signed result/)
  })
})

describe('a tampered bundle', () => {
  it('fails for the forged submission, job, result, output, key, order or replay, naming the check and step', () => {
    const cases: Array<[string, (b: RunBundle) => void, string[]]> = [
      [
        'submission signature',
        (b) => {
          if ('submission' in b.authority) b.authority.submission.nonce = 'f'.repeat(32)
        },
        [
          'authority',
          ...['a', 'big', 'b', 'c', 'c', 'after', 'inner.x', 'd'].map((step) => `job_authority@${step}`),
        ],
      ],
      [
        'inputs',
        (b) => {
          b.inputs.greeting = 'bye'
        },
        // Every job's signed context carries its workflow's inputs: those of the top level differ
        // too (inner.x's are its composed workflow's, which come from b).
        ['inputs', 'input@a', 'input@big', 'input@b', 'input@c', 'input@c', 'input@after', 'input@d'],
      ],
      [
        "a job's payload",
        (b) => {
          const job = stepOf(b, 'b').attempts[0]?.jobs[0]
          if (job !== undefined) job.payload = 'rm -rf /'
        },
        ['job_signature@b', 'result_binding@b', 'output@b'],
      ],
      [
        "a result's output",
        (b) => {
          const result = stepOf(b, 'a').attempts[0]?.results[0]
          if (result !== undefined) result.output = { pwned: true }
        },
        ['result@a', 'output@a'],
      ],
      [
        "a step's output",
        (b) => {
          stepOf(b, 'd').output = { pwned: true }
        },
        ['output@d'],
      ],
      [
        "the runner's key loses its role",
        (b) => {
          const runner = b.keys.find((k) => k.name === 'runner')
          if (runner !== undefined) runner.roles = ['client']
        },
        ['a', 'big', 'b', 'c', 'c', 'after', 'inner.x', 'd'].flatMap((step, i, all) =>
          // c's first attempt failed: its result is refused, but it has no output to lose.
          all[i + 1] === step ? [`result@${step}`] : [`result@${step}`, `output@${step}`],
        ),
      ],
      [
        'steps reordered',
        (b) => {
          const [first, second] = b.steps
          b.steps[0] = second as (typeof b.steps)[number]
          b.steps[1] = first as (typeof b.steps)[number]
        },
        ['dag@a'],
      ],
      [
        'a result replayed onto another job',
        (b) => {
          const result = stepOf(b, 'a').attempts[0]?.results[0]
          const target = stepOf(b, 'b').attempts[0]
          if (result !== undefined && target !== undefined) target.results = [result]
        },
        ['result_binding@b', 'output@b'],
      ],
      [
        "another run's job and result",
        (b) => {
          stepOf(b, 'd').attempts = structuredClone(stepOf(otherRun, 'd').attempts)
        },
        ['job_authority@d', 'job_identity@d', 'result@d', 'output@d'],
      ],
      [
        'a job left out',
        (b) => {
          stepOf(b, 'a').attempts = []
        },
        ['output@a'],
      ],
    ]
    for (const [name, edit, expected] of cases) {
      const report = verifyRunBundle(tampered(edit))
      expect(report.ok, name).toBe(false)
      expect(checksOf(report), `${name}: ${JSON.stringify(report.failures, null, 1)}`).toEqual(expected)
    }
  })

  it('fails for one changed character anywhere: the exporter signed every byte', () => {
    const places = leaves(bundle)
    expect(places.length).toBeGreaterThan(200)
    fc.assert(
      fc.property(fc.nat({ max: places.length - 1 }), fc.nat(), (which, salt) => {
        const place = places[which] as Leaf
        const copy = structuredClone(bundle)
        setAt(copy, place.path, changed(place.value, salt))
        const report = verifyRunBundle(copy)
        if (report.ok) throw new Error(`changing ${place.path.join('.')} went unnoticed`)
        return report.failures.some((f) => f.check === 'export' || f.check === 'format')
      }),
      { numRuns: 120, seed: 42 },
    )
    const stranger = generateSigner()
    const { signature: _s, exportedBy: _e, ...unsigned } = bundle
    expect(checksOf(verifyRunBundle(signRunBundle(unsigned, stranger)))).toEqual(['export'])
  })

  it('signed again by a lying exporter, still fails for a change at any place that is signed, digested or derived', () => {
    const places = leaves(bundle).filter(({ path }) => !INFORMATIONAL.some((re) => re.test(path.join('.'))))
    fc.assert(
      fc.property(fc.nat({ max: places.length - 1 }), fc.nat(), (which, salt) => {
        const place = places[which] as Leaf
        const report = verifyRunBundle(tampered((b) => setAt(b, place.path, changed(place.value, salt))))
        if (report.ok) throw new Error(`changing ${place.path.join('.')} went unnoticed`)
        return report.failures.length > 0
      }),
      { numRuns: 120, seed: 42 },
    )
  })
})

/**
 * What a lying exporter may change and re-sign unnoticed: what is only shown (time, status,
 * names), and its policy's view of the keys, which is its word (a change that matters — the
 * runner's key losing its role — is a named case above; `--submitter` pins the one key a reader
 * knows).
 */
const INFORMATIONAL = [/^exportedAt$/, /^exportedBy$/, /^signature$/, /^status$/, /^keys\./]

type Leaf = { path: (string | number)[]; value: string | number | boolean }

function leaves(value: unknown, path: (string | number)[] = []): Leaf[] {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
    return [{ path, value }]
  if (Array.isArray(value)) return value.flatMap((item, i) => leaves(item, [...path, i]))
  if (typeof value === 'object' && value !== null)
    return Object.entries(value).flatMap(([key, item]) => leaves(item, [...path, key]))
  return []
}

function setAt(root: unknown, path: (string | number)[], value: unknown): void {
  let node = root as Record<string | number, unknown>
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>
  node[path.at(-1) as string | number] = value
}

/** The value with one character (or digit) changed to another of its kind, so it stays well-formed. */
function changed(value: string | number | boolean, salt: number): string | number | boolean {
  if (typeof value === 'boolean') return !value
  if (typeof value === 'number') return value + 1 + (salt % 7)
  if (value.length === 0) return 'x'
  const i = salt % value.length
  const c = value[i] as string
  const alphabet = /[0-9a-f]/.test(c)
    ? '0123456789abcdef'
    : /[a-z]/i.test(c)
      ? 'abcdefghijklmnopqrstuvwxyz'
      : '-_.:x'
  const others = alphabet.replace(c, '')
  return value.slice(0, i) + (others[salt % others.length] as string) + value.slice(i + 1)
}

describe('a run of for_each, signal, sleep and trigger-rule steps', () => {
  it('verifies each child like a job step, and says what a signal or a sleep cannot prove', () => {
    const each = stepOf(fanout, 'each')
    expect(each.items?.map((item) => [item.index, item.state])).toEqual([
      [0, 'succeeded'],
      [1, 'succeeded'],
      [2, 'succeeded'],
    ])
    expect(each.output).toEqual(each.items?.map((item) => item.output))
    const submitter = authoritySigner(fanout.authority)
    expect(stepOf(fanout, 'gate').signal).toEqual({
      name: 'go',
      data: { items: [1, 2, 3], empty: [] },
      deliveredBy: submitter,
    })
    expect(stepOf(fanout, 'none')).toMatchObject({ state: 'succeeded', output: [] })
    expect(stepOf(fanout, 'pause').output).toBeUndefined()
    const report = verifyRunBundle(fanout)
    expect(report.failures).toEqual([])
    // each and none (their children's lists), sum and tidy; the signal's data and the sleep are not runners'.
    expect(report).toMatchObject({ ok: true, steps: 6, results: 5, verifiedOutputs: 4 })
    expect(report.notProven.map((f) => `${f.check}@${f.step}`).sort()).toEqual([
      'order@gate',
      'order@pause',
      'signal@gate',
    ])
  })

  it('fails a forged child output, signal, deliverer or trigger rule, naming the check and step', () => {
    const cases: Array<[string, (b: RunBundle) => void, string[]]> = [
      [
        "a child's output",
        (b) => {
          const child = stepOf(b, 'each').items?.[1]
          if (child !== undefined) child.output = { pwned: true }
        },
        ['output@each[1]', 'output@each'],
      ],
      [
        "a child's result replayed onto its sibling",
        (b) => {
          const items = stepOf(b, 'each').items ?? []
          const result = items[0]?.attempts[0]?.results[0]
          const target = items[2]?.attempts[0]
          if (result !== undefined && target !== undefined) target.results = [result]
        },
        ['result_binding@each[2]', 'output@each[2]'],
      ],
      [
        "the signal's data",
        (b) => {
          const gate = stepOf(b, 'gate')
          if (gate.signal !== undefined) gate.signal.data = { items: [9] }
        },
        ['output@gate'],
      ],
      [
        'a deliverer who may not control the run',
        (b) => {
          const gate = stepOf(b, 'gate')
          if (gate.signal !== undefined) gate.signal.deliveredBy = toHex(generateSigner().publicKey)
        },
        ['signal@gate'],
      ],
      [
        'a step run though its trigger rule forbade it',
        (b) => {
          const each = stepOf(b, 'each')
          each.state = 'failed'
          delete each.output
        },
        ['trigger_rule@sum', 'input@sum'],
      ],
    ]
    for (const [name, edit, expected] of cases) {
      const report = verifyRunBundle(tampered(edit, fanout, hub))
      expect(report.ok, name).toBe(false)
      expect(checksOf(report), `${name}: ${JSON.stringify(report.failures, null, 1)}`).toEqual(expected)
    }
  })
})
