/**
 * The run progress view: `renderRun` turns a run into lines (one per step, with state and
 * duration); `createProgressView` shows them live — redrawn in place on a terminal, or as one line
 * per step change when the output is a file or pipe. `horus workflow submit --wait` and
 * `horus demo` use it.
 */
import type { RunView, StepState, StepView } from '../client/types.js'

export interface RenderOptions {
  /** For the duration of steps still running. @default Date.now() */
  now?: number
  /** ANSI colours. @default false */
  color?: boolean
}

const SYMBOL: Record<StepState, string> = {
  pending: '○',
  ready: '◌',
  dispatched: '◔',
  running: '●',
  retrying: '↻',
  succeeded: '✔',
  failed: '✖',
  skipped: '⤼',
  cancelled: '⊘',
}

const COLOR: Record<string, string> = {
  pending: '90',
  ready: '90',
  dispatched: '36',
  running: '36',
  retrying: '33',
  paused: '33',
  succeeded: '32',
  completed: '32',
  failed: '31',
  skipped: '90',
  cancelled: '35',
}

function paint(text: string, key: string, color: boolean): string {
  const code = COLOR[key]
  return color && code !== undefined ? `\x1b[${code}m${text}\x1b[0m` : text
}

/** `850 ms`, `12.3 s`, `4m05s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  const minutes = Math.floor(ms / 60_000)
  const seconds = Math.floor((ms % 60_000) / 1000)
  return `${minutes}m${String(seconds).padStart(2, '0')}s`
}

export function stepDuration(step: StepView, now: number): number | undefined {
  if (step.durationMs !== undefined) return step.durationMs
  if (step.startedAt === undefined) return undefined
  const end = step.finishedAt === undefined ? now : Date.parse(step.finishedAt)
  return end - Date.parse(step.startedAt)
}

function runDuration(run: RunView, now: number): number {
  const end = run.finishedAt === undefined ? now : Date.parse(run.finishedAt)
  return end - Date.parse(run.createdAt)
}

/** Why a step is in its state, in a few words. */
function stepNote(step: StepView): string {
  if (step.state === 'failed' && step.error !== undefined) return `${step.error.name}: ${step.error.message}`
  if (step.reason !== undefined && step.state !== 'succeeded') return step.reason
  return ''
}

export function renderRun(run: RunView, options: RenderOptions = {}): string[] {
  const now = options.now ?? Date.now()
  const color = options.color ?? false
  const idWidth = Math.max(4, ...run.steps.map((s) => s.id.length))
  const lines = [
    `${run.workflow}  ${run.runId}  ${paint(run.status, run.status, color)}  ${formatDuration(runDuration(run, now))}`,
  ]
  for (const step of run.steps) {
    const duration = stepDuration(step, now)
    const columns = [
      ` ${paint(SYMBOL[step.state] ?? '?', step.state, color)} ${step.id.padEnd(idWidth)}`,
      paint(step.state.padEnd(10), step.state, color),
      (duration === undefined ? '' : formatDuration(duration)).padStart(8),
      step.attempt > 1 ? `attempt ${step.attempt}` : '',
      stepNote(step),
    ]
    lines.push(columns.join('  ').trimEnd())
  }
  if (run.error !== undefined) {
    const where = run.error.step === undefined ? '' : ` in step ${run.error.step}`
    lines.push(`error${where}: ${run.error.name}: ${run.error.message}`)
  }
  return lines
}

/** Where the view writes: a terminal (redrawn in place) or anything else (appended lines). */
export interface ProgressSink {
  isTTY: boolean
  /** Terminal width; longer lines are cut so a redraw knows how many rows it covers. */
  columns?: number
  write(text: string): void
}

export interface ProgressView {
  /** Show the run's current state. */
  update(run: RunView): void
  /** Show the final state and stop redrawing. */
  finish(run: RunView): void
}

/** How often a terminal view redraws on its own, so running steps' durations tick. */
const TICK_MS = 500

export function createProgressView(sink: ProgressSink, options: { color?: boolean } = {}): ProgressView {
  return sink.isTTY ? new TerminalView(sink, options.color ?? true) : new LineView(sink)
}

class TerminalView implements ProgressView {
  private drawn = 0
  private last: RunView | undefined
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly sink: ProgressSink,
    private readonly color: boolean,
  ) {}

  update(run: RunView): void {
    this.last = run
    this.draw()
    this.timer ??= setInterval(() => this.draw(), TICK_MS)
    this.timer.unref()
  }

  finish(run: RunView): void {
    clearInterval(this.timer)
    this.timer = undefined
    this.last = run
    this.draw()
  }

  private draw(): void {
    if (this.last === undefined) return
    // A pseudo-terminal without a size reports 0 columns: do not cut then.
    const columns = this.sink.columns ?? 0
    const width = columns >= 20 ? columns - 1 : Number.POSITIVE_INFINITY
    const lines = renderRun(this.last, { color: this.color }).map((line) => cut(line, width))
    // Move to the first row drawn last time and clear everything below it.
    const erase = this.drawn > 0 ? `\x1b[${this.drawn}F\x1b[0J` : ''
    this.sink.write(`${erase}${lines.join('\n')}\n`)
    this.drawn = lines.length
  }
}

/** Cuts visible text to `width` columns, leaving colour codes intact. */
function cut(line: string, width: number): string {
  let visible = 0
  let out = ''
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\x1b') {
      const end = line.indexOf('m', i)
      out += line.slice(i, end + 1)
      i = end
      continue
    }
    if (visible >= width) continue
    out += line[i]
    visible++
  }
  return out
}

/** For logs and pipes: a line when the run or a step changes state, then the full table at the end. */
class LineView implements ProgressView {
  private readonly seen = new Map<string, string>()
  private runStatus: string | undefined

  constructor(private readonly sink: ProgressSink) {}

  update(run: RunView): void {
    if (run.status !== this.runStatus) {
      this.runStatus = run.status
      this.sink.write(`${run.workflow} ${run.runId}: ${run.status}\n`)
    }
    for (const step of run.steps) {
      const key = `${step.state}/${step.attempt}`
      if (this.seen.get(step.id) === key) continue
      const first = !this.seen.has(step.id)
      this.seen.set(step.id, key)
      if (first && (step.state === 'pending' || step.state === 'ready')) continue
      const duration = stepDuration(step, Date.now())
      const detail = [
        step.attempt > 1 ? `attempt ${step.attempt}` : '',
        step.finishedAt !== undefined && duration !== undefined ? formatDuration(duration) : '',
        stepNote(step),
      ].filter((s) => s !== '')
      this.sink.write(`  ${step.id}: ${step.state}${detail.length > 0 ? ` (${detail.join(', ')})` : ''}\n`)
    }
  }

  finish(run: RunView): void {
    this.update(run)
    this.sink.write(`${renderRun(run).join('\n')}\n`)
  }
}
