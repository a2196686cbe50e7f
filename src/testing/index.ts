import '../node/polyfills.js'

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
export { TestMesh, type TestNodeOptions } from './test-node.js'
export { type WaitForOptions, WaitTimeoutError, waitFor } from './wait-for.js'
