/**
 * Diagnostic: what glibc's malloc holds in a running process, arena by arena (BENCHMARKS.md, "The
 * supervisor's native memory"). `node dist/scripts/bench/malloc-info.js <pid> [--trim]` attaches
 * gdb (`apt-get install gdb`) for a moment, has the process write `malloc_info` to a file, and
 * prints per arena what it took from the system and what of it is in use; arena 0 is the main
 * thread's (`[heap]`), the others belong to the threads that allocated first in them (libuv's
 * pool, V8's workers, LevelDB's compaction thread). `--trim` then runs `malloc_trim(0)` in the
 * process, which returns the free pages inside every arena, and prints the RSS before and after:
 * the memory glibc kept that nothing uses.
 *
 * Read the memory bench's processes while it holds them: the bench prints `memory: first reading`
 * / `last reading` with the process ids on stderr. A diagnostic, not part of any measurement.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const [pidArg, ...flags] = process.argv.slice(2)
const pid = Number(pidArg)
if (!Number.isInteger(pid) || pid <= 0) {
  process.stderr.write(`usage: malloc-info.js <pid> [--trim]: expected a process id, got ${String(pidArg)}\n`)
  process.exit(2)
}

const mib = (bytes: number): number => Math.round((bytes / 1048576) * 10) / 10
const rssMiB = (): number =>
  mib(Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024)

/** Runs each expression in the process through gdb, which detaches afterwards. */
function inProcess(...calls: string[]): void {
  execFileSync(
    'gdb',
    ['-p', String(pid), '-batch', '-nx', ...calls.flatMap((call) => ['-ex', `call ${call}`])],
    {
      stdio: 'ignore',
      timeout: 60_000,
    },
  )
}

const file = join(tmpdir(), `malloc-info-${pid}-${Date.now()}.xml`)
inProcess(`(void*)fopen("${file}", "w")`, '(int)malloc_info(0, $1)', '(int)fclose($1)')
const xml = readFileSync(file, 'utf8')
rmSync(file)

const size = (body: string, pattern: RegExp): number => Number(pattern.exec(body)?.[1] ?? 0)
const rows = [...xml.matchAll(/<heap nr="(\d+)">([\s\S]*?)<\/heap>/g)].map(([, nr, body = '']) => {
  const system = size(body, /<system type="current" size="(\d+)"/)
  const free =
    size(body, /<total type="fast" count="\d+" size="(\d+)"/) +
    size(body, /<total type="rest" count="\d+" size="(\d+)"/)
  return { arena: nr === '0' ? '0 (main thread)' : nr, systemMiB: mib(system), inUseMiB: mib(system - free) }
})
console.table(rows)
const total = rows.reduce(
  (sum, row) => ({ system: sum.system + row.systemMiB, inUse: sum.inUse + row.inUseMiB }),
  {
    system: 0,
    inUse: 0,
  },
)
console.log(
  `pid ${pid}: RSS ${rssMiB()} MiB; malloc holds ${total.system.toFixed(1)} MiB from the system, ${total.inUse.toFixed(1)} MiB of it in use`,
)
if (flags.includes('--trim')) {
  const before = rssMiB()
  inProcess('(int)malloc_trim(0)')
  console.log(`malloc_trim(0): RSS ${before} → ${rssMiB()} MiB`)
}
