/**
 * One node's Prometheus metrics: a registry of its own (several nodes share a process in tests
 * and in `horus/testing`), filled from the node's parts and, once attached, its roles. Process
 * metrics (CPU, memory, event-loop lag, GC: prom-client's standard `process_*` and `nodejs_*`
 * names) belong to the process: collected once per process and served with every node's.
 */
import { collectDefaultMetrics, Registry } from 'prom-client'
import type { TopicStats } from '../../protocols/gossip/index.js'
import type { MethodRegistry } from '../../protocols/rpc/registry.js'
import type { CoordinatorService } from '../../roles/coordinator/index.js'
import type { SupervisorService } from '../../roles/supervisor/index.js'
import { type NodeMetricSources, nodeCollectors } from './node-collectors.js'
import { type RoleSources, roleCollectors } from './role-collectors.js'
import { observeRpc } from './rpc-metrics.js'
import { observeStepDurations } from './step-durations.js'

export interface NodeMetricsInit extends Omit<NodeMetricSources, 'topics'> {
  /** The node's own validated gossip topics (liveness). */
  topics(): TopicStats[]
  rpc: MethodRegistry
}

let processRegistry: Registry | undefined

/** Process-wide metrics, registered once whatever the number of nodes in the process. */
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
  }
  return processRegistry
}

export class NodeMetrics {
  readonly registry = new Registry()
  private roles: RoleSources = {}
  private readonly stops: Array<() => void> = []

  constructor(init: NodeMetricsInit) {
    nodeCollectors(this.registry, {
      ...init,
      topics: () => [...init.topics(), ...(this.roles.coordinator?.stats().topics ?? [])],
    })
    roleCollectors(this.registry, () => this.roles)
    this.stops.push(observeRpc(this.registry, init.rpc))
  }

  /** Report the roles' metrics too (attachRoles calls this). */
  attach(roles: {
    coordinator?: CoordinatorService | undefined
    supervisor?: SupervisorService | undefined
  }): void {
    if (roles.supervisor !== undefined) this.roles.supervisor = roles.supervisor
    const coordinator = roles.coordinator
    if (coordinator !== undefined && coordinator !== this.roles.coordinator) {
      this.roles.coordinator = coordinator
      this.stops.push(observeStepDurations(this.registry, coordinator))
    }
  }

  /** The Prometheus text exposition (format 0.0.4) of this node's and the process's metrics. */
  async text(): Promise<string> {
    return Registry.merge([this.registry, processMetrics()]).metrics()
  }

  get contentType(): string {
    return this.registry.contentType
  }

  /** Stops observing RPC calls and events; what was counted stays readable. */
  stop(): void {
    for (const stop of this.stops.splice(0)) stop()
  }
}
