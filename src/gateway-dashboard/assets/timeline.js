/**
 * A gantt chart of a run's step attempts, built from its monitor events (replayed from the start
 * of the run): each attempt is a bar from `step_dispatched` to `step_succeeded` / `step_failed`
 * (or to now while it runs), one row per step, coloured by how the attempt ended.
 */
import { formatDuration, STATE_COLORS } from './dag.js'

const SVG = 'http://www.w3.org/2000/svg'
const ROW = 26
const LABEL = 150
const AXIS = 22
const ENDINGS = { step_succeeded: 'succeeded', step_failed: 'failed' }

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name)
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value))
  if (text !== undefined) node.textContent = text
  return node
}

/** Attempts `{ step, attempt, start, end?, outcome }` from events, in the steps' order. */
export function attemptsOf(events, stepOrder) {
  const byKey = new Map()
  for (const event of events) {
    const attempt = event.data?.attempt
    if (event.stepId === undefined || typeof attempt !== 'number') continue
    const key = `${event.stepId}\u0000${attempt}`
    const at = Date.parse(event.at)
    if (event.type === 'step_dispatched') {
      byKey.set(key, { step: event.stepId, attempt, start: at, end: undefined, outcome: 'running' })
    } else if (ENDINGS[event.type] !== undefined) {
      const bar = byKey.get(key)
      if (bar !== undefined) {
        bar.end = at
        bar.outcome = ENDINGS[event.type]
      }
    }
  }
  const rank = new Map(stepOrder.map((id, i) => [id, i]))
  return [...byKey.values()].sort(
    (a, b) => (rank.get(a.step) ?? 0) - (rank.get(b.step) ?? 0) || a.attempt - b.attempt,
  )
}

/** Draws the chart into `container` (replacing it) unless nothing changed since the last call. */
export function renderTimeline(container, events, run, clock = Date.now()) {
  const order = run.steps.map((s) => s.id)
  const bars = attemptsOf(events, order)
  // An attempt a finished run left open (cancelled with the run) ends with the run, in its step's state.
  const now = run.finishedAt === undefined ? clock : Date.parse(run.finishedAt)
  if (run.finishedAt !== undefined) {
    for (const bar of bars) {
      if (bar.end !== undefined) continue
      bar.end = now
      bar.outcome = run.steps.find((s) => s.id === bar.step)?.state ?? 'cancelled'
    }
  }
  const open = bars.some((b) => b.end === undefined)
  const key = JSON.stringify([bars, open ? Math.floor(now / 1000) : 0, container.clientWidth])
  if (container.timelineKey === key) return
  container.timelineKey = key
  if (bars.length === 0) {
    const empty = document.createElement('div')
    empty.className = 'empty'
    empty.textContent = 'No step has been dispatched yet.'
    container.replaceChildren(empty)
    return
  }
  const rows = order.filter((id) => bars.some((b) => b.step === id))
  const start = Math.min(...bars.map((b) => b.start))
  const end = Math.max(...bars.map((b) => b.end ?? now), start + 1)
  const width = Math.max(container.clientWidth || 640, 360)
  const scale = (width - LABEL - 16) / (end - start)
  const height = AXIS + rows.length * ROW + 6
  const svg = el('svg', {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': 'step timeline',
  })
  for (const fraction of [0, 0.25, 0.5, 0.75, 1]) {
    const x = LABEL + fraction * (end - start) * scale
    svg.appendChild(el('line', { x1: x, x2: x, y1: AXIS - 4, y2: height, class: 'grid' }))
    const anchor = fraction === 0 ? 'start' : fraction === 1 ? 'end' : 'middle'
    svg.appendChild(
      el(
        'text',
        { x, y: 12, class: 'axis', 'text-anchor': anchor },
        `+${formatDuration(fraction * (end - start))}`,
      ),
    )
  }
  rows.forEach((id, row) => {
    const y = AXIS + row * ROW
    svg.appendChild(
      el('text', { x: 4, y: y + 17, class: 'label' }, id.length > 20 ? `${id.slice(0, 19)}…` : id),
    )
    for (const bar of bars.filter((b) => b.step === id)) {
      const [stroke, fill] = STATE_COLORS[bar.outcome] ?? STATE_COLORS.running
      const x = LABEL + (bar.start - start) * scale
      const w = Math.max(3, ((bar.end ?? now) - bar.start) * scale)
      const rect = el('rect', {
        x,
        y: y + 4,
        width: w,
        height: ROW - 8,
        rx: 3,
        fill,
        stroke,
        class: 'bar',
        'data-step': bar.step,
        'data-attempt': bar.attempt,
        'data-outcome': bar.outcome,
      })
      rect.appendChild(
        el(
          'title',
          {},
          `${bar.step} attempt ${bar.attempt}: ${bar.outcome}, ${formatDuration((bar.end ?? now) - bar.start)}`,
        ),
      )
      svg.appendChild(rect)
    }
  })
  container.replaceChildren(svg)
}
