/**
 * Horus mesh: peer-to-peer orchestration over libp2p. The package root exports the node (run one
 * in-process, with its roles: `attachRoles(node, { runner: { kinds, functions } })`) and the SDK client; `horus-mesh/client` is the SDK alone, `horus-mesh/testing` the
 * in-process cluster helper.
 */
import './node/polyfills.js'

export * from './client/index.js'
export {
  ConfigError,
  type CreateNodeOptions,
  createNode,
  generateIdentity,
  HorusError,
  HorusNode,
  IdentityError,
  loadConfig,
  SwarmKeyError,
} from './node/index.js'
export { type AttachRolesOptions, attachRoles, type NodeRoles } from './node/roles.js'
export { jobTraceId, runTraceId, type TelemetryConfig, type TracingConfig } from './node/telemetry/index.js'
