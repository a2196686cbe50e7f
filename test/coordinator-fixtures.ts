/**
 * A mesh for the coordinator tests: real nodes on loopback with every role wired by `attachRoles`
 * (coordinators, supervisors, runners), custom runner kinds that keep tests fast and
 * deterministic, and a client node that calls the coordinator API over libp2p.
 */

import { createHmac, randomUUID } from 'node:crypto'
import {
  createSubmission,
  createTriggerRegistration,
  type SignedSubmission,
  type SignedTriggerRegistration,
  type Signer,
} from '../src/protocols/jobs/index.js'
import type { CoordinatorService, RunView } from '../src/roles/coordinator/index.js'
import { parseJobId } from '../src/roles/coordinator/scheduling/index.js'
import { parseWorkflowText } from '../src/roles/coordinator/workflow/load.js'
import type { KindHandler } from '../src/roles/runner/index.js'
import { waitFor } from '../src/testing/index.js'
import {
  JobMesh,
  type MeshMember,
  Partition,
  type RunningMember,
  runnerVisible,
} from './jobs-flow-fixtures.js'

export { JobMesh, type MeshMember, Partition, type RunningMember, runnerVisible }

/** Named gates a `gate` step waits on until the test opens them. */
export class Gates {
  private readonly gates = new Map<string, { promise: Promise<void>; resolve: () => void }>()
  readonly entered = new Set<string>()

  private gate(name: string): { promise: Promise<void>; resolve: () => void } {
    let gate = this.gates.get(name)
    if (gate === undefined) {
      let resolve: () => void = () => {}
      const promise = new Promise<void>((r) => {
        resolve = r
      })
      gate = { promise, resolve }
      this.gates.set(name, gate)
    }
    return gate
  }

  open(name: string): void {
    this.gate(name).resolve()
  }

  wait(name: string, signal: AbortSignal): Promise<void> {
    this.entered.add(name)
    const gate = this.gate(name)
    return new Promise((resolve, reject) => {
      const abort = (): void => reject(signal.reason)
      if (signal.aborted) return abort()
      signal.addEventListener('abort', abort, { once: true })
      gate.promise.then(() => {
        signal.removeEventListener('abort', abort)
        resolve()
      }, reject)
    })
  }
}

/** Counts executions per job id, so tests can prove a job ran once. */
export class Executions {
  readonly byJob = new Map<string, number>()

  add(jobId: string): void {
    this.byJob.set(jobId, (this.byJob.get(jobId) ?? 0) + 1)
  }

  ofStep(run: string, step: string): number {
    let n = 0
    for (const [jobId, count] of this.byJob) {
      const job = parseJobId(jobId)
      if (job?.run === run && job.step === step) n += count
    }
    return n
  }
}

/**
 * Test kinds: `echo` (returns payload and input), `gate` (waits for the gate named by its payload),
 * `flaky` (payload `n`: attempts up to n fail), `sleep` (payload ms, honours cancellation),
 * `fail` (always fails).
 */
export function testKinds(gates: Gates, executions: Executions): Record<string, KindHandler> {
  const attemptOf = (jobId: string): number => parseJobId(jobId)?.attempt ?? 1
  return {
    echo: async (job) => {
      executions.add(job.id)
      return { payload: job.payload, input: job.input }
    },
    gate: async (job, ctx) => {
      executions.add(job.id)
      await gates.wait(job.payload, ctx.signal)
      return { gate: job.payload, input: job.input }
    },
    flaky: async (job) => {
      executions.add(job.id)
      if (attemptOf(job.id) <= Number(job.payload))
        throw new Error(`flaky failure on attempt ${attemptOf(job.id)}`)
      return { attempt: attemptOf(job.id) }
    },
    sleep: async (job, ctx) => {
      executions.add(job.id)
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, Number(job.payload))
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer)
          reject(ctx.signal.reason)
        })
      })
      return { slept: Number(job.payload) }
    },
    fail: async (job) => {
      executions.add(job.id)
      throw new Error(`step ${job.payload} fails`)
    },
  }
}

export const TEST_KINDS = ['echo', 'gate', 'flaky', 'sleep', 'fail']

/**
 * `coordinator.submit_workflow` params as the SDK sends them: the parsed document, the inputs and
 * a submission signed by `member`'s key (the caller's).
 */
export function submitParams(
  signer: Signer | RunningMember,
  workflow: unknown,
  inputs: Record<string, unknown> = {},
  runId: string = randomUUID(),
): { workflow: unknown; inputs: Record<string, unknown>; submission: SignedSubmission } {
  const document = typeof workflow === 'string' ? parseWorkflowText(workflow) : workflow
  return {
    workflow: document,
    inputs,
    submission: createSubmission({ runId, workflow: document, inputs }, signerOf(signer)),
  }
}

function signerOf(signer: Signer | RunningMember): Signer {
  return 'node' in signer ? signer.node.trust.signer : signer
}

export type TriggerParams = {
  name: string
  kind: 'cron' | 'http'
  schedule?: string
  workflow: unknown
  inputs?: Record<string, unknown>
  secret?: string
  overlap?: 'skip' | 'allow' | 'cancel_previous'
  catch_up?: boolean | number
}

/** `coordinator.register_trigger` params with a registration signed by `signer`. */
export function registerParams(
  signer: Signer | RunningMember,
  trigger: TriggerParams,
): TriggerParams & { registration: SignedTriggerRegistration } {
  const registration = createTriggerRegistration(
    {
      name: trigger.name,
      kind: trigger.kind,
      ...(trigger.schedule === undefined ? {} : { schedule: trigger.schedule }),
      ...(trigger.overlap === undefined ? {} : { overlap: trigger.overlap }),
      ...(trigger.catch_up === undefined ? {} : { catch_up: trigger.catch_up }),
      workflow: trigger.workflow,
      inputs: trigger.inputs ?? {},
    },
    signerOf(signer),
  )
  return { ...trigger, registration }
}

/** Headers of a hook call signed GitHub-style with the trigger's secret. */
export function hookHeaders(secret: string, body: string): Record<string, string> {
  const hmac = createHmac('sha256', secret).update(body).digest('hex')
  return { 'content-type': 'application/json', 'x-horus-signature-256': `sha256=${hmac}` }
}

/** The coordinator service of a running member. */
export function coordinatorOf(member: RunningMember): CoordinatorService {
  const service = member.roles.coordinator
  if (service === undefined) throw new Error(`${member.name} has no coordinator`)
  return service
}

export async function waitForStatus(
  coordinator: CoordinatorService,
  runId: string,
  statuses: readonly string[],
  timeoutMs = 20_000,
): Promise<RunView> {
  return waitFor(
    async () => {
      const view = await coordinator.status(runId).catch(() => undefined)
      return view !== undefined && statuses.includes(view.status) ? view : undefined
    },
    { timeoutMs, what: `run ${runId} to be ${statuses.join(' or ')}` },
  )
}

/** Until `viewer` holds the run owned by `owner` with every one of `steps` running. */
export async function waitForInFlight(
  viewer: CoordinatorService,
  runId: string,
  owner: string,
  steps: readonly string[],
  what: string,
): Promise<RunView> {
  return waitFor(
    async () => {
      const view = await viewer.status(runId).catch(() => undefined)
      return view?.owner === owner && steps.every((id) => step(view, id).state === 'running')
        ? view
        : undefined
    },
    { what },
  )
}

export function step(view: RunView, id: string) {
  const found = view.steps.find((s) => s.id === id)
  if (found === undefined) throw new Error(`no step ${id} in run ${view.runId}`)
  return found
}
