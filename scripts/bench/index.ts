import '../../src/node/polyfills.js'
import { runBlobBench } from './blob.js'
import { runJobsBench } from './jobs.js'
import { runMeshBench } from './mesh.js'
import { runRpcBench } from './rpc.js'
import { runSandboxBench } from './sandbox.js'
import { runScaleBench } from './scale.js'
import { runSignBench } from './sign.js'
import { type BenchTable, formatTable } from './table.js'
import { runTracingBench } from './tracing.js'
import { runVsBullmqBench } from './vs-bullmq.js'
import { runWorkflowBench, runWorkflowMapMeshBench } from './workflow.js'
import { runWorkflowCoreBench } from './workflow-core.js'
import { runWorkflowMapBench } from './workflow-map.js'

/** Every benchmark, in the order of the layers they measure. `npm run bench [-- name ...]`. */
const BENCHES: Record<string, () => Promise<BenchTable | BenchTable[]>> = {
  mesh: () => runMeshBench(),
  rpc: () => runRpcBench(),
  sign: () => runSignBench(),
  sandbox: () => runSandboxBench(),
  'workflow-core': () => runWorkflowCoreBench(),
  'workflow-map': async () => runWorkflowMapBench(),
  'workflow-map-mesh': () => runWorkflowMapMeshBench(),
  jobs: () => runJobsBench(),
  tracing: () => runTracingBench(),
  blob: () => runBlobBench(),
  workflow: () => runWorkflowBench(),
  'vs-bullmq': () => runVsBullmqBench(),
  scale: () => runScaleBench(),
}

const wanted = process.argv.slice(2)
// `scale` runs for up to ~15 minutes: only when named.
const names = wanted.length > 0 ? wanted : Object.keys(BENCHES).filter((name) => name !== 'scale')
process.stdout.write(`# Horus mesh benchmarks — ${new Date().toISOString()}\n\n`)
for (const name of names) {
  const bench = BENCHES[name]
  if (bench === undefined) {
    process.stderr.write(`unknown benchmark "${name}" (known: ${Object.keys(BENCHES).join(', ')})\n`)
    process.exitCode = 2
    continue
  }
  const tables = await bench()
  for (const table of Array.isArray(tables) ? tables : [tables])
    process.stdout.write(`${formatTable(table)}\n`)
}
