/**
 * The Horus dashboard: `#/` shows the mesh and the runs, `#/runs/<id>` one run's DAG. Data comes
 * from the node's gateway: JSON-RPC on POST /rpc, and live events from POST /rpc/subscribe (a
 * server-sent event stream read with fetch, since EventSource cannot POST). When no stream can be
 * had the page polls instead. A gateway with a bearer token answers 401: the page then asks for the
 * token and keeps it in this tab's sessionStorage (gone when the tab closes).
 */
import { formatDuration, renderDag, STATE_COLORS, STATES, stepDuration } from './dag.js'
import { renderTimeline } from './timeline.js'

const view = document.getElementById('view')
const liveBadge = document.getElementById('live')
const POLL_LIVE_MS = 5000
const POLL_FALLBACK_MS = 1500
const RESUBSCRIBE_MS = 2000
const PAGE_SIZE = 20
const MAX_EVENTS_SHOWN = 500
const TOKEN_KEY = 'horus.gateway.token'

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

/** The gateway wants a bearer token (none given, or not this one). */
class LoginNeeded extends Error {}

function headers() {
  const token = sessionStorage.getItem(TOKEN_KEY)
  return {
    'content-type': 'application/json',
    ...(token === null ? {} : { authorization: `Bearer ${token}` }),
  }
}

async function rpc(method, params = {}) {
  const response = await fetch('/rpc', {
    method: 'POST',
    headers: headers(),
    body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }),
  })
  if (response.status === 401) {
    const body = await response.json().catch(() => ({}))
    throw new LoginNeeded(body.error?.message ?? 'the gateway wants a bearer token')
  }
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
      headers: headers(),
      // `params` may be a function: a stream reopened after a drop resumes where it stopped.
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: nextId++,
        method: `${name}.subscribe`,
        params: typeof params === 'function' ? params() : params,
      }),
      signal: controller.signal,
    })
    if (response.status === 401) {
      controller.abort()
      showLogin('the gateway wants a bearer token')
      return
    }
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
      if (err instanceof LoginNeeded) {
        stopped = true
        showLogin(err.message)
        return
      }
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

const dateTime = (iso) => (iso === undefined ? '' : new Date(iso).toLocaleString())

/** Search, status filter and pages of the runs list; kept while the page is open. */
const runsView = { query: '', status: '', pages: [undefined] }

function runsControls(onChange) {
  const search = h('input', {
    type: 'search',
    id: 'runs-search',
    placeholder: 'Search workflow or run id',
    value: runsView.query,
  })
  const status = h(
    'select',
    { id: 'runs-status', 'aria-label': 'status' },
    ['', 'pending', 'running', 'paused', 'completed', 'failed', 'cancelled'].map((s) =>
      h('option', { value: s, selected: s === runsView.status }, s === '' ? 'any status' : s),
    ),
  )
  let typing
  search.addEventListener('input', () => {
    clearTimeout(typing)
    typing = setTimeout(() => {
      runsView.query = search.value.trim()
      runsView.pages = [undefined]
      onChange()
    }, 250)
  })
  status.addEventListener('change', () => {
    runsView.status = status.value
    runsView.pages = [undefined]
    onChange()
  })
  return h('div', { class: 'runs-controls' }, search, status)
}

async function runsTable(onChange) {
  const page = runsView.pages.length - 1
  const params = { limit: PAGE_SIZE + 1 }
  if (runsView.query !== '') params.query = runsView.query
  if (runsView.status !== '') params.status = runsView.status
  if (runsView.pages[page] !== undefined) params.after = runsView.pages[page]
  const fetched = await rpc('coordinator.list_workflows', params)
  const runs = fetched.slice(0, PAGE_SIZE)
  const more = fetched.length > PAGE_SIZE
  const rows = runs.map((r) =>
    h(
      'tr',
      {
        class: 'clickable',
        'data-run': r.runId,
        onclick: () => (location.hash = `#/runs/${encodeURIComponent(r.runId)}`),
      },
      h(
        'td',
        { class: 'mono', title: r.runId },
        h('a', { href: `#/runs/${encodeURIComponent(r.runId)}` }, shortId(r.runId)),
      ),
      h('td', {}, r.workflow),
      h('td', {}, badge(r.status)),
      h(
        'td',
        { class: 'mono', title: r.submitter ?? '' },
        r.submitter === undefined ? '—' : shortId(r.submitter),
      ),
      h('td', {}, dateTime(r.createdAt)),
      h('td', {}, runDuration(r)),
    ),
  )
  const filtered = runsView.query !== '' || runsView.status !== ''
  const pager = h(
    'div',
    { class: 'pager' },
    h(
      'button',
      {
        id: 'runs-newer',
        disabled: page === 0,
        onclick: () => {
          runsView.pages.pop()
          onChange()
        },
      },
      '← Newer',
    ),
    h('span', { class: 'muted', id: 'runs-page' }, `page ${page + 1}`),
    h(
      'button',
      {
        id: 'runs-older',
        disabled: !more,
        onclick: () => {
          runsView.pages.push(runs.at(-1).runId)
          onChange()
        },
      },
      'Older →',
    ),
  )
  return [
    table(
      ['Run', 'Workflow', 'Status', 'Submitter', 'Started', 'Duration'],
      rows,
      filtered ? 'No run matches.' : 'No runs yet.',
    ),
    pager,
  ]
}

function showOverview() {
  const mesh = h('div', { id: 'mesh' })
  const runs = h('div', { id: 'runs' })
  view.replaceChildren(h('div', { class: 'grid-2' }, mesh, runs))
  let runsBody
  let refresh
  const onChange = () => refresh.now()
  const drawRuns = async () => {
    if (!(await available('coordinator.list_workflows'))) {
      runs.replaceChildren(
        card(
          'Runs',
          undefined,
          h('div', { class: 'empty' }, 'This node runs no coordinator, so it has no runs to show.'),
        ),
      )
      return
    }
    if (runsBody === undefined) {
      // The controls are made once: a refresh must not take the focus out of the search box.
      runsBody = h('div', { id: 'runs-body' })
      runs.replaceChildren(card('Runs', undefined, runsControls(onChange), runsBody))
    }
    runsBody.replaceChildren(...(await runsTable(onChange)))
  }
  refresh = poller(async () => {
    const [m] = await Promise.all([meshCard(), drawRuns()])
    mesh.replaceChildren(m)
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

/** Actions the run's status allows, those this node serves: [label, method, destructive]. */
const ACTIONS = [
  ['Pause', 'coordinator.pause_workflow', false, ['pending', 'running']],
  ['Resume', 'coordinator.resume_workflow', false, ['paused']],
  ['Cancel', 'coordinator.cancel_workflow', true, ['pending', 'running', 'paused']],
]

/**
 * What the page says when the coordinator refused an action: which action, the coordinator's
 * reason as it gave it (only the submitter or an admin may act; a gateway grant that does not
 * cover a capability…), and that nothing happened to the run.
 */
function refusalText(label, err) {
  const name = err instanceof RpcFailure ? err.data?.name : undefined
  return `${label} refused${name ? ` (${name})` : ''}: ${err.message}. The run was not changed.`
}

/** Shows a refusal in `box` (the page's alert for actions), with the error's class for tools. */
function showRefusal(box, label, err) {
  box.textContent = refusalText(label, err)
  box.dataset.error = (err instanceof RpcFailure && err.data?.name) || 'Error'
}

function actionBar(run, onDone, refusal) {
  const buttons = ACTIONS.filter(
    ([, method, , states]) => states.includes(run.status) && methods?.has(method),
  ).map(([label, method, destructive]) =>
    h(
      'button',
      {
        class: destructive ? 'danger' : '',
        'data-action': label.toLowerCase(),
        onclick: async (event) => {
          const what = `${label.toLowerCase()} run ${run.runId} (${run.workflow})`
          if (destructive && !window.confirm(`Really ${what}? This cannot be undone.`)) return
          event.target.disabled = true
          refusal.textContent = ''
          try {
            await rpc(method, { runId: run.runId })
            onDone()
          } catch (err) {
            if (err instanceof LoginNeeded) return showLogin(err.message)
            showRefusal(refusal, label, err)
          } finally {
            event.target.disabled = false
          }
        },
      },
      label,
    ),
  )
  return h('div', { class: 'actions' }, buttons)
}

function jsonBlock(title, value, id) {
  if (value === undefined || (typeof value === 'object' && value !== null && Object.keys(value).length === 0))
    return h('div', { class: 'io', id }, h('h3', {}, title), h('div', { class: 'muted' }, 'none'))
  return h('div', { class: 'io', id }, h('h3', {}, title), h('pre', {}, JSON.stringify(value, null, 2)))
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
function runActions(run, onDone, refusal) {
  const message = h('div', { class: 'action-error', id: 'run-action-error', hidden: true })
  const fail = (err) => {
    message.hidden = false
    message.textContent = err.message
  }
  const act = async (button, label, method, params) => {
    message.hidden = true
    refusal.textContent = ''
    button.disabled = true
    try {
      await rpc(method, params)
      onDone()
    } catch (err) {
      if (err instanceof LoginNeeded) return showLogin(err.message)
      showRefusal(refusal, label, err)
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
          onclick: (event) =>
            act(event.currentTarget, 'Retry', 'coordinator.retry_workflow', { runId: run.runId }),
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
          void act(send, `Signal “${name}”`, 'coordinator.signal_workflow', {
            runId: run.runId,
            name,
            data: value,
          })
        },
      },
      data,
      send,
    )
  })
  if (retry === '' && signals.length === 0) return h('div', { id: 'run-actions', hidden: true })
  return h('div', { class: 'run-actions', id: 'run-actions' }, retry, signals, message)
}

function runHeader(run, actions) {
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
      h('span', { class: 'spacer' }),
      actions,
    ),
    h(
      'div',
      { class: 'run-meta' },
      h('span', {}, 'run ', h('b', { class: 'mono' }, run.runId)),
      h('span', {}, 'started ', h('b', { id: 'run-started' }, dateTime(run.createdAt))),
      run.finishedAt ? h('span', {}, 'finished ', h('b', {}, dateTime(run.finishedAt))) : '',
      h('span', {}, 'duration ', h('b', {}, runDuration(run))),
      run.submitter
        ? h(
            'span',
            { title: run.submitter },
            'submitter ',
            h('b', { class: 'mono', id: 'run-submitter' }, shortId(run.submitter)),
          )
        : '',
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
    h(
      'div',
      { class: 'run-io' },
      jsonBlock('Inputs', run.inputs, 'run-inputs'),
      jsonBlock('Outputs', run.outputs, 'run-outputs'),
    ),
  )
}

function eventItem(event) {
  return h(
    'li',
    { class: `sev-${event.severity}`, 'data-type': event.type },
    h('span', { class: 'muted' }, dateTime(event.at)),
    h('span', {}, event.type),
    h('span', {}, event.stepId ? `${event.stepId}: ` : '', event.message),
  )
}

function showRun(runId) {
  const header = h('div', { id: 'run-header' })
  // Outside the parts that are redrawn: a refusal stays on screen until the next action.
  const refusal = h('div', { class: 'action-error', id: 'action-error', role: 'alert' })
  const access = h('div', { class: 'action-error', id: 'run-access-error', role: 'alert' })
  const actions = h('div')
  let shownActions
  const dag = h('div', { class: 'dag-wrap', id: 'dag' })
  const timeline = h('div', { class: 'timeline-wrap', id: 'timeline' })
  const side = h('div', { id: 'side' })
  const events = h(
    'ul',
    { class: 'events', id: 'events' },
    h('li', { class: 'empty placeholder' }, 'No events yet.'),
  )
  view.replaceChildren(
    h('div', {}, h('a', { href: '#/' }, '← Overview')),
    header,
    access,
    refusal,
    actions,
    h('div', { class: 'run-body' }, card('Workflow', undefined, legend(), dag), side),
    card('Timeline', undefined, timeline),
    card('Events', undefined, events),
  )
  let run
  let selected
  let logs
  /** Every event of the run, oldest first (replayed from its start), and the last one's id. */
  const history = []
  const seen = new Set()
  let lastEventId
  const drawn = { header: undefined, side: undefined }
  const select = (stepId) => {
    selected = stepId
    logs = undefined
    draw()
    loadLogs().catch(() => {})
  }
  // Parts are redrawn only when what they show changed: a finished run's page stays still, so a
  // click on a step never lands on an element that was just replaced.
  const draw = () => {
    if (run === undefined) return
    const running = !['completed', 'failed', 'cancelled'].includes(run.status)
    const headerKey = JSON.stringify([run, running ? Math.floor(Date.now() / 1000) : 0])
    if (drawn.header !== headerKey) {
      drawn.header = headerKey
      header.replaceChildren(
        runHeader(
          run,
          actionBar(run, () => refresh.now(), refusal),
        ),
      )
    }
    if (actionsKey(run) !== shownActions) {
      shownActions = actionsKey(run)
      actions.replaceChildren(runActions(run, () => refresh.now(), refusal))
    }
    renderDag(dag, run, selected, select)
    const sideKey = JSON.stringify([run.steps.find((s) => s.id === selected), logs])
    if (drawn.side !== sideKey) {
      drawn.side = sideKey
      side.replaceChildren(stepPanel(run, selected, logs))
    }
    renderTimeline(timeline, history, run)
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
    await available('coordinator.get_workflow_status') // learns which actions this node serves
    try {
      run = await rpc('coordinator.get_workflow_status', { runId })
    } catch (err) {
      if (err instanceof LoginNeeded) throw err
      const denied = err instanceof RpcFailure && err.data?.name === 'RunAccessDeniedError'
      refresh.stop()
      if (run !== undefined && denied) {
        // Shown before, refused now: keep what was seen, say why it no longer updates.
        access.textContent = `Access refused: ${err.message}. The run is shown as last seen.`
        return
      }
      view.replaceChildren(
        h(
          'section',
          { class: 'card', id: 'run-unavailable', 'data-error': err.data?.name ?? 'Error' },
          h(
            'h2',
            {},
            denied
              ? 'Access refused'
              : err.data?.name === 'RunNotFoundError'
                ? 'Run not found'
                : 'Run unavailable',
          ),
          h('p', {}, err.message),
          h('a', { href: '#/' }, '← Overview'),
        ),
      )
      return
    }
    draw()
    if (selected !== undefined) await loadLogs()
    if (['completed', 'failed', 'cancelled'].includes(run.status)) refresh.setInterval(POLL_LIVE_MS)
  })
  const addEvent = (event) => {
    if (event.id !== undefined) {
      if (seen.has(event.id)) return
      seen.add(event.id)
      lastEventId = event.id
    }
    history.push(event)
    events.querySelector('.placeholder')?.remove()
    events.prepend(eventItem(event))
    while (events.children.length > MAX_EVENTS_SHOWN) events.lastChild.remove()
  }
  // From the run's first event; after a dropped stream, from the last one received.
  const stopEvents = subscribe(
    'coordinator.events',
    () => ({ runId, after: lastEventId ?? '' }),
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

/* ---------- login (token-protected gateway) ---------- */

function showLogin(reason) {
  leavePage()
  leavePage = () => {}
  setLive('connecting')
  const had = sessionStorage.getItem(TOKEN_KEY) !== null
  const input = h('input', {
    type: 'password',
    id: 'login-token',
    autocomplete: 'current-password',
    placeholder: 'bearer token',
    required: true,
  })
  const message = h(
    'p',
    { class: 'action-error', id: 'login-error' },
    had ? `The token was refused: ${reason}` : '',
  )
  const form = h(
    'form',
    {
      id: 'login',
      class: 'card login',
      onsubmit: async (event) => {
        event.preventDefault()
        sessionStorage.setItem(TOKEN_KEY, input.value)
        try {
          await rpc('node.info')
        } catch (err) {
          sessionStorage.removeItem(TOKEN_KEY)
          message.textContent =
            err instanceof LoginNeeded ? `The token was refused: ${err.message}` : err.message
          return
        }
        route()
      },
    },
    h('h2', {}, 'Sign in to this gateway'),
    h(
      'p',
      { class: 'muted' },
      "This node's gateway needs its bearer token (gateway.token in the node's config). It is kept in this tab only, until it closes.",
    ),
    input,
    h('button', { type: 'submit' }, 'Sign in'),
    message,
  )
  view.replaceChildren(form)
  input.focus()
}

function signOutLink() {
  const link = document.getElementById('sign-out')
  if (link === null) return
  link.hidden = sessionStorage.getItem(TOKEN_KEY) === null
}

/* ---------- routing ---------- */

function route() {
  leavePage()
  signOutLink()
  const match = /^#\/runs\/(.+)$/.exec(location.hash)
  leavePage = match ? showRun(decodeURIComponent(match[1])) : showOverview()
}

document.getElementById('sign-out')?.addEventListener('click', (event) => {
  event.preventDefault()
  sessionStorage.removeItem(TOKEN_KEY)
  showLogin('signed out')
})

window.addEventListener('hashchange', route)
route()
