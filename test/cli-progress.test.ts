import { describe, expect, it } from 'vitest'
import { createProgressView, formatDuration, renderRun } from '../src/cli/progress.js'
import type { RunView } from '../src/client/types.js'

const ESC = String.fromCharCode(27)
const T0 = Date.parse('2026-01-01T00:00:00.000Z')
const at = (ms: number): string => new Date(T0 + ms).toISOString()

function run(overrides: Partial<RunView> = {}): RunView {
  return {
    runId: 'run-1',
    workflow: 'data-pipeline',
    status: 'running',
    inputs: {},
    createdAt: at(0),
    epoch: 0,
    retryable: false,
    waitingFor: [],
    steps: [
      {
        id: 'fetch',
        runner: 'hero',
        dependsOn: [],
        state: 'succeeded',
        attempt: 1,
        startedAt: at(10),
        finishedAt: at(130),
        durationMs: 120,
      },
      {
        id: 'process',
        runner: 'sal',
        dependsOn: ['fetch'],
        state: 'running',
        attempt: 2,
        startedAt: at(200),
      },
      { id: 'store', runner: 'osiris', dependsOn: ['process'], state: 'pending', attempt: 0 },
    ],
    ...overrides,
  }
}

describe('renderRun', () => {
  it('shows each step with its state and duration, running steps timed up to now', () => {
    const lines = renderRun(run(), { now: T0 + 1_700 })
    expect(lines[0]).toBe('data-pipeline  run-1  running  1.7 s')
    expect(lines[1]).toBe(' ✔ fetch    succeeded     120 ms')
    expect(lines[2]).toBe(' ● process  running        1.5 s  attempt 2')
    expect(lines[3]).toBe(' ○ store    pending')
  })

  it('says why a step failed and where the run failed', () => {
    const failed = run({
      status: 'failed',
      finishedAt: at(65_000),
      steps: [
        {
          id: 'fetch',
          dependsOn: [],
          state: 'failed',
          attempt: 3,
          durationMs: 5,
          error: { name: 'HttpError', message: '503' },
        },
        {
          id: 'store',
          dependsOn: ['fetch'],
          state: 'skipped',
          attempt: 0,
          reason: 'dependency fetch failed',
        },
      ],
      error: { step: 'fetch', name: 'HttpError', message: '503' },
    })
    const lines = renderRun(failed)
    expect(lines[0]).toContain('failed  1m05s')
    expect(lines[1]).toContain('attempt 3  HttpError: 503')
    expect(lines[2]).toContain('skipped')
    expect(lines[2]).toContain('dependency fetch failed')
    expect(lines[3]).toBe('error in step fetch: HttpError: 503')
  })

  it('formats durations', () => {
    expect([formatDuration(0), formatDuration(999), formatDuration(1_000), formatDuration(125_000)]).toEqual([
      '0 ms',
      '999 ms',
      '1.0 s',
      '2m05s',
    ])
  })
})

describe('createProgressView', () => {
  it('redraws in place on a terminal: moves up over the previous block and clears it', () => {
    const writes: string[] = []
    const view = createProgressView(
      { isTTY: true, columns: 80, write: (t) => writes.push(t) },
      { color: false },
    )
    view.update(run())
    view.finish(run({ status: 'completed', finishedAt: at(900) }))
    expect(writes[0]?.startsWith('\x1b[')).toBe(false)
    expect(writes.at(-1)?.startsWith('\x1b[4F\x1b[0J')).toBe(true)
    expect(writes.at(-1)).toContain('completed')
  })

  it('cuts lines to the terminal width so the redraw covers exactly what it drew', () => {
    const writes: string[] = []
    const view = createProgressView(
      { isTTY: true, columns: 30, write: (t) => writes.push(t) },
      { color: true },
    )
    view.finish(run())
    for (const line of (writes[0] ?? '').split('\n')) {
      expect(line.replace(new RegExp(`${ESC}\\[[0-9;]*m`, 'g'), '').length).toBeLessThanOrEqual(29)
    }
  })

  it('prints one plain line per change when not on a terminal', () => {
    const writes: string[] = []
    const view = createProgressView({ isTTY: false, write: (t) => writes.push(t) })
    view.update(run())
    view.update(run()) // nothing changed: nothing printed
    const done = run({ status: 'completed', finishedAt: at(900) })
    const steps = done.steps.map((s) => ({
      ...s,
      state: 'succeeded' as const,
      finishedAt: at(800),
      durationMs: 50,
    }))
    view.update({ ...done, steps })
    const text = writes.join('')
    expect(text).not.toContain('\x1b')
    expect(text.split('\n').filter((l) => l.includes('process: running'))).toHaveLength(1)
    expect(text).toContain('data-pipeline run-1: completed')
    expect(text).toContain('store: succeeded (50 ms)')
    expect(text).not.toContain('store: pending')
  })
})
