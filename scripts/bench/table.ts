/** One benchmark's results, printed as a table and copied into BENCHMARKS.md. */
export interface BenchTable {
  title: string
  columns: string[]
  rows: (string | number)[][]
  /** What the numbers are compared against, measured in the same run. */
  note?: string
}

export function formatTable(table: BenchTable): string {
  const cells = [table.columns, ...table.rows.map((row) => row.map(formatCell))]
  const widths = table.columns.map((_, i) => Math.max(...cells.map((row) => String(row[i] ?? '').length)))
  const line = (row: (string | number)[]): string =>
    `| ${row.map((cell, i) => String(cell).padEnd(widths[i] ?? 0)).join(' | ')} |`
  const rule = `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`
  const out = [`### ${table.title}`, '', line(cells[0] ?? []), rule, ...cells.slice(1).map(line)]
  if (table.note !== undefined) out.push('', table.note)
  return `${out.join('\n')}\n`
}

function formatCell(cell: string | number): string {
  if (typeof cell === 'string') return cell
  if (Number.isInteger(cell)) return String(cell)
  return cell >= 100 ? cell.toFixed(0) : cell >= 10 ? cell.toFixed(1) : cell.toFixed(2)
}

export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return Number.NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[index] as number
}

export function elapsedMs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6
}
