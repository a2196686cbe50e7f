/**
 * A nemesis run: a workload of random workflows and ad-hoc jobs on a NemesisMesh while a seeded
 * schedule injects faults, then — after healing — the invariants:
 *
 * - every accepted run reaches a terminal state, `completed`, with the expected step outputs;
 * - every accepted job succeeds with its expected output (none lost);
 * - an effect runs again only when a node that ran an earlier execution of it was faulted
 *   (killed, paused, cut off, out of disk) in between — counted and reported (duplicates.ts);
 * - every coordinator's replica of every run has the same digest;
 * - no node's resident memory exceeded the bound; no runner work dir is left behind.
 *
 * The report carries the measurements RELIABILITY.md records: faults, runs, jobs, duplicates,
 * losses, convergence time after a heal, recovery time after the owner of a run was lost.
 */
import { randomUUID } from 'node:crypto'
import { BootstrapUnreachableError } from '../../client/errors.js'
import { delay as sleep } from '../../client/events.js'
import { HorusClient } from '../../client/horus-client.js'
import { loadClientKey } from '../../client/identity.js'
import type { RunView } from '../../client/types.js'
import { createSubmission } from '../../protocols/jobs/authority.js'
import { signerFromPrivateKey } from '../../protocols/jobs/signer.js'
import type { RpcParams } from '../../protocols/rpc/messages.js'
import { countDuplicates, type DuplicateCount } from './duplicates.js'
import { EFFECT_PLUGIN, type NemesisMesh, type NemesisNodeSpec } from './nemesis-mesh.js'
import { type FaultKind, type PlannedFault, planFaults } from './schedule.js'
import { chainWorkflow, type GeneratedWorkflow, randomJob, randomWorkflow, seededRandom } from './workload.js'

export interface ChaosOptions {
  seed: number
  /** Faults to inject. */
  faults: number
  /** Workflows submitted while the faults run. */
  runs: number
  /** Ad-hoc jobs submitted while the faults run. */
  jobs: number
  kinds?: readonly FaultKind[]
  /** @default 2_000 */
  minHoldMs?: number
  /** @default 7_000 */
  maxHoldMs?: number
  /** Resident memory no node may exceed. @default 700 */
  memoryBoundMb?: number
  /** How long after the last heal every run and job has to finish. @default 180_000 */
  settleMs?: number
  /** Progress lines. */
  log?: (line: string) => void
}

export interface FaultRecord {
  kind: FaultKind
  targets: string[]
  from: number
  to: number
  detail?: string
}

export interface ChaosReport {
  seed: number
  faults: FaultRecord[]
  runs: { accepted: number; submitFailed: number; completed: number; wrong: string[] }
  jobs: { accepted: number; submitFailed: number; ambiguous: number; succeeded: number; lost: string[] }
  executions: number
  duplicates: DuplicateCount
  /** ms from a heal until every coordinator's replica of every run finished by then agreed. */
  convergenceMs: number[]
  /** ms from the loss of a run's owner until another coordinator held its lease. */
  recoveryMs: number[]
  finalConvergenceMs: number
  maxRssMb: Record<string, number>
  leftovers: string[]
  /** Every invariant that did not hold (empty: the run passed). */
  violations: string[]
}

/** The topology the suite uses: three coordinators, two supervisor+runner nodes. */
export function standardTopology(lease: { leaseTtlMs: number; leaseGraceMs: number }): NemesisNodeSpec[] {
  const coordinator = { coordinator: { ...lease, runners: ['effect'], syncIntervalMs: 2_000 } }
  const worker = { runner: { plugins: [EFFECT_PLUGIN], concurrency: 8 } }
  return [
    { name: 'c1', roles: ['coordinator'], extra: coordinator },
    { name: 'c2', roles: ['coordinator'], extra: coordinator },
    { name: 'c3', roles: ['coordinator'], extra: coordinator, tmpfsMb: 64 },
    { name: 'w1', roles: ['supervisor', 'runner'], extra: worker },
    { name: 'w2', roles: ['supervisor', 'runner'], extra: worker },
  ]
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled'])
/** After a fault ends its effects last a while (liveness loss, retries): it explains duplicates this long after. */
const EXPLAIN_SLACK_MS = 30_000

/** How long the workload's client keeps trying to reach a freshly started mesh. */
const CONNECT_DEADLINE_MS = 90_000

export class ChaosRun {
  private readonly mesh: NemesisMesh
  private readonly options: ChaosOptions
  private readonly random: () => number
  private readonly log: (line: string) => void
  private client: HorusClient | undefined
  private readonly runs = new Map<string, GeneratedWorkflow>()
  private readonly jobs = new Map<string, number>()
  private readonly report: ChaosReport
  private startedAt = Date.now()

  constructor(mesh: NemesisMesh, options: ChaosOptions) {
    this.mesh = mesh
    this.options = options
    this.random = seededRandom(options.seed ^ 0x9e3779b9)
    this.log = options.log ?? (() => {})
    this.report = {
      seed: options.seed,
      faults: [],
      runs: { accepted: 0, submitFailed: 0, completed: 0, wrong: [] },
      jobs: { accepted: 0, submitFailed: 0, ambiguous: 0, succeeded: 0, lost: [] },
      executions: 0,
      duplicates: { explained: 0, unexplained: [], byKind: {}, beyondOnePerFault: [] },
      convergenceMs: [],
      recoveryMs: [],
      finalConvergenceMs: -1,
      maxRssMb: {},
      leftovers: [],
      violations: [],
    }
  }

  async run(): Promise<ChaosReport> {
    this.startedAt = Date.now()
    const coordinators = this.mesh.withRole('coordinator')
    this.client = await this.connect(coordinators)
    try {
      const plan = planFaults({
        seed: this.options.seed,
        count: this.options.faults,
        ...(this.options.kinds === undefined ? {} : { kinds: this.options.kinds }),
        ...(this.options.minHoldMs === undefined ? {} : { minHoldMs: this.options.minHoldMs }),
        ...(this.options.maxHoldMs === undefined ? {} : { maxHoldMs: this.options.maxHoldMs }),
      })
      const stop = new AbortController()
      const workload = this.workload(plan, stop.signal)
      for (const fault of plan) await this.inject(fault)
      stop.abort()
      await workload
      await this.healAll()
      const healedAt = Date.now()
      await this.settle()
      this.report.finalConvergenceMs = await this.converge(
        [...this.runs.keys()],
        this.options.settleMs ?? 180_000,
        healedAt,
      )
      if (this.report.finalConvergenceMs < 0)
        this.report.violations.push('replicas did not converge after the final heal')
      await this.countExecutions()
      this.report.leftovers = await this.mesh.leftoverWorkDirs()
      if (this.report.leftovers.length > 0)
        this.report.violations.push(`runner work dirs left behind: ${this.report.leftovers.join(', ')}`)
      const bound = this.options.memoryBoundMb ?? 700
      for (const [name, node] of this.mesh.nodes) {
        this.report.maxRssMb[name] = node.maxRssMb
        if (node.maxRssMb > bound)
          this.report.violations.push(`${name} used ${node.maxRssMb} MiB (bound ${bound})`)
      }
      return this.report
    } finally {
      await this.client.close()
    }
  }

  // --- workload ----------------------------------------------------------------------------

  /** Submits the workflows and jobs spread over the schedule's length. */
  private async workload(plan: PlannedFault[], signal: AbortSignal): Promise<void> {
    const client = this.client as HorusClient
    const span = plan.reduce((ms, f) => ms + f.gapMs + f.holdMs, 0)
    const total = this.options.runs + this.options.jobs
    const every = Math.max(50, Math.floor(span / Math.max(1, total)))
    // Runs and jobs interleaved evenly: run, job, run, job… whichever is behind its share goes next.
    const pending: Promise<void>[] = []
    let runs = 0
    let jobs = 0
    for (let i = 0; i < total; i++) {
      const isRun =
        jobs >= this.options.jobs ||
        (runs < this.options.runs && runs * this.options.jobs <= jobs * this.options.runs)
      if (isRun) {
        const generated = randomWorkflow(this.random, this.mesh.counterUrl, `nemesis-${runs++}`)
        pending.push(
          client
            .submitWorkflow(generated.document, {}, { signal: AbortSignal.timeout(30_000) })
            .then((runId) => {
              this.runs.set(runId, generated)
              this.report.runs.accepted++
            })
            .catch((err: Error) => {
              this.report.runs.submitFailed++
              this.log(`submit failed (allowed under faults): ${err.name}: ${err.message}`)
            }),
        )
      } else {
        jobs++
        const job = randomJob(this.random, this.mesh.counterUrl)
        pending.push(
          client
            .createJob(
              { runner: 'effect', payload: job.payload },
              { signal: AbortSignal.timeout(30_000), waitForRunner: true },
            )
            .then((view) => {
              this.jobs.set(view.jobId, job.value)
              this.report.jobs.accepted++
            })
            .catch((err: Error & { jobId?: string }) => {
              if (err.name === 'OutcomeUnknownError' && err.jobId !== undefined) {
                // Maybe accepted: it is looked up at the end, and then must have run.
                this.jobs.set(err.jobId, job.value)
                this.report.jobs.ambiguous++
              } else this.report.jobs.submitFailed++
              this.log(`job submit failed: ${err.name}: ${err.message}`)
            }),
        )
      }
      await sleep(every, signal).catch(() => undefined)
    }
    await Promise.all(pending)
  }

  /**
   * The workload's client. Nodes that printed their addresses may still be slow to answer on a
   * loaded machine: an unreachable mesh is tried again until `CONNECT_DEADLINE_MS` has passed.
   */
  private async connect(coordinators: string[]): Promise<HorusClient> {
    const deadline = Date.now() + CONNECT_DEADLINE_MS
    for (let attempt = 1; ; attempt++) {
      try {
        return await HorusClient.connect({
          bootstrap: coordinators.map((name) => this.mesh.node(name).addr),
          identity: this.mesh.clientDir,
        })
      } catch (err) {
        if (!(err instanceof BootstrapUnreachableError) || Date.now() >= deadline) throw err
        this.log(`client not connected yet (attempt ${attempt}): ${(err as Error).message.split(':')[0]}`)
      }
    }
  }

  // --- faults ------------------------------------------------------------------------------

  private async inject(fault: PlannedFault): Promise<void> {
    await sleep(fault.gapMs)
    const mesh = this.mesh
    const all = [...mesh.nodes.keys()]
    const coordinators = mesh.withRole('coordinator')
    const workers = mesh.withRole('runner')
    const pick = (names: string[], i: number): string => names[i % names.length] as string
    const record: FaultRecord = { kind: fault.kind, targets: [], from: Date.now(), to: 0 }
    this.report.faults.push(record)
    const hold = (): Promise<void> => sleep(fault.holdMs)
    switch (fault.kind) {
      case 'kill': {
        const name = pick(all, fault.target)
        record.targets = [name]
        if (coordinators.includes(name)) await this.runOwnedBy(name)
        const watch = this.watchOwnerLoss(name, fault.holdMs)
        await mesh.kill(name)
        await hold()
        await watch
        await mesh.startNode(name)
        break
      }
      case 'runner-dies': {
        const name = pick(workers, fault.target)
        record.targets = [name]
        await mesh.kill(name)
        await hold()
        await mesh.startNode(name)
        break
      }
      case 'pause': {
        const name = pick(coordinators, fault.target)
        record.targets = [name]
        await this.runOwnedBy(name)
        const watch = this.watchOwnerLoss(name, fault.holdMs)
        await mesh.pause(name)
        await hold()
        await watch
        await mesh.resume(name)
        break
      }
      case 'restart': {
        const name = pick(all, fault.target)
        record.targets = [name]
        await mesh.stopNode(name)
        await mesh.startNode(name)
        break
      }
      case 'partition': {
        const shuffled = [...all].sort((a, b) => hash(a, fault.other) - hash(b, fault.other))
        const cut = 1 + (fault.target % (all.length - 1))
        const groups = [shuffled.slice(0, cut), shuffled.slice(cut)]
        record.targets = all
        record.detail = groups.map((g) => g.join(',')).join(' | ')
        await mesh.partition(groups)
        await hold()
        await this.healAndMeasure()
        break
      }
      case 'one-way': {
        const name = pick(all, fault.target)
        record.targets = all
        record.detail = `${name} → rest`
        await mesh.partition([[name], all.filter((n) => n !== name)], { oneWay: true })
        await hold()
        await this.healAndMeasure()
        break
      }
      case 'isolate-owner': {
        const owner = (await this.ownerOfSomeRun()) ?? pick(coordinators, fault.target)
        record.targets = [owner]
        await this.runOwnedBy(owner)
        const watch = this.watchOwnerLoss(owner, fault.holdMs)
        await mesh.isolate(owner)
        await hold()
        await watch
        await this.healAndMeasure()
        break
      }
      case 'mesh-restart': {
        record.targets = all
        await Promise.all(all.map((name) => mesh.stopNode(name)))
        await Promise.all(all.map((name) => mesh.startNode(name)))
        break
      }
      case 'disk-full': {
        const name = [...mesh.nodes.values()].find((n) => n.spec.tmpfsMb !== undefined)?.spec.name
        if (name === undefined) break
        record.targets = [name]
        record.detail = `${await mesh.fillDisk(name)} bytes written to fill it`
        await hold()
        await mesh.freeDisk(name)
        // A node that crashed on the full disk is started again (that it crashed is recorded).
        if (!mesh.running(name)) {
          record.detail += '; the node exited on the full disk'
          await mesh.startNode(name)
        }
        break
      }
      case 'corrupt': {
        const name = pick(coordinators, fault.target)
        record.targets = [name]
        await mesh.stopNode(name)
        record.detail = await mesh.corruptDatastore(name, this.random)
        try {
          await mesh.startNode(name)
        } catch (err) {
          this.report.violations.push(
            `${name} did not start after its datastore was corrupted (${record.detail}): ${(err as Error).message.split('\n')[0]}`,
          )
          throw err
        }
        break
      }
    }
    record.to = Date.now()
    this.log(
      `fault ${fault.kind} on ${record.targets.join(',')} held ${record.to - record.from} ms${record.detail === undefined ? '' : ` (${record.detail})`}`,
    )
  }

  /**
   * Before a fault that takes a coordinator away: a run it owns for sure (submitted to it
   * directly, a chain of steps long enough to outlive the fault), so the takeover is measured.
   */
  private async runOwnedBy(name: string): Promise<void> {
    const generated = chainWorkflow(this.random, this.mesh.counterUrl, `owned-by-${name}`, 10)
    const submitted = await this.mesh
      .rpc<{ runId: string }>(
        name,
        'coordinator.submit_workflow',
        {
          workflow: generated.document,
          inputs: {},
          submission: createSubmission(
            { runId: randomUUID(), workflow: generated.document, inputs: {} },
            signerFromPrivateKey(await loadClientKey(this.mesh.clientDir)),
          ) as unknown as RpcParams,
        },
        10_000,
      )
      .catch((err: Error) => {
        this.log(`probe run on ${name} not submitted: ${err.message}`)
        return undefined
      })
    if (submitted === undefined) return
    this.runs.set(submitted.runId, generated)
    this.report.runs.accepted++
    // Under way (its first step sent) before the fault hits.
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline) {
      const view = await this.mesh
        .rpc<RunView>(name, 'coordinator.get_workflow_status', { runId: submitted.runId })
        .catch(() => undefined)
      if (view?.steps.some((s) => s.state !== 'pending')) return
      await sleep(100)
    }
  }

  private async healAll(): Promise<void> {
    await this.mesh.heal()
    for (const name of this.mesh.nodes.keys()) {
      if (this.mesh.node(name).paused) await this.mesh.resume(name)
      if (!this.mesh.running(name)) await this.mesh.startNode(name)
    }
  }

  private async healAndMeasure(): Promise<void> {
    await this.mesh.heal()
    const healedAt = Date.now()
    const finished: string[] = []
    for (const runId of this.runs.keys()) {
      const view = await this.client
        ?.getStatus(runId, { signal: AbortSignal.timeout(3_000) })
        .catch(() => undefined)
      if (view !== undefined && TERMINAL.has(view.status)) finished.push(runId)
    }
    const ms = await this.converge(finished, 20_000, healedAt)
    if (ms >= 0) this.report.convergenceMs.push(ms)
    else this.log(`replicas of ${finished.length} finished runs did not agree within 20 s of a heal`)
  }

  /** A coordinator that owns an unfinished run now. */
  private async ownerOfSomeRun(): Promise<string | undefined> {
    for (const runId of this.runs.keys()) {
      const view = await this.client
        ?.getStatus(runId, { signal: AbortSignal.timeout(3_000) })
        .catch(() => undefined)
      if (view === undefined || TERMINAL.has(view.status) || view.owner === undefined) continue
      const owner = [...this.mesh.nodes.values()].find((n) => n.peerId === view.owner)
      if (owner !== undefined) return owner.spec.name
    }
    return undefined
  }

  /**
   * While `victim` is lost: for each unfinished run it owned, the time until another coordinator
   * owns it (polled on the others every 250 ms), recorded in `recoveryMs`.
   */
  private async watchOwnerLoss(victim: string, holdMs: number): Promise<void> {
    const node = this.mesh.node(victim)
    if (!node.spec.roles.includes('coordinator')) return
    const others = this.mesh.withRole('coordinator').filter((c) => c !== victim && this.mesh.running(c))
    const observer = others[0]
    if (observer === undefined) return
    const owned: string[] = []
    for (const runId of this.runs.keys()) {
      const digest = await this.mesh
        .rpc<{ owner?: string }>(observer, 'coordinator.get_run_digest', { runId })
        .catch(() => undefined)
      if (digest?.owner !== node.peerId) continue
      const view = await this.mesh
        .rpc<RunView>(observer, 'coordinator.get_workflow_status', { runId })
        .catch(() => undefined)
      if (view !== undefined && !TERMINAL.has(view.status)) owned.push(runId)
    }
    if (owned.length === 0) return
    const started = Date.now()
    const waiting = new Set(owned)
    // Runs the victim owned are measured in the background for as long as the fault holds.
    void (async () => {
      while (waiting.size > 0 && Date.now() - started < holdMs) {
        for (const runId of [...waiting]) {
          const digest = await this.mesh
            .rpc<{ owner?: string }>(observer, 'coordinator.get_run_digest', { runId }, 2_000)
            .catch(() => undefined)
          if (digest?.owner !== undefined && digest.owner !== node.peerId) {
            this.report.recoveryMs.push(Date.now() - started)
            waiting.delete(runId)
          }
        }
        await sleep(250)
      }
    })()
  }

  // --- invariants --------------------------------------------------------------------------

  /** Waits for every run and job to finish and checks their outputs. */
  private async settle(): Promise<void> {
    const client = this.client as HorusClient
    const deadline = AbortSignal.timeout(this.options.settleMs ?? 180_000)
    for (const [runId, generated] of this.runs) {
      let view = await client.waitForCompletion(runId, { signal: deadline }).catch((err: Error) => err)
      const now = view instanceof Error ? await client.getStatus(runId).catch(() => undefined) : undefined
      if (view instanceof Error && now?.status === 'completed') {
        // Finished by now (a loaded machine, the wait's deadline just passed): its outputs are
        // checked like any other's; the late finish is said, not counted as a loss.
        this.log(`run ${runId} completed only after the settle wait ended (${view.message})`)
        view = now
      }
      if (view instanceof Error) {
        this.report.violations.push(
          `run ${runId} not finished after healing (seed ${this.options.seed}): ${now?.status ?? 'unknown'} ${now?.steps.map((s) => `${s.id}:${s.state}`).join(' ') ?? ''}`,
        )
        continue
      }
      if (view.status !== 'completed') {
        this.report.violations.push(`run ${runId} ended ${view.status}: ${view.error?.message ?? ''}`)
        continue
      }
      const wrong = view.steps.filter(
        (s) => (s.output as { value?: number } | undefined)?.value !== generated.expected.get(s.id),
      )
      if (wrong.length > 0) {
        this.report.runs.wrong.push(runId)
        this.report.violations.push(`run ${runId}: wrong outputs for ${wrong.map((s) => s.id).join(', ')}`)
      } else this.report.runs.completed++
    }
    for (const [jobId, value] of this.jobs) {
      const view = await client.waitForJob(jobId, { signal: deadline }).catch((err: Error) => err)
      if (view instanceof Error) {
        // An ambiguous submission that never reached a supervisor is not a lost job.
        if (view.name === 'JobNotFoundError') continue
        this.report.jobs.lost.push(jobId)
        this.report.violations.push(`job ${jobId} lost: ${view.message}`)
      } else if (
        view.status !== 'succeeded' ||
        (view.result?.output as { value?: number })?.value !== value
      ) {
        this.report.jobs.lost.push(jobId)
        this.report.violations.push(
          `job ${jobId} ended ${view.status} (${view.error?.message ?? view.reason ?? ''})`,
        )
      } else this.report.jobs.succeeded++
    }
  }

  /** ms until every running coordinator has the same digest of each of `runIds`; -1 past `timeoutMs`. */
  private async converge(runIds: string[], timeoutMs: number, since: number): Promise<number> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const coordinators = this.mesh.withRole('coordinator').filter((c) => this.mesh.running(c))
      let agreed = true
      for (const runId of runIds) {
        const digests = await Promise.all(
          coordinators.map((c) =>
            this.mesh
              .rpc<{ digest: string }>(c, 'coordinator.get_run_digest', { runId }, 3_000)
              .then((d) => d.digest)
              .catch(() => 'missing'),
          ),
        )
        if (new Set(digests).size !== 1 || digests[0] === 'missing') {
          agreed = false
          break
        }
      }
      if (agreed) return Date.now() - since
      if (Date.now() > deadline) return -1
      await sleep(250)
    }
  }

  /** Repeated effects, each explained by a fault of a node that ran an earlier execution, or not (duplicates.ts). */
  private async countExecutions(): Promise<void> {
    const executions = await this.mesh.executions()
    this.report.executions = executions.length
    // Times in seconds since the run started, to set against the faults' `from`/`to`.
    const describeTime = (t: number): string => `${((t - this.startedAt) / 1000).toFixed(1)} s`
    this.report.duplicates = countDuplicates(executions, this.report.faults, {
      slackMs: EXPLAIN_SLACK_MS,
      describeTime,
    })
    if (this.report.duplicates.unexplained.length > 0)
      this.report.violations.push(
        `effects ran again with no fault to explain it: ${this.report.duplicates.unexplained.join('; ')}`,
      )
  }
}

function hash(name: string, salt: number): number {
  let h = salt >>> 0
  for (const c of name) h = Math.imul(h ^ c.charCodeAt(0), 16_777_619) >>> 0
  return h
}

/** p-th percentile (0–100) of `values`, or -1 when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return -1
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number
}
