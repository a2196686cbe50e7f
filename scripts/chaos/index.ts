/**
 * `npm run chaos -- [--minutes N] [--seed S] [--faults N] [--runs N] [--jobs N] [--logs DIR]`: a longer nemesis
 * run than the test suite's, on the standard topology (three coordinators, two supervisor+runner
 * nodes, each in its own network namespace). Prints the report; exits 1 with the seed to replay
 * when an invariant did not hold. Needs root (see NemesisMesh.prepare).
 */
import '../../src/node/polyfills.js'
import { mkdir } from 'node:fs/promises'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { ChaosRun, standardTopology } from '../../src/testing/nemesis/chaos.js'
import { NemesisMesh } from '../../src/testing/nemesis/nemesis-mesh.js'
import { formatReport } from '../../src/testing/nemesis/report.js'

const { values } = parseArgs({
  options: {
    minutes: { type: 'string' },
    seed: { type: 'string' },
    faults: { type: 'string' },
    runs: { type: 'string' },
    jobs: { type: 'string' },
    'lease-ttl': { type: 'string' },
    'lease-grace': { type: 'string' },
    logs: { type: 'string' },
  },
})
const int = (name: string, value: string | undefined, fallback: number): number => {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`chaos: --${name}: expected a whole number, got "${value}"\n`)
    process.exit(2)
  }
  return n
}
const minutes = int('minutes', values.minutes, 5)
const seed = int('seed', values.seed, Math.floor(Math.random() * 2 ** 31))
// A fault takes ~6 s on average (gap + hold), plus the settling at the end.
const faults = int('faults', values.faults, Math.max(1, Math.floor((minutes * 60) / 6)))
const runs = int('runs', values.runs, faults * 3)
const jobs = int('jobs', values.jobs, faults * 3)
const lease = {
  leaseTtlMs: int('lease-ttl', values['lease-ttl'], 15_000),
  leaseGraceMs: int('lease-grace', values['lease-grace'], 2_000),
}

process.stdout.write(
  `chaos: seed ${seed}, ${faults} faults, ${runs} runs, ${jobs} jobs, lease ${lease.leaseTtlMs}+${lease.leaseGraceMs} ms\n`,
)
const swept = await NemesisMesh.prepare()
if (swept.length > 0) process.stdout.write(`removed leftovers of earlier runs: ${swept.join(', ')}\n`)
// --logs DIR: every node's log (DEBUG=horus:*) in DIR/<node>.log, the counter's record in DIR/executions.json.
const logDir = values.logs === undefined ? undefined : resolve(values.logs)
if (logDir !== undefined) await mkdir(logDir, { recursive: true })
const mesh = new NemesisMesh(
  logDir === undefined ? {} : { logDir, env: { DEBUG: process.env.DEBUG ?? 'horus:*,-horus:*:trace' } },
)
const started = Date.now()
let failed = true
const interrupt = (): void => {
  process.stderr.write('chaos: interrupted; cleaning up\n')
  mesh.close().then(
    () => process.exit(130),
    () => process.exit(130),
  )
}
process.once('SIGINT', interrupt)
process.once('SIGTERM', interrupt)
try {
  await mesh.start(standardTopology(lease))
  const report = await new ChaosRun(mesh, {
    seed,
    faults,
    runs,
    jobs,
    maxHoldMs: Math.max(7_000, lease.leaseTtlMs + lease.leaseGraceMs + 3_000),
    log: (line) => process.stdout.write(`  ${line}\n`),
  }).run()
  process.stdout.write(`\n${formatReport(report, Date.now() - started)}\n`)
  failed = report.violations.length > 0
  if (failed)
    process.stdout.write(
      `\nFAILED: replay with npm run chaos -- --seed ${seed} --faults ${faults} --runs ${runs} --jobs ${jobs}\n`,
    )
} finally {
  await mesh.close()
}
process.exit(failed ? 1 : 0)
