/**
 * Whether a mesh size fits this host, from what the sizes already run measured: file descriptors
 * per process, the CPU the nodes burn while idle against the cores, and memory against RAM.
 */
import { availableParallelism, totalmem } from 'node:os'
import type { ScaleRow } from './scale.js'

/** The static guess before any size has run: sockets and LevelDB files. */
const FDS_PER_NODE = 40
/** `BENCH_SCALE_FORCE=200,1000`: run these sizes even when the measured idle CPU says they cannot keep up. */
const FORCE = new Set(process.env.BENCH_SCALE_FORCE?.split(',').map(Number))

/**
 * Why N nodes over `procs` processes would not fit (a sentence for the table's note), or undefined.
 * `rows`: the sizes measured so far in this run; `fdLimit`: the soft limit every worker inherits.
 */
export function whyNotFit(n: number, procs: number, rows: ScaleRow[], fdLimit: number): string | undefined {
  // Measured on the sizes already run, never below the static guess.
  const fdsPerNode = Math.max(FDS_PER_NODE, ...rows.map((r) => Math.ceil(r.fdsPerNode * 1.25)))
  const perProcess = Math.ceil(n / procs)
  if (perProcess * fdsPerNode > fdLimit)
    return `N = ${n} skipped: ${perProcess} nodes per process need about ${perProcess * fdsPerNode} file descriptors (${fdsPerNode} per node: sockets and LevelDB files), the soft limit is ${fdLimit}; raise it for the run (as root: \`ulimit -n ${Math.max(65_536, perProcess * fdsPerNode)}\` in the shell that runs the bench) or spread over more processes (BENCH_SCALE_PROCS).`
  // The largest size measured is the best predictor of the next one.
  const last = rows.filter((r) => r.n > 2).at(-1)
  if (last === undefined) return undefined
  const memMiB = procs * last.procBaseMiB + n * last.rssMiBPerNode
  const ramMiB = totalmem() / 1024 / 1024
  if (memMiB > ramMiB)
    return `N = ${n} skipped: at the ${last.rssMiBPerNode.toFixed(1)} MiB per node and ${last.procBaseMiB.toFixed(0)} MiB per process measured at N = ${last.n}, ${n} nodes in ${procs} processes need about ${(memMiB / 1024).toFixed(1)} GiB, the host has ${(ramMiB / 1024).toFixed(1)} GiB.`
  const cores = (last.cpuMsPerNodeS * n) / 1000
  if (cores > availableParallelism() && !FORCE.has(n))
    return `N = ${n} skipped: the ${last.n} nodes idled at ${last.cpuMsPerNodeS.toFixed(1)} ms of CPU per node per second, so ${n} nodes need about ${cores.toFixed(1)} cores just to idle and the host has ${availableParallelism()} (BENCH_SCALE_FORCE=${n} runs it anyway, to show how it fails).`
  return undefined
}
