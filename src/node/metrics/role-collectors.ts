/**
 * What the coordinator and supervisor roles report, read from their `stats()` at scrape time.
 * Registered once per node; a role not attached (yet) reports no samples.
 */
import type { Registry } from 'prom-client'
import type { CoordinatorService } from '../../roles/coordinator/index.js'
import type { SupervisorService } from '../../roles/supervisor/index.js'
import { METRIC_PREFIX } from './constants.js'
import { pulledCounter, pulledGauge, type Sample, samplesOf } from './pulled.js'

export interface RoleSources {
  coordinator?: CoordinatorService | undefined
  supervisor?: SupervisorService | undefined
}

export function roleCollectors(registry: Registry, roles: () => RoleSources): void {
  coordinatorCollectors(registry, () => roles().coordinator)
  supervisorCollectors(registry, () => roles().supervisor)
  pulledCounter({
    registry,
    name: `${METRIC_PREFIX}result_rejections_total`,
    help: 'Step results refused, by the role that refused them (coordinator, supervisor) and the reason.',
    labelNames: ['role', 'reason'],
    read: () => {
      const { coordinator, supervisor } = roles()
      return [
        ...(coordinator === undefined
          ? []
          : samplesOf('reason', coordinator.stats().results.rejected, { role: 'coordinator' })),
        ...(supervisor === undefined
          ? []
          : samplesOf('reason', supervisor.stats().results.rejected, { role: 'supervisor' })),
      ]
    },
  })
}

/** Samples from `role` when attached, none otherwise. */
function whenAttached<T>(
  role: () => T | undefined,
  read: (role: T) => Iterable<Sample>,
): () => Iterable<Sample> {
  return () => {
    const service = role()
    return service === undefined ? [] : read(service)
  }
}

function coordinatorCollectors(registry: Registry, role: () => CoordinatorService | undefined): void {
  const m = METRIC_PREFIX
  const gauge = (
    name: string,
    help: string,
    labelNames: string[],
    read: (c: CoordinatorService) => Iterable<Sample>,
  ) => pulledGauge({ registry, name: `${m}${name}`, help, labelNames, read: whenAttached(role, read) })
  const counter = (
    name: string,
    help: string,
    labelNames: string[],
    read: (c: CoordinatorService) => Iterable<Sample>,
  ) => pulledCounter({ registry, name: `${m}${name}`, help, labelNames, read: whenAttached(role, read) })
  gauge(
    'runs',
    'Runs this coordinator holds (owned or replicated), by status.',
    ['status'],
    (coordinator) => {
      const counts = new Map<string, number>()
      for (const entry of coordinator.engine.runs.values()) {
        if (entry.ensureWorkflow() === undefined) continue
        counts.set(entry.status, (counts.get(entry.status) ?? 0) + 1)
      }
      return samplesOf('status', counts)
    },
  )
  gauge(
    'steps',
    'Steps of the runs this coordinator holds, by state (pending: not dispatched yet).',
    ['state'],
    (coordinator) => {
      const counts = new Map<string, number>()
      for (const entry of coordinator.engine.runs.values()) {
        const workflow = entry.ensureWorkflow()
        if (workflow === undefined) continue
        let recorded = 0
        for (const [, step] of entry.state.steps()) {
          recorded++
          counts.set(step.phase, (counts.get(step.phase) ?? 0) + 1)
        }
        const pending = Math.max(0, workflow.steps.length - recorded)
        if (pending > 0) counts.set('pending', (counts.get('pending') ?? 0) + pending)
      }
      return samplesOf('state', counts)
    },
  )
  gauge(
    'coordinator_jobs_in_flight',
    "Jobs of this coordinator's runs in flight on supervisors.",
    [],
    (c) => [[{}, c.stats().jobsInFlight]],
  )
  counter(
    'lease_takeovers_total',
    'Run leases this coordinator took over, by reason (lease_lapsed, owner_lost, owner_untrusted, reacquired).',
    ['reason'],
    (c) => samplesOf('reason', c.stats().takeovers),
  )
  counter(
    'anti_entropy_rounds_total',
    'Anti-entropy rounds this coordinator started with its peers, by outcome (ok, failed).',
    ['outcome'],
    (c) => samplesOf('outcome', c.stats().sync.rounds),
  )
  counter(
    'anti_entropy_entries_total',
    'State entries moved by the anti-entropy rounds this coordinator started, by direction.',
    ['direction'],
    (c) => {
      const { received, sent } = c.stats().sync
      return samplesOf('direction', { received, sent })
    },
  )
  counter(
    'replica_pushes_total',
    'Run deltas this coordinator pushed to the other members of their replica sets, by outcome (ok, failed: repaired later by anti-entropy).',
    ['outcome'],
    (c) => {
      const { pushed, failed } = c.stats().replication
      return samplesOf('outcome', { ok: pushed, failed })
    },
  )
  counter(
    'replica_handoffs_total',
    'Runs this coordinator gave up once every member of their replica set held them.',
    [],
    (c) => [[{}, c.stats().replication.handedOff]],
  )
  counter(
    'adoption_refusals_total',
    "Jobs found under a step's id that this coordinator refused to follow, by reason.",
    ['reason'],
    (c) => samplesOf('reason', c.stats().adoptions.refused),
  )
  counter(
    'submission_refusals_total',
    'Submissions and trigger registrations this coordinator refused, by reason.',
    ['reason'],
    (c) => samplesOf('reason', c.refusals),
  )
}

function supervisorCollectors(registry: Registry, role: () => SupervisorService | undefined): void {
  const m = METRIC_PREFIX
  pulledGauge({
    registry,
    name: `${m}jobs`,
    help: 'Jobs this supervisor holds, by status and capability.',
    labelNames: ['status', 'capability'],
    read: whenAttached(role, (supervisor) => {
      const counts = new Map<string, { status: string; capability: string; n: number }>()
      for (const record of supervisor.list()) {
        const key = `${record.status}\0${record.job.runner}`
        const slot = counts.get(key) ?? { status: record.status, capability: record.job.runner, n: 0 }
        slot.n++
        counts.set(key, slot)
      }
      return [...counts.values()].map(({ status, capability, n }) => [{ status, capability }, n] as const)
    }),
  })
  pulledGauge({
    registry,
    name: `${m}queue_depth`,
    help: 'Jobs waiting on this supervisor for a runner, by capability.',
    labelNames: ['capability'],
    read: whenAttached(role, (supervisor) => samplesOf('capability', supervisor.queueDepths())),
  })
  pulledCounter({
    registry,
    name: `${m}supervisor_refused_jobs_total`,
    help: 'Jobs failed because every runner serving their capability refused them.',
    read: whenAttached(role, (supervisor) => [[{}, supervisor.stats().refusedJobs]]),
  })
  pulledCounter({
    registry,
    name: `${m}supervisor_untrusted_providers_total`,
    help: 'DHT providers skipped because their key is not trusted to run the capability.',
    read: whenAttached(role, (supervisor) => [[{}, supervisor.stats().untrustedProviders]]),
  })
}
