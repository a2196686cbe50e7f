/** A chaos report as the text RELIABILITY.md records and the chaos command prints. */
import { type ChaosReport, percentile } from './chaos.js'

export function formatReport(report: ChaosReport, elapsedMs: number): string {
  const kinds = new Map<string, number>()
  for (const f of report.faults) kinds.set(f.kind, (kinds.get(f.kind) ?? 0) + 1)
  const ms = (v: number): string => (v < 0 ? 'n/a' : `${v} ms`)
  const rows: Array<[string, string]> = [
    ['seed', String(report.seed)],
    ['duration', `${Math.round(elapsedMs / 1000)} s`],
    ['faults injected', `${report.faults.length} (${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')})`],
    [
      'runs accepted / completed right',
      `${report.runs.accepted} / ${report.runs.completed} (submissions refused under faults: ${report.runs.submitFailed})`,
    ],
    [
      'jobs accepted / succeeded',
      `${report.jobs.accepted + report.jobs.ambiguous} / ${report.jobs.succeeded} (ambiguous submissions: ${report.jobs.ambiguous}, refused: ${report.jobs.submitFailed})`,
    ],
    ['effects executed', String(report.executions)],
    [
      'duplicate effects (explained by a fault)',
      `${report.duplicates.explained} (${
        Object.entries(report.duplicates.byKind)
          .map(([k, n]) => `${k} ${n}`)
          .join(', ') || 'none'
      })`,
    ],
    ['duplicate effects unexplained', String(report.duplicates.unexplained.length)],
    [
      're-executions beyond one per fault',
      report.duplicates.beyondOnePerFault.length === 0
        ? '0'
        : `${report.duplicates.beyondOnePerFault.length}: ${report.duplicates.beyondOnePerFault.join('; ')}`,
    ],
    [
      'losses (runs not completed right + jobs lost)',
      String(report.runs.accepted - report.runs.completed + report.jobs.lost.length),
    ],
    [
      'convergence after a heal p50 / p99',
      `${ms(percentile(report.convergenceMs, 50))} / ${ms(percentile(report.convergenceMs, 99))} (${report.convergenceMs.length} heals)`,
    ],
    ['convergence after the final heal', ms(report.finalConvergenceMs)],
    [
      'recovery after owner loss p50 / p99',
      `${ms(percentile(report.recoveryMs, 50))} / ${ms(percentile(report.recoveryMs, 99))} (${report.recoveryMs.length} runs)`,
    ],
    [
      'max RSS per node',
      Object.entries(report.maxRssMb)
        .map(([n, mb]) => `${n} ${mb} MiB`)
        .join(', '),
    ],
    ['violations', report.violations.length === 0 ? 'none' : report.violations.join('\n  ')],
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')
}
