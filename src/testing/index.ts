import '../node/polyfills.js'

export {
  type ChaosOptions,
  type ChaosReport,
  ChaosRun,
  type FaultRecord,
  percentile,
  standardTopology,
} from './nemesis/chaos.js'
export { NemesisSetupError, NetLabError } from './nemesis/errors.js'
export {
  EFFECT_PLUGIN,
  NemesisMesh,
  type NemesisMeshInit,
  type NemesisNode,
  type NemesisNodeSpec,
} from './nemesis/nemesis-mesh.js'
export { LAB_NETWORK, type LabHost, NetLab, sweepStaleLabs } from './nemesis/net-lab.js'
export { formatReport } from './nemesis/report.js'
export { FAULT_KINDS, type FaultKind, type PlannedFault, planFaults } from './nemesis/schedule.js'
export { randomJob, randomWorkflow, seededRandom } from './nemesis/workload.js'
export {
  meshTrust,
  ProcessMesh,
  type ProcessMeshInit,
  type ProcessNode,
  type ProcessNodeSpec,
  type SpawnNodeInit,
  spawnHorusNode,
  stopProcess,
} from './process-mesh.js'
export { type TestMember, TestMesh, type TestNodeOptions } from './test-node.js'
export { type WaitForOptions, WaitTimeoutError, waitFor } from './wait-for.js'
