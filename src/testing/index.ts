import '../node/polyfills.js'

export {
  ProcessMesh,
  type ProcessMeshInit,
  type ProcessNode,
  type ProcessNodeSpec,
  stopProcess,
} from './process-mesh.js'
export { type TestMember, TestMesh, type TestNodeOptions } from './test-node.js'
export { type WaitForOptions, WaitTimeoutError, waitFor } from './wait-for.js'
