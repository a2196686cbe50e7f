/**
 * Role wiring: turns the roles in `node.config.roles` into running services on a node.
 *
 * Each role is a factory from the node (and its options) to a service with `start()`/`stop()`.
 * They start in dependency order — runner, then supervisor (which calls a runner in the same node
 * directly), then coordinator — and stop in reverse. Options given in code override the node
 * config's section of the same name (`runner:`, `supervisor:`), which is validated here.
 *
 * Extension point: a new role (the coordinator) adds an entry to `ROLE_ORDER` and a branch in
 * `createRoleService` taking `AttachedRoles` (the services created before it) — e.g. a coordinator
 * that prefers the supervisor of its own node.
 */
import type { Startable } from '@libp2p/interface'
import {
  type CoordinatorOptions,
  type CoordinatorService,
  createCoordinator,
  readCoordinatorConfig,
} from '../roles/coordinator/index.js'
import {
  createRunner,
  type RunnerOptions,
  type RunnerService,
  readRunnerConfig,
} from '../roles/runner/index.js'
import {
  createSupervisor,
  readSupervisorConfig,
  restoreJobNonces,
  type SupervisorOptions,
  type SupervisorService,
} from '../roles/supervisor/index.js'
import type { Role } from './config/types.js'
import type { HorusNode } from './node.js'
import { observeRunSpans } from './telemetry/run-spans.js'

export interface AttachRolesOptions {
  /** Merged over the config's `runner:` section: custom kinds, registered functions, limits. */
  runner?: RunnerOptions
  /** Merged over the config's `supervisor:` section. */
  supervisor?: Omit<SupervisorOptions, 'local'>
  /** Merged over the config's `coordinator:` section. */
  coordinator?: Omit<CoordinatorOptions, 'localSupervisor' | 'localRunner'>
  /** Attach only these roles instead of `node.config.roles`. */
  roles?: readonly Role[]
}

/** The services attached to a node, by role. */
export interface AttachedRoles {
  runner?: RunnerService
  supervisor?: SupervisorService
  coordinator?: CoordinatorService
}

export interface NodeRoles extends AttachedRoles, Startable {
  /** Roles attached, in start order. */
  readonly roles: readonly Role[]
}

/** Start order; stop runs in reverse. */
const ROLE_ORDER: readonly Role[] = ['runner', 'supervisor', 'coordinator']

/**
 * Creates the services of the node's roles (not started: call `start()`, and `stop()` before
 * `node.stop()`). Throws ConfigError when a role's config section is invalid.
 */
export function attachRoles(node: HorusNode, options: AttachRolesOptions = {}): NodeRoles {
  const wanted = new Set(options.roles ?? node.config.roles)
  const attached: AttachedRoles = {}
  const services: Array<{ role: Role; service: Startable }> = []
  for (const role of ROLE_ORDER) {
    if (!wanted.has(role)) continue
    const service = createRoleService(role, node, attached, options)
    if (service !== undefined) services.push({ role, service })
  }
  node.metrics.attach(attached)
  // Run spans are exported for as long as the coordinator lives (it ends with its node).
  if (node.tracing !== undefined && attached.coordinator !== undefined)
    observeRunSpans(node.tracing, attached.coordinator)
  let started: Array<{ role: Role; service: Startable }> = []
  return {
    ...attached,
    roles: services.map((s) => s.role),
    async start() {
      // Before any role serves: the supervisor's records are the only durable copy of the nonces
      // of the jobs it accepted, and a runner in this node (started first) must find them spent —
      // also when this node no longer runs a supervisor.
      if (attached.supervisor !== undefined) await attached.supervisor.load()
      else if (attached.runner !== undefined) await restoreJobNonces(node.datastore, node.trust.replayCache)
      for (const entry of services) {
        if (started.includes(entry)) continue
        await entry.service.start()
        started.push(entry)
      }
    },
    async stop() {
      const running = started.reverse()
      started = []
      for (const { service } of running) await service.stop()
    },
  }
}

function createRoleService(
  role: Role,
  node: HorusNode,
  attached: AttachedRoles,
  options: AttachRolesOptions,
): Startable | undefined {
  switch (role) {
    case 'runner': {
      const fromConfig = readRunnerConfig(node.config.extra.runner)
      attached.runner = createRunner(node, { ...fromConfig, ...options.runner })
      return attached.runner
    }
    case 'supervisor': {
      const fromConfig = readSupervisorConfig(node.config.extra.supervisor)
      attached.supervisor = createSupervisor(node, {
        ...fromConfig,
        ...options.supervisor,
        ...(attached.runner === undefined ? {} : { local: attached.runner }),
      })
      return attached.supervisor
    }
    case 'coordinator': {
      const fromConfig = readCoordinatorConfig(node.config.extra.coordinator, node.config.extra.triggers)
      attached.coordinator = createCoordinator(node, {
        ...fromConfig,
        ...options.coordinator,
        ...(attached.supervisor === undefined ? {} : { localSupervisor: attached.supervisor }),
        ...(attached.runner === undefined ? {} : { localRunner: attached.runner }),
      })
      return attached.coordinator
    }
  }
}
