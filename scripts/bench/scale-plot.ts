/** The cost-against-N plot of the scale benchmark: one small panel per figure, plain SVG. */
import type { ScaleRow } from './scale.js'

interface Panel {
  title: string
  value: (row: ScaleRow) => number
}

const PANELS: Panel[] = [
  { title: 'CPU ms per node per s', value: (r) => r.cpuMsPerNodeS },
  { title: 'KiB read per node per s', value: (r) => r.bytesPerNodeS / 1024 },
  { title: 'heartbeats in per node per s', value: (r) => r.heartbeatsPerNodeS },
  { title: 'connections per node (mean)', value: (r) => r.connsMean },
  { title: 'RSS MiB per node', value: (r) => r.rssMiBPerNode },
  { title: 'gossip p99 ms', value: (r) => r.gossipP99Ms },
]

const W = 300
const H = 200
const PAD = { left: 48, right: 16, top: 28, bottom: 34 }

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;')
}

function tick(value: number): string {
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)
}

function panel(p: Panel, rows: ScaleRow[], x0: number, y0: number): string {
  const points = rows.map((r) => ({ n: r.n, v: p.value(r) })).filter((pt) => Number.isFinite(pt.v))
  const ns = points.map((pt) => Math.log10(pt.n))
  const minX = Math.min(...ns)
  const maxX = Math.max(...ns, minX + 1)
  const maxY = Math.max(...points.map((pt) => pt.v), 1e-9) * 1.15
  const sx = (n: number): number =>
    x0 + PAD.left + ((Math.log10(n) - minX) / (maxX - minX)) * (W - PAD.left - PAD.right)
  const sy = (v: number): number => y0 + H - PAD.bottom - (v / maxY) * (H - PAD.top - PAD.bottom)
  const path = points
    .map((pt, i) => `${i === 0 ? 'M' : 'L'}${sx(pt.n).toFixed(1)},${sy(pt.v).toFixed(1)}`)
    .join(' ')
  const dots = points
    .map(
      (pt) =>
        `<circle cx="${sx(pt.n).toFixed(1)}" cy="${sy(pt.v).toFixed(1)}" r="3"/><text x="${sx(pt.n).toFixed(1)}" y="${(y0 + H - PAD.bottom + 14).toFixed(1)}" text-anchor="middle">${pt.n}</text><text x="${(sx(pt.n) + 4).toFixed(1)}" y="${(sy(pt.v) - 6).toFixed(1)}">${tick(pt.v)}</text>`,
    )
    .join('')
  const axes = `<line x1="${x0 + PAD.left}" y1="${y0 + H - PAD.bottom}" x2="${x0 + W - PAD.right}" y2="${y0 + H - PAD.bottom}" stroke="#888"/><line x1="${x0 + PAD.left}" y1="${y0 + PAD.top}" x2="${x0 + PAD.left}" y2="${y0 + H - PAD.bottom}" stroke="#888"/><text x="${x0 + PAD.left - 4}" y="${y0 + PAD.top + 4}" text-anchor="end">${tick(maxY)}</text><text x="${x0 + PAD.left - 4}" y="${y0 + H - PAD.bottom}" text-anchor="end">0</text>`
  return `<g><text x="${x0 + W / 2}" y="${y0 + 16}" text-anchor="middle" font-weight="bold">${escapeXml(p.title)}</text>${axes}<path d="${path}" fill="none" stroke="#2563eb" stroke-width="2"/><g fill="#2563eb">${dots}</g></g>`
}

/** Cost against N (log scale; the first point is the 2-node floor). */
export function renderScalePlot(floor: ScaleRow, rows: ScaleRow[]): string {
  const all = [floor, ...rows]
  const cols = 3
  const width = cols * W
  const height = Math.ceil(PANELS.length / cols) * H + 30
  const panels = PANELS.map((p, i) => panel(p, all, (i % cols) * W, 30 + Math.floor(i / cols) * H)).join('')
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11" role="img"><title>Horus mesh: cost per node against mesh size N</title><rect width="100%" height="100%" fill="#fff"/><text x="${width / 2}" y="18" text-anchor="middle" font-size="13">Horus mesh: cost per node against mesh size N (log scale; the 2-node floor in one process, each size spread over worker processes)</text>${panels}</svg>\n`
}
