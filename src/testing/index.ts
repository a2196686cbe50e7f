import '../node/polyfills.js'

export { TestMesh, type TestNodeOptions } from './test-node.js'
export { type WaitForOptions, WaitTimeoutError, waitFor } from './wait-for.js'
