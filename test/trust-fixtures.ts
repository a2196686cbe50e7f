/**
 * Attackers for the trust tests, built from the project's own parts: a real node (createNode)
 * with a real runner or supervisor service whose RPC surface is wrapped so that its answers can be
 * tampered with on the way out. A runner that forges results is a trusted-but-malicious runner; a
 * supervisor that rewrites the results it reports is a trusted-but-malicious supervisor.
 */

import type { Role } from '../src/node/config/types.js'
import type { HorusNode } from '../src/node/node.js'
import type { JobEnvelope } from '../src/protocols/jobs/index.js'
import {
  type AnyMethodDefinition,
  type AnySubscriptionDefinition,
  MethodRegistry,
  type SubscriptionContext,
} from '../src/protocols/rpc/index.js'
import { createRunner, type KindHandler, type RunnerService } from '../src/roles/runner/index.js'
import type { ExecuteOutcome, ExecuteResponse, RunnerResultsEvent } from '../src/roles/runner/service/wire.js'
import {
  createSupervisor,
  type JobEvent,
  type JobResultView,
  type SupervisorService,
} from '../src/roles/supervisor/index.js'
import type { JobOutcomes } from '../src/roles/supervisor/methods.js'
import type { JobMesh, MeshMember, RunningMember } from './jobs-flow-fixtures.js'

/** Serves `inner`'s methods on the node, each call and event passed through the wrappers. */
function serveWrapped(
  node: HorusNode,
  inner: MethodRegistry,
  wrap: {
    call?: (name: string, answer: unknown, params: Record<string, unknown>) => unknown
    event?: (name: string, event: unknown) => unknown
  },
): void {
  for (const def of inner.definitions().methods) {
    if (def.name === 'rpc.discover') continue
    node.rpc.add({
      ...def,
      handler: async (params: Record<string, unknown>, ctx: never) => {
        const answer = await def.handler(params as never, ctx)
        return wrap.call === undefined ? answer : wrap.call(def.name, answer, params)
      },
    } as AnyMethodDefinition)
  }
  for (const def of inner.definitions().subscriptions) {
    node.rpc.addSubscription({
      ...def,
      subscribe: (params: Record<string, unknown>, ctx: SubscriptionContext<unknown>) =>
        def.subscribe(params as never, {
          ...ctx,
          notify: (event: unknown) =>
            ctx.notify(wrap.event === undefined ? event : wrap.event(def.name, event)),
        }),
    } as AnySubscriptionDefinition)
  }
}

export interface TamperingRunner {
  member: RunningMember
  service: RunnerService
  stop(): Promise<void>
}

/**
 * A runner node whose `runner.execute` really executes (and signs) the job, then hands the
 * response to `tamper` before answering.
 */
export async function tamperingRunner(
  mesh: JobMesh,
  member: MeshMember,
  init: {
    bootstrap: RunningMember
    kinds: Record<string, KindHandler>
    tamper: (job: JobEnvelope, response: ExecuteResponse) => ExecuteResponse
    /** Rewrites each `results` event of `runner.logs` as a whole (after `tamper`). */
    tamperResults?: (results: ExecuteOutcome[]) => ExecuteOutcome[]
    extra?: Record<string, unknown>
  },
): Promise<TamperingRunner> {
  const running = await mesh.start(member, {
    roles: ['runner'],
    bootstrap: init.bootstrap,
    options: { roles: [] },
    ...(init.extra === undefined ? {} : { extra: init.extra }),
  })
  const { node } = running
  const inner = new MethodRegistry()
  const service = createRunner(
    {
      peerId: node.peerId,
      datastore: node.datastore,
      logger: node.logger,
      rpc: inner,
      trust: node.trust,
      advertiser: node.advertiser,
      addCapability: (name) => node.addCapability(name),
      setLoadProvider: (provider) => node.setLoadProvider(provider),
    },
    { builtins: false, kinds: init.kinds },
  )
  // Jobs handed over in batches, whose executions come later on runner.logs.
  const handed = new Map<string, JobEnvelope>()
  serveWrapped(node, inner, {
    call: (name, answer, params) => {
      if (name === 'runner.execute_many') for (const j of params.jobs as JobEnvelope[]) handed.set(j.id, j)
      return name === 'runner.execute'
        ? init.tamper(params.job as JobEnvelope, answer as ExecuteResponse)
        : answer
    },
    event: (name, event) => {
      const { type, results } = event as Partial<RunnerResultsEvent>
      if (name !== 'runner.logs' || type !== 'results' || results === undefined) return event
      const tampered = results.map((outcome) => {
        const j = handed.get(outcome.jobId)
        return j === undefined || !('response' in outcome)
          ? outcome
          : { ...outcome, response: init.tamper(j, outcome.response) }
      })
      return { ...(event as RunnerResultsEvent), results: init.tamperResults?.(tampered) ?? tampered }
    },
  })
  await service.start()
  return { member: running, service, stop: () => service.stop() }
}

export interface TamperingSupervisor {
  member: RunningMember
  service: SupervisorService
  stop(): Promise<void>
}

/**
 * A supervisor node (real queueing and dispatch) whose reports — `supervisor.get_job_result`
 * answers and `supervisor.job_events` events — go through `tamper` first.
 */
export async function tamperingSupervisor(
  mesh: JobMesh,
  member: MeshMember,
  init: {
    bootstrap?: RunningMember
    roles?: Role[]
    tamper: (view: JobResultView) => JobResultView
    extra?: Record<string, unknown>
  },
): Promise<TamperingSupervisor> {
  const running = await mesh.start(member, {
    roles: init.roles ?? ['supervisor'],
    ...(init.bootstrap === undefined ? {} : { bootstrap: init.bootstrap }),
    options: { roles: [] },
    ...(init.extra === undefined ? {} : { extra: init.extra }),
  })
  const { node } = running
  const inner = new MethodRegistry()
  const service = createSupervisor(
    {
      peerId: node.peerId,
      libp2p: node.libp2p,
      datastore: node.datastore,
      logger: node.logger,
      liveness: node.liveness,
      trust: node.trust,
      rpc: inner,
    },
    { gossip: false },
  )
  serveWrapped(node, inner, {
    call: (name, answer) =>
      name === 'supervisor.get_job_result' ? init.tamper(answer as JobResultView) : answer,
    event: (name, event) => {
      if (name === 'supervisor.job_events') return init.tamper(event as JobEvent)
      if (name === 'supervisor.job_outcomes')
        return { events: (event as JobOutcomes).events.map((view) => init.tamper(view)) }
      return event
    },
  })
  await service.start()
  return { member: running, service, stop: () => service.stop() }
}

/** A member's first dialable address. */
export function addr(member: RunningMember): string {
  return member.node.multiaddrs()[0] as string
}

/** Identities for `names`, made one after the other (each is in the policies of nodes started later). */
export async function members<N extends string[]>(
  mesh: JobMesh,
  ...names: N
): Promise<{ [K in keyof N]: MeshMember }> {
  const out: MeshMember[] = []
  for (const name of names) out.push(await mesh.member(name))
  return out as { [K in keyof N]: MeshMember }
}

/** Kinds that return `{ pwned: true }`: what a rogue runner would hand back, counted. */
export function pwnedKinds(names: readonly string[], ran: string[]): Record<string, KindHandler> {
  const kinds: Record<string, KindHandler> = {}
  for (const name of names) {
    kinds[name] = async (job) => {
      ran.push(job.id)
      return { pwned: true }
    }
  }
  return kinds
}
