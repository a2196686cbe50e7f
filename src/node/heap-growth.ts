/**
 * How far V8 lets a node process's heap grow past what is live. After each full collection V8 sets
 * the next one's threshold at the live size times a factor it picks from how fast the program
 * allocates against how fast it collects: under a steady job load that factor reaches 4, and the
 * heap pages it grew into stay resident when the load stops. Measured with 100,000 no-op jobs
 * (BENCHMARKS.md, "Memory"): a supervisor's live heap stayed at ~40 MiB while its committed heap
 * went from ~130 to ~200 MiB, and its RSS with it. A fixed factor of 1.5 keeps the committed heap
 * near the live one, at the cost of more frequent (mostly concurrent) full collections.
 *
 * Only `horus node start` applies it: it is a process-wide setting, so a library embedding nodes
 * (tests, an application) keeps its own. `node --heap-growing-percent=N` on the command line wins
 * (N = 0: V8's own dynamic factor).
 */
import { setFlagsFromString } from 'node:v8'

/** The old generation may grow to 1.5x the live heap before the next full collection. */
export const NODE_HEAP_GROWING_PERCENT = 50

/** Applies NODE_HEAP_GROWING_PERCENT unless the process was started with its own setting. */
export function limitHeapGrowth(execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((arg) => /^--heap[-_]growing[-_]percent\b/.test(arg))) return false
  setFlagsFromString(`--heap-growing-percent=${NODE_HEAP_GROWING_PERCENT}`)
  return true
}
