/**
 * The Horus dashboard: `#/` shows the mesh and the runs, `#/runs/<id>` one run's DAG. Data comes
 * from the node's gateway: JSON-RPC on POST /rpc, and live events from POST /rpc/subscribe (a
 * server-sent event stream read with fetch, since EventSource cannot POST). When no stream can be
 * had the page polls instead.
 */
import { formatDuration, renderDag, STATE_COLORS, STATES, stepDuration } from './dag.js'

const view = document.getElementById('view')
const liveBadge = document.getElementById('live')
const POLL_LIVE_MS = 5000
const POLL_FALLBACK_MS = 1500
const RESUBSCRIBE_MS = 2000

let nextId = 1
let methods
/** Cleanup of the page on screen: timers and event streams. */
let leavePage = () => {}

class RpcFailure extends Error {
  constructor(error) {
    super(error.message)
    this.code = error.code
    this.data = error.data
  }
}

async function rpc(method, params = {}) {
  const response = await fetch('/rpc', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }),
  })
  const body = await response.json()
  if (body.error !== undefined) throw new RpcFailure(body.error)
  return body.result
}

async function available(method) {
  if (methods === undefined) {
    const embedded = document.body.dataset.methods
    if (embedded) methods = new Set(JSON.parse(embedded))
    else {
      const doc = await rpc('rpc.discover').catch(() => ({ methods: [] }))
      methods = new Set(doc.methods.map((m) => m.name))
    }
  }
  return methods.has(method)
}

function setLive(mode) {
  liveBadge.dataset.mode = mode
  liveBadge.textContent = mode === 'live' ? 'live' : mode === 'polling' ? 'polling' : 'connecting'
}

/**
 * One subscription as a server-sent event stream. `onEvent` gets each event; the stream is
 * reopened after it ends, and `onMode` says whether events are flowing ('live') or not ('polling').
 */
function subscribe(name, params, onEvent, onMode) {
  const controller = new AbortController()
  const open = async () => {
    const response = await fetch('/rpc/subscribe', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method: `${name}.subscribe`, params }),
      signal: controller.signal,
    })
    const type = response.headers.get('content-type') ?? ''
    if (!type.startsWith('text/event-stream') || response.body === null) {
      throw new Error(`no event stream (${response.status})`)
    }
    const reader = response.body.getReader()
    const decoder = new TextDecoder()
    let buffer = ''
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      buffer += decoder.decode(value, { stream: true })
      let end = buffer.indexOf('\n\n')
      while (end !== -1) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        end = buffer.indexOf('\n\n')
        const data = block
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trimStart())
          .join('\n')
        if (data === '') continue
        const message = JSON.parse(data)
        if (message.id !== undefined && message.result !== undefined) onMode('live')
        if (message.method === `${name}.event`) onEvent(message.params.result)
      }
    }
  }
  const loop = async () => {
    while (!controller.signal.aborted) {
      try {
        await open()
      } catch {
        // fall through to polling until the stream can be reopened
      }
      if (controller.signal.aborted) return
      onMode('polling')
      await new Promise((resolve) => setTimeout(resolve, RESUBSCRIBE_MS))
    }
  }
  loop().catch(() => onMode('polling'))
  return () => controller.abort()
}

/** Calls `fn` now and every `ms` (changed with `setInterval(ms)`); returns the stop function. */
function poller(fn) {
  let timer
  let ms = POLL_FALLBACK_MS
  let stopped = false
  const tick = async () => {
    if (stopped) return
    try {
      await fn()
    } catch (err) {
      console.warn('refresh failed', err)
    }
    if (!stopped) timer = setTimeout(tick, ms)
  }
  tick().catch(() => {})
  return {
    now: () => {
      clearTimeout(timer)
      tick().catch(() => {})
    },
    setInterval: (next) => {
      ms = next
    },
    stop: () => {
      stopped = true
      clearTimeout(timer)
    },
  }
}

/* ---------- small DOM helpers ---------- */

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue
    if (key === 'class') node.className = value
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value)
    else node.setAttribute(key, value === true ? '' : String(value))
  }
  for (const child of children.flat(Number.POSITIVE_INFINITY)) {
    if (child === undefined || child === null || child === false) continue
    node.append(child instanceof Node ? child : document.createTextNode(String(child)))
  }
  return node
}

const shortId = (id) => (id === undefined ? '' : id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id)
const badge = (status) => h('span', { class: `badge status status-${status}`, 'data-status': status }, status)
const ago = (iso) => {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000))
  return s < 60 ? `${s} s ago` : `${Math.round(s / 60)} min ago`
}
const time = (iso) => (iso === undefined ? '' : new Date(iso).toLocaleTimeString())
const runDuration = (run) =>
  formatDuration(
    (run.finishedAt === undefined ? Date.now() : Date.parse(run.finishedAt)) - Date.parse(run.createdAt),
  )

function card(title, count, ...body) {
  return h(
    'section',
    { class: 'card' },
    h('h2', {}, title, count === undefined ? '' : h('span', { class: 'count' }, count)),
    ...body,
  )
}

function table(headers, rows, empty) {
  if (rows.length === 0) return h('div', { class: 'empty' }, empty)
  return h(
    'table',
    {},
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        headers.map((x) => h('th', {}, x)),
      ),
    ),
    h('tbody', {}, rows),
  )
}

/* ---------- overview: mesh + runs ---------- */

async function meshCard() {
  const [self, alive, peers] = await Promise.all([
    rpc('node.info'),
    rpc('mesh.liveness').catch(() => []),
    rpc('node.peers').catch(() => []),
  ])
  // Peers this node reaches only through a relay (node.peers says which relay, and whether it limits them).
  const relayed = new Map(peers.filter((p) => p.relay !== undefined).map((p) => [p.peerId, p]))
  document.getElementById('node-id').textContent = `node ${shortId(self.peerId)}`
  const nodes = [
    {
      peerId: self.peerId,
      roles: self.roles,
      capabilities: [],
      load: undefined,
      lastSeen: undefined,
      self: true,
    },
    ...alive.filter((p) => p.peerId !== self.peerId),
  ]
  const rows = nodes.map((n) => {
    const stale = n.lastSeen !== undefined && Date.now() - Date.parse(n.lastSeen) > 10_000
    const load =
      n.load === undefined || n.load.capacity === 0
        ? h('span', { class: 'muted' }, '—')
        : h(
            'span',
            { class: 'load' },
            h('span', { class: 'bar' }, loadBar(n.load)),
            `${n.load.running}/${n.load.capacity}`,
          )
    return h(
      'tr',
      { 'data-peer': n.peerId },
      h(
        'td',
        { class: 'mono', title: n.peerId },
        shortId(n.peerId),
        n.self ? h('span', { class: 'muted' }, ' (this node)') : '',
        relayBadge(relayed.get(n.peerId)),
      ),
      h(
        'td',
        {},
        n.roles.length === 0
          ? h('span', { class: 'muted' }, 'client')
          : n.roles.map((r) => h('span', { class: `badge role-${r}` }, r)),
        ' ',
      ),
      h(
        'td',
        {},
        n.capabilities.map((c) => h('span', { class: 'chip' }, c)),
      ),
      h('td', {}, load),
      h(
        'td',
        {},
        n.self
          ? h('span', {}, h('span', { class: 'dot' }), 'now')
          : h('span', {}, h('span', { class: `dot${stale ? ' stale' : ''}` }), ago(n.lastSeen)),
      ),
    )
  })
  return card(
    'Mesh',
    `${nodes.length} node${nodes.length === 1 ? '' : 's'}`,
    table(['Node', 'Roles', 'Capabilities', 'Load', 'Liveness'], rows, 'No nodes.'),
  )
}

/** "relayed" beside a peer this node reaches only through a relay; the title names the relay. */
function relayBadge(peer) {
  if (peer === undefined) return ''
  const limits = peer.limited ? ' (limited connection: the relay caps its duration and data)' : ''
  return [
    ' ',
    h(
      'span',
      { class: 'badge relayed', 'data-relay': peer.relay, title: `through relay ${peer.relay}${limits}` },
      'relayed',
    ),
  ]
}

function loadBar(load) {
  const bar = h('span')
  bar.style.width = `${Math.min(100, Math.round((load.running / load.capacity) * 100))}%`
  return bar
}

async function runsCard() {
  if (!(await available('coordinator.list_workflows'))) {
    return card(
      'Runs',
      undefined,
      h('div', { class: 'empty' }, 'This node runs no coordinator, so it has no runs to show.'),
    )
  }
  const runs = await rpc('coordinator.list_workflows', { limit: 50 })
  const rows = runs.map((r) =>
    h(
      'tr',
      {
        class: 'clickable',
        'data-run': r.runId,
        onclick: () => (location.hash = `#/runs/${encodeURIComponent(r.runId)}`),
      },
      h('td', { class: 'mono' }, h('a', { href: `#/runs/${encodeURIComponent(r.runId)}` }, shortId(r.runId))),
      h('td', {}, r.workflow),
      h('td', {}, badge(r.status)),
      h('td', {}, time(r.createdAt)),
      h('td', {}, runDuration(r)),
    ),
  )
  return card(
    'Runs',
    `${runs.length}`,
    table(['Run', 'Workflow', 'Status', 'Started', 'Duration'], rows, 'No runs yet.'),
  )
}

function showOverview() {
  const mesh = h('div', { id: 'mesh' })
  const runs = h('div', { id: 'runs' })
  view.replaceChildren(h('div', { class: 'grid-2' }, mesh, runs))
  const refresh = poller(async () => {
    const [m, r] = await Promise.all([meshCard(), runsCard()])
    mesh.replaceChildren(m)
    runs.replaceChildren(r)
  })
  refresh.setInterval(POLL_LIVE_MS)
  let stopEvents = () => {}
  available('coordinator.events.subscribe')
    .then((yes) => {
      if (!yes) {
        setLive('polling')
        return
      }
      stopEvents = subscribe('coordinator.events', {}, () => refresh.now(), setLive)
    })
    .catch(() => setLive('polling'))
  return () => {
    refresh.stop()
    stopEvents()
  }
}

/* ---------- one run ---------- */

function stateBadge(state) {
  const node = h('span', { class: 'badge', 'data-state': state }, state)
  const [stroke, fill] = STATE_COLORS[state] ?? STATE_COLORS.pending
  node.style.background = fill
  node.style.color = stroke
  node.style.border = `1px solid ${stroke}`
  return node
}

function legend() {
  return h(
    'div',
    { class: 'legend' },
    STATES.map((state) => {
      const swatch = h('i')
      const [stroke, fill] = STATE_COLORS[state]
      swatch.style.borderColor = stroke
      swatch.style.background = fill
      return h('span', { class: 'item' }, swatch, state)
    }),
  )
}

function stepPanel(run, stepId, logs) {
  const step = run.steps.find((s) => s.id === stepId)
  if (step === undefined) {
    return card('Step', undefined, h('div', { class: 'empty' }, 'Click a step to see its details and logs.'))
  }
  const rows = [
    ['state', step.state],
    ['runner', step.runner ?? 'workflow'],
    ['attempt', step.attempt],
    ['duration', formatDuration(stepDuration(step))],
    ['depends on', step.dependsOn.join(', ') || '—'],
    ['job', step.jobId],
    ['runner peer', shortId(step.runnerPeer)],
    ['reason', step.reason],
    ['kind', step.kind && step.kind !== 'job' ? step.kind : undefined],
    ['signal', step.signal],
    ['until', step.until === undefined ? undefined : new Date(step.until).toLocaleString()],
    ['items', step.items === undefined ? undefined : itemCounts(step.items)],
    ['trigger rule', step.triggerRule],
    ['on failure', step.onFailure ? 'yes' : undefined],
  ].filter(([, v]) => v !== undefined && v !== '')
  return h(
    'section',
    { class: 'card panel', id: 'step-panel', 'data-step': step.id },
    h('h2', {}, step.id, stateBadge(step.state)),
    h(
      'dl',
      {},
      rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))]),
    ),
    step.error ? h('div', { class: 'run-error' }, `${step.error.name}: ${step.error.message}`) : '',
    step.output !== undefined
      ? [h('h3', {}, 'Output'), h('pre', {}, JSON.stringify(step.output, null, 2))]
      : '',
    h('h3', {}, 'Logs'),
    logs === undefined
      ? h('div', { class: 'empty' }, 'Loading…')
      : logs.length === 0
        ? h('div', { class: 'empty' }, 'No log lines.')
        : h(
            'ul',
            { class: 'logs mono', id: 'step-logs' },
            logs.map((l) => h('li', { class: `lvl-${l.level}` }, `${time(l.at)}  ${l.message}`)),
          ),
  )
}

/** A for_each step's children: "10000 (9990 succeeded, 10 running)". */
function itemCounts(items) {
  const parts = Object.entries(items.counts)
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${n} ${state}`)
  return parts.length === 0 ? String(items.total) : `${items.total} (${parts.join(', ')})`
}

/** What can be done to the run now: rerun its failed steps, deliver the signals it waits for. */
function actionsKey(run) {
  return JSON.stringify([run.retryable === true, run.waitingFor ?? []])
}

/**
 * The run's action bar. Drawn again only when the actions on offer change, so a polled refresh
 * never wipes what is being typed into a signal's data.
 */
function runActions(run, onDone) {
  const message = h('div', { class: 'action-error', id: 'run-action-error', hidden: true })
  const fail = (err) => {
    message.hidden = false
    message.textContent =
      err instanceof RpcFailure && err.data?.name ? `${err.data.name}: ${err.message}` : err.message
  }
  const act = async (button, method, params) => {
    message.hidden = true
    button.disabled = true
    try {
      await rpc(method, params)
      onDone()
    } catch (err) {
      fail(err)
    } finally {
      button.disabled = false
    }
  }
  const retry = run.retryable
    ? h(
        'button',
        {
          id: 'retry-run',
          type: 'button',
          title: 'Run the failed, cancelled and skipped steps again; succeeded steps keep their outputs',
          onclick: (event) => act(event.currentTarget, 'coordinator.retry_workflow', { runId: run.runId }),
        },
        'Retry failed steps',
      )
    : ''
  const signals = (run.waitingFor ?? []).map((name) => {
    const data = h('input', {
      class: 'mono',
      'data-signal-data': name,
      placeholder: 'data (JSON), empty for null',
      'aria-label': `data for signal ${name}`,
    })
    const send = h('button', { type: 'submit', 'data-signal': name }, `Send signal “${name}”`)
    return h(
      'form',
      {
        class: 'signal-form',
        onsubmit: (event) => {
          event.preventDefault()
          let value = null
          if (data.value.trim() !== '') {
            try {
              value = JSON.parse(data.value)
            } catch (err) {
              fail(new Error(`the data of signal "${name}" is not JSON: ${err.message}`))
              return
            }
          }
          void act(send, 'coordinator.signal_workflow', { runId: run.runId, name, data: value })
        },
      },
      data,
      send,
    )
  })
  if (retry === '' && signals.length === 0) return h('div', { id: 'run-actions', hidden: true })
  return h('div', { class: 'run-actions', id: 'run-actions' }, retry, signals, message)
}

function runHeader(run) {
  return h(
    'section',
    { class: 'card' },
    h(
      'div',
      { class: 'run-head' },
      h('h1', {}, run.workflow),
      h(
        'span',
        { id: 'run-status', 'data-status': run.status, class: `badge status status-${run.status}` },
        run.status,
      ),
    ),
    h(
      'div',
      { class: 'run-meta' },
      h('span', {}, 'run ', h('b', { class: 'mono' }, run.runId)),
      h('span', {}, 'started ', h('b', {}, time(run.createdAt))),
      h('span', {}, 'duration ', h('b', {}, runDuration(run))),
      run.owner
        ? h('span', { title: run.owner }, 'owner ', h('b', { class: 'mono' }, shortId(run.owner)))
        : '',
      h(
        'span',
        {},
        'steps ',
        h(
          'b',
          {},
          `${run.steps.filter((s) => s.state === 'succeeded').length}/${run.steps.length} succeeded`,
        ),
      ),
    ),
    run.error
      ? h(
          'div',
          { class: 'run-error' },
          `${run.error.step ? `step ${run.error.step}: ` : ''}${run.error.name}: ${run.error.message}`,
        )
      : '',
  )
}

function showRun(runId) {
  const header = h('div', { id: 'run-header' })
  const actions = h('div')
  let shownActions
  const dag = h('div', { class: 'dag-wrap', id: 'dag' })
  const side = h('div', { id: 'side' })
  const events = h(
    'ul',
    { class: 'events', id: 'events' },
    h('li', { class: 'empty placeholder' }, 'No events yet.'),
  )
  view.replaceChildren(
    h('div', {}, h('a', { href: '#/' }, '← Overview')),
    header,
    actions,
    h('div', { class: 'run-body' }, card('Workflow', undefined, legend(), dag), side),
    card('Events', undefined, events),
  )
  let run
  let selected
  let logs
  const select = (stepId) => {
    selected = stepId
    logs = undefined
    draw()
    loadLogs().catch(() => {})
  }
  const draw = () => {
    if (run === undefined) return
    header.replaceChildren(runHeader(run))
    if (actionsKey(run) !== shownActions) {
      shownActions = actionsKey(run)
      actions.replaceChildren(runActions(run, () => refresh.now()))
    }
    renderDag(dag, run, selected, select)
    side.replaceChildren(stepPanel(run, selected, logs))
  }
  const loadLogs = async () => {
    if (selected === undefined) return
    const want = selected
    const lines = await rpc('coordinator.get_workflow_logs', { runId, stepId: want })
    if (want === selected) {
      logs = lines
      draw()
    }
  }
  const refresh = poller(async () => {
    try {
      run = await rpc('coordinator.get_workflow_status', { runId })
    } catch (err) {
      view.replaceChildren(
        h(
          'section',
          { class: 'card' },
          h('h2', {}, 'Run not found'),
          h('p', {}, err.message),
          h('a', { href: '#/' }, '← Overview'),
        ),
      )
      refresh.stop()
      return
    }
    draw()
    if (selected !== undefined) await loadLogs()
    if (['completed', 'failed', 'cancelled'].includes(run.status)) refresh.setInterval(POLL_LIVE_MS)
  })
  const addEvent = (event) => {
    events.querySelector('.placeholder')?.remove()
    events.prepend(
      h(
        'li',
        { class: `sev-${event.severity}` },
        h('span', { class: 'muted' }, time(event.at)),
        h('span', {}, event.type),
        h('span', {}, event.stepId ? `${event.stepId}: ` : '', event.message),
      ),
    )
    while (events.children.length > 100) events.lastChild.remove()
  }
  const stopEvents = subscribe(
    'coordinator.events',
    { runId },
    (event) => {
      addEvent(event)
      refresh.now()
    },
    (mode) => {
      setLive(mode)
      refresh.setInterval(mode === 'live' ? POLL_LIVE_MS : POLL_FALLBACK_MS)
    },
  )
  return () => {
    refresh.stop()
    stopEvents()
  }
}

/* ---------- routing ---------- */

function route() {
  leavePage()
  const match = /^#\/runs\/(.+)$/.exec(location.hash)
  leavePage = match ? showRun(decodeURIComponent(match[1])) : showOverview()
}

window.addEventListener('hashchange', route)
route()
