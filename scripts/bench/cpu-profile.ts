/**
 * Reads a V8 CPU profile (`--cpu-prof`, e.g. from `BENCH_CPU_PROF=<dir> npm run bench -- vs-bullmq`)
 * and prints where the busy time went: self time by function, inclusive time by file or package,
 * and optionally the call stacks leading to functions that match a pattern.
 *
 *   node dist/scripts/bench/cpu-profile.js <file.cpuprofile> [--top 40] [--callers <regex>]
 *     [--depth 6] [--window <from>-<to>]
 *
 * Shares are of busy time (idle excluded). `--window` keeps only the samples taken between two
 * CLOCK_MONOTONIC instants in microseconds (`process.hrtime.bigint() / 1000n` of any process on the
 * machine), so one phase of a benchmark can be looked at alone.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  samples: number[]
  timeDeltas: number[]
}

interface Report {
  busyUs: number
  idleUs: number
  self: [string, number][]
  inclusive: [string, number][]
  callers: [string, number][]
}

/** `name file:line`, with node_modules and build paths shortened. */
function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame
  return `${functionName || '(anonymous)'} ${shortUrl(url)}:${lineNumber + 1}`
}

function shortUrl(url: string): string {
  return url.replace(/^.*node_modules\//, '~/').replace(/^file:\/\/.*\/dist\//, '')
}

/** The package of a node_modules file (`~/@scope/name`, `~/name`), else the file itself. */
function unitOf(url: string): string {
  const short = shortUrl(url)
  if (!short.startsWith('~/')) return short
  return short
    .split('/')
    .slice(0, short.startsWith('~/@') ? 3 : 2)
    .join('/')
}

export function analyse(
  profile: CpuProfile,
  options: { window?: [number, number]; callers?: RegExp; depth?: number },
): Report {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id)
  const selfUs = new Map<number, number>()
  let at = profile.startTime
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0
    at += delta
    if (options.window !== undefined && (at < options.window[0] || at > options.window[1])) return
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta)
  })
  const self = new Map<string, number>()
  const inclusive = new Map<string, number>()
  const callers = new Map<string, number>()
  let busyUs = 0
  let idleUs = 0
  for (const [id, us] of selfUs) {
    const node = byId.get(id) as ProfileNode
    if (node.callFrame.functionName === '(idle)') {
      idleUs += us
      continue
    }
    busyUs += us
    const name = frameName(node)
    self.set(name, (self.get(name) ?? 0) + us)
    const units = new Set<string>()
    const stack: string[] = []
    for (let cur = parent.get(id); cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur) as ProfileNode
      if (frame.callFrame.url !== '') units.add(unitOf(frame.callFrame.url))
      if (stack.length < (options.depth ?? 6) && frame.callFrame.functionName !== '(root)')
        stack.push(frameName(frame))
    }
    if (node.callFrame.url !== '') units.add(unitOf(node.callFrame.url))
    for (const unit of units) inclusive.set(unit, (inclusive.get(unit) ?? 0) + us)
    if (options.callers?.test(name)) {
      const key = `${name} <- ${stack.join(' <- ')}`
      callers.set(key, (callers.get(key) ?? 0) + us)
    }
  }
  const sorted = (m: Map<string, number>): [string, number][] => [...m].sort((a, b) => b[1] - a[1])
  return { busyUs, idleUs, self: sorted(self), inclusive: sorted(inclusive), callers: sorted(callers) }
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      top: { type: 'string', default: '40' },
      callers: { type: 'string' },
      depth: { type: 'string', default: '6' },
      window: { type: 'string' },
    },
  })
  const file = positionals[0]
  if (file === undefined) {
    process.stderr.write(
      'usage: cpu-profile <file.cpuprofile> [--top N] [--callers REGEX] [--depth N] [--window FROM-TO]\n',
    )
    process.exitCode = 2
    return
  }
  const window = values.window?.split('-').map(Number)
  if (window !== undefined && (window.length !== 2 || window.some((n) => !Number.isFinite(n)))) {
    throw new Error(`--window: expected <from>-<to> in microseconds, got ${values.window}`)
  }
  const report = analyse(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, {
    ...(window === undefined ? {} : { window: window as [number, number] }),
    ...(values.callers === undefined ? {} : { callers: new RegExp(values.callers) }),
    depth: Number(values.depth),
  })
  const top = Number(values.top)
  const share = (us: number): string => `${((us / report.busyUs) * 100).toFixed(1).padStart(5)} %`
  const out = [
    `busy ${(report.busyUs / 1000).toFixed(0)} ms, idle ${(report.idleUs / 1000).toFixed(0)} ms`,
    '',
    'self time:',
    ...report.self.slice(0, top).map(([name, us]) => `${share(us)}  ${name}`),
    '',
    'inclusive, by file or package:',
    ...report.inclusive.slice(0, top).map(([name, us]) => `${share(us)}  ${name}`),
  ]
  if (values.callers !== undefined) {
    out.push('', `stacks of /${values.callers}/:`)
    out.push(...report.callers.slice(0, top).map(([stack, us]) => `${share(us)}  ${stack}`))
  }
  process.stdout.write(`${out.join('\n')}\n`)
}

if (import.meta.url === `file://${process.argv[1]}`) main()
