/**
 * The run's DAG as SVG: dagre computes the layout (kept while the set of steps and edges is the
 * same), each step is a rounded box coloured by its state, edges point from a dependency to the
 * steps waiting on it.
 */
const SVG = 'http://www.w3.org/2000/svg'
const NODE_WIDTH = 184
const NODE_HEIGHT = 56

export const STATES = [
  'pending',
  'ready',
  'dispatched',
  'running',
  'retrying',
  'succeeded',
  'failed',
  'skipped',
  'cancelled',
]

/** Border and fill per step state (fill is a light tint of the border). */
export const STATE_COLORS = {
  pending: ['#9aa5b1', '#f5f7fa'],
  ready: ['#7b8794', '#eef1f4'],
  dispatched: ['#47a3f3', '#e6f3fe'],
  running: ['#2680c2', '#dceefb'],
  retrying: ['#d9a21b', '#fff8e1'],
  succeeded: ['#27ab83', '#e3f9ef'],
  failed: ['#e12d39', '#ffe3e3'],
  skipped: ['#b3bfcc', '#f8fafc'],
  cancelled: ['#8e5bd0', '#f2ebfc'],
}

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name)
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value))
  if (text !== undefined) node.textContent = text
  return node
}

function layoutKey(steps) {
  return steps.map((s) => `${s.id}<${s.dependsOn.join(',')}`).join('|')
}

function layout(steps) {
  const g = new dagre.graphlib.Graph()
  g.setGraph({ rankdir: 'LR', nodesep: 22, ranksep: 56, marginx: 12, marginy: 28 })
  g.setDefaultEdgeLabel(() => ({}))
  for (const step of steps) g.setNode(step.id, { width: NODE_WIDTH, height: NODE_HEIGHT })
  const ids = new Set(steps.map((s) => s.id))
  for (const step of steps) {
    for (const dep of step.dependsOn) if (ids.has(dep)) g.setEdge(dep, step.id)
  }
  dagre.layout(g)
  return g
}

function edgePath(points) {
  const [first, ...rest] = points
  if (first === undefined) return ''
  let d = `M${first.x},${first.y}`
  for (let i = 0; i < rest.length; i++) {
    const p = rest[i]
    const next = rest[i + 1]
    if (next === undefined) d += ` L${p.x},${p.y}`
    else d += ` Q${p.x},${p.y} ${(p.x + next.x) / 2},${(p.y + next.y) / 2}`
  }
  return d
}

export function formatDuration(ms) {
  if (ms === undefined || Number.isNaN(ms)) return ''
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  return `${Math.floor(ms / 60_000)}m${String(Math.floor((ms % 60_000) / 1000)).padStart(2, '0')}s`
}

export function stepDuration(step, now = Date.now()) {
  if (step.durationMs !== undefined) return step.durationMs
  if (step.startedAt === undefined) return undefined
  const end = step.finishedAt === undefined ? now : Date.parse(step.finishedAt)
  return end - Date.parse(step.startedAt)
}

function clip(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

/**
 * Draws `run` into `container` (replacing what was there, only when something shown changed);
 * `selected` is the highlighted step id, `onSelect(stepId)` is called on click.
 */
export function renderDag(container, run, selected, onSelect) {
  const key = layoutKey(run.steps)
  if (container.dagKey !== key) {
    container.dagKey = key
    container.dagLayout = layout(run.steps)
  }
  // Nothing drawn changed (a finished run, a refresh with no news): keep the same elements, so a
  // click in progress never lands on one that was just replaced.
  const drawn = JSON.stringify([
    key,
    selected,
    run.workflow,
    run.steps.map((s) => [s.state, s.attempt, s.reason, formatDuration(stepDuration(s))]),
  ])
  if (container.drawnKey === drawn) return
  container.drawnKey = drawn
  const g = container.dagLayout
  const graph = g.graph()
  const width = Math.max(graph.width ?? 0, 200)
  const height = Math.max(graph.height ?? 0, 80)
  // The viewBox lets the whole DAG shrink to the panel's width instead of hiding behind a scrollbar.
  const svg = el('svg', {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': `workflow ${run.workflow}`,
  })
  const defs = el('defs')
  const marker = el('marker', {
    id: 'arrow',
    viewBox: '0 0 10 10',
    refX: 9,
    refY: 5,
    markerWidth: 7,
    markerHeight: 7,
    orient: 'auto-start-reverse',
  })
  marker.appendChild(el('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow' }))
  defs.appendChild(marker)
  svg.appendChild(defs)
  for (const edge of g.edges()) {
    const points = g.edge(edge).points
    svg.appendChild(el('path', { d: edgePath(points), class: 'edge', 'marker-end': 'url(#arrow)' }))
  }
  for (const step of run.steps) {
    const box = g.node(step.id)
    if (box === undefined) continue
    const [stroke, fill] = STATE_COLORS[step.state] ?? STATE_COLORS.pending
    const x = box.x - NODE_WIDTH / 2
    const y = box.y - NODE_HEIGHT / 2
    const group = el('g', {
      class: `step${step.id === selected ? ' selected' : ''}`,
      'data-step': step.id,
      'data-state': step.state,
      tabindex: 0,
    })
    const duration = formatDuration(stepDuration(step))
    group.appendChild(el('rect', { x, y, width: NODE_WIDTH, height: NODE_HEIGHT, rx: 8, fill, stroke }))
    group.appendChild(
      el('text', { x: x + 12, y: y + 22, class: 'title' }, clip(step.id, duration === '' ? 22 : 15)),
    )
    const attempt = step.attempt > 1 ? ` · try ${step.attempt}` : ''
    const sub = `${step.runner ?? 'workflow'} · ${step.state}${attempt}`
    group.appendChild(el('text', { x: x + 12, y: y + 41, class: 'sub' }, clip(sub, 26)))
    if (duration !== '') {
      group.appendChild(
        el('text', { x: x + NODE_WIDTH - 10, y: y + 22, class: 'sub', 'text-anchor': 'end' }, duration),
      )
    }
    const title = el('title', {}, `${step.id}: ${step.state}${step.reason ? ` (${step.reason})` : ''}`)
    group.appendChild(title)
    group.addEventListener('click', () => onSelect(step.id))
    group.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') onSelect(step.id)
    })
    svg.appendChild(group)
  }
  container.replaceChildren(svg)
}
