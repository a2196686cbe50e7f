/**
 * Acceptance 2 of the coordinator: each workflow shape end to end through the coordinator service,
 * a real supervisor and a real runner (custom kinds, so the tests are fast and deterministic).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CoordinatorService } from '../src/roles/coordinator/index.js'
import { waitFor } from '../src/testing/index.js'
import {
  coordinatorOf,
  Executions,
  Gates,
  JobMesh,
  type RunningMember,
  runnerVisible,
  step,
  testKinds,
} from './coordinator-fixtures.js'

const mesh = new JobMesh()
const gates = new Gates()
const executions = new Executions()
let hub: RunningMember
let runner: RunningMember
let coordinator: CoordinatorService

beforeAll(async () => {
  const [h, r] = [await mesh.member('hub'), await mesh.member('run')]
  hub = await mesh.start(h, { roles: ['coordinator', 'supervisor'] })
  runner = await mesh.start(r, {
    roles: ['runner'],
    bootstrap: hub,
    options: { runner: { builtins: false, concurrency: 64, kinds: testKinds(gates, executions) } },
  })
  await runnerVisible(hub, 'echo', runner)
  coordinator = coordinatorOf(hub)
})
afterAll(() => mesh.cleanup())

const run = async (workflow: unknown, inputs: Record<string, unknown> = {}) => {
  const runId = await coordinator.submit(workflow, inputs)
  return { runId, done: () => coordinator.waitForCompletion(runId, 30_000) }
}

describe('workflow shapes through the coordinator', () => {
  it('diamond: the join step sees both branches', async () => {
    const { done } = await run({
      workflow: {
        name: 'diamond',
        steps: [
          { id: 'top', runner: 'echo', payload: 'top' },
          { id: 'left', runner: 'echo', payload: 'left', depends_on: ['top'] },
          { id: 'right', runner: 'echo', payload: 'right', depends_on: ['top'] },
          { id: 'join', runner: 'echo', payload: 'join', depends_on: ['left', 'right'] },
        ],
      },
    })
    const view = await done()
    expect(view.status).toBe('completed')
    const input = (step(view, 'join').output as { input: Record<string, { payload: string }> }).input
    expect(Object.keys(input).sort()).toEqual(['left', 'right'])
    expect(input.left?.payload).toBe('left')
    expect(Date.parse(step(view, 'join').startedAt as string)).toBeGreaterThanOrEqual(
      Date.parse(step(view, 'left').finishedAt as string),
    )
  })

  it('fan-out/fan-in of 100 parallel steps: all run at once, the aggregate sees all 100', async () => {
    const width = 100
    const fan = Array.from({ length: width }, (_, i) => ({
      id: `p${i}`,
      runner: 'gate',
      payload: 'fan',
      depends_on: ['start'],
    }))
    const { runId, done } = await run({
      workflow: {
        name: 'fan',
        steps: [
          { id: 'start', runner: 'echo', payload: 's' },
          ...fan,
          { id: 'sum', runner: 'echo', payload: 'sum', depends_on: fan.map((s) => s.id) },
        ],
      },
    })
    // Every branch is in flight before any may finish: dispatched in parallel, not one by one (the
    // runner takes 48 at once; the supervisor queues the rest).
    await waitFor(
      async () =>
        (await coordinator.status(runId)).steps.filter(
          (s) => s.state === 'running' || s.state === 'dispatched',
        ).length === width,
      { timeoutMs: 20_000, what: '100 steps in flight at once' },
    )
    gates.open('fan')
    const view = await done()
    expect(view.status).toBe('completed')
    expect(Object.keys((step(view, 'sum').output as { input: object }).input)).toHaveLength(width)
    for (let i = 0; i < width; i++) expect(executions.ofStep(runId, `p${i}`)).toBe(1)
  })

  it('retry then succeed: two failed attempts, then success, with the errors recorded', async () => {
    const { runId, done } = await run({
      workflow: {
        name: 'retry',
        steps: [
          { id: 'shaky', runner: 'flaky', payload: '2', retry: { max_attempts: 3, initial_delay: '20ms' } },
        ],
      },
    })
    const view = await done()
    expect(view.status).toBe('completed')
    expect(step(view, 'shaky')).toMatchObject({ state: 'succeeded', attempt: 3, output: { attempt: 3 } })
    const errors = await coordinator.errors(runId)
    expect(errors.map((e) => e.attempt)).toEqual([1, 2])
    expect(errors[0]?.message).toContain('flaky failure on attempt 1')
    const metrics = await coordinator.metrics(runId)
    expect(metrics.steps[0]?.attempts).toBe(3)
  })

  it('timeout: an attempt running past its timeout fails with StepTimeout and is retried, then the run fails', async () => {
    const { runId, done } = await run({
      workflow: {
        name: 'slow',
        steps: [
          {
            id: 'nap',
            runner: 'sleep',
            payload: '20000',
            timeout: '300ms',
            retry: { max_attempts: 2, initial_delay: '10ms' },
          },
        ],
      },
    })
    const view = await done()
    expect(view.status).toBe('failed')
    expect(step(view, 'nap')).toMatchObject({ state: 'failed', attempt: 2, error: { name: 'StepTimeout' } })
    expect(view.error).toMatchObject({ step: 'nap', name: 'StepTimeout' })
    expect((await coordinator.errors(runId)).map((e) => e.name)).toEqual(['StepTimeout', 'StepTimeout'])
  })

  it('skip: a false `when` skips the step; its dependent still runs and sees null', async () => {
    const { done } = await run(
      {
        workflow: {
          name: 'skip',
          inputs: { deep: { default: false } },
          steps: [
            { id: 'always', runner: 'echo', payload: 'a' },
            { id: 'deep', runner: 'echo', payload: 'd', when: 'inputs.deep == true' },
            { id: 'after', runner: 'echo', payload: 'z', depends_on: ['always', 'deep'] },
          ],
        },
      },
      { deep: false },
    )
    const view = await done()
    expect(view.status).toBe('completed')
    expect(step(view, 'deep')).toMatchObject({ state: 'skipped', reason: 'condition', attempt: 0 })
    expect((step(view, 'after').output as { input: Record<string, unknown> }).input.deep).toBeNull()
  })

  it('continue on failure: the run completes, the failed step’s dependents are skipped, others go on', async () => {
    const { done } = await run({
      workflow: {
        name: 'cof',
        steps: [
          { id: 'bad', runner: 'fail', payload: 'bad', continue_on_failure: true },
          { id: 'child', runner: 'echo', depends_on: ['bad'] },
          { id: 'good', runner: 'echo', payload: 'g' },
        ],
      },
    })
    const view = await done()
    expect(view.status).toBe('completed')
    expect(step(view, 'bad')).toMatchObject({ state: 'failed', error: { message: 'step bad fails' } })
    expect(step(view, 'child')).toMatchObject({ state: 'skipped', reason: 'upstream_failed' })
    expect(step(view, 'good').state).toBe('succeeded')
  })

  it('fail fast without continue_on_failure: the run fails and running siblings are cancelled', async () => {
    const { runId, done } = await run({
      workflow: {
        name: 'ff',
        steps: [
          { id: 'bad', runner: 'fail', payload: 'bad', depends_on: ['slow0'] },
          { id: 'slow0', runner: 'echo' },
          { id: 'hang', runner: 'gate', payload: 'never-ff' },
        ],
      },
    })
    const view = await done()
    expect(view.status).toBe('failed')
    expect(step(view, 'hang')).toMatchObject({ state: 'cancelled', reason: 'run_failed' })
    await waitFor(() => runner.roles.runner?.executor.load.running === 0, {
      what: 'the hanging job to be cancelled on the runner',
    })
    expect(executions.ofStep(runId, 'hang')).toBe(1)
  })

  it('cancel mid-run: running jobs are cancelled through the supervisor, later steps never start', async () => {
    const { runId } = await run({
      workflow: {
        name: 'cancel',
        steps: [
          { id: 'hold', runner: 'gate', payload: 'never-cancel' },
          { id: 'later', runner: 'echo', depends_on: ['hold'] },
        ],
      },
    })
    await waitFor(async () => step(await coordinator.status(runId), 'hold').state === 'running', {
      what: 'hold running',
    })
    const view = await coordinator.cancel(runId)
    expect(view.status).toBe('cancelled')
    expect(step(view, 'hold')).toMatchObject({ state: 'cancelled', reason: 'run_cancelled' })
    expect(step(view, 'later')).toMatchObject({ state: 'cancelled' })
    const sup = hub.roles.supervisor
    await waitFor(() => sup?.status(`${runId}/hold/1`).status === 'cancelled', {
      what: 'the job cancelled on the supervisor',
    })
    expect(executions.ofStep(runId, 'later')).toBe(0)
    await expect(coordinator.resume(runId)).rejects.toMatchObject({ name: 'RunFinishedError' })
  })

  it('pause/resume: nothing new is dispatched while paused; the run finishes after resume', async () => {
    const { runId, done } = await run({
      workflow: {
        name: 'pause',
        steps: [
          { id: 'first', runner: 'gate', payload: 'pause-first' },
          { id: 'second', runner: 'echo', depends_on: ['first'] },
        ],
      },
    })
    await waitFor(async () => step(await coordinator.status(runId), 'first').state === 'running', {
      what: 'first running',
    })
    expect((await coordinator.pause(runId)).status).toBe('paused')
    gates.open('pause-first')
    const paused = await waitFor(async () => {
      const v = await coordinator.status(runId)
      return step(v, 'first').state === 'succeeded' ? v : undefined
    })
    expect(paused.status).toBe('paused')
    expect(step(paused, 'second').state).toBe('ready')
    expect((await coordinator.pending(runId))[0]).toMatchObject({
      id: 'second',
      state: 'ready',
      reason: 'run paused',
    })
    expect(executions.ofStep(runId, 'second')).toBe(0)
    await coordinator.resume(runId)
    const view = await done()
    expect(view.status).toBe('completed')
    expect(executions.ofStep(runId, 'second')).toBe(1)
    const types = (await coordinator.logs(runId)).map((l) => l.message)
    expect(types).toContain('workflow paused')
    expect(types).toContain('workflow resumed')
  })

  it('composition: a step runs another workflow; its outputs become the step’s output', async () => {
    const { done } = await run({
      workflow: {
        name: 'parent',
        outputs: { rows: 'steps.etl.output.rows' },
        steps: [
          { id: 'prep', runner: 'echo', payload: 'p' },
          { id: 'etl', workflow: 'extract-load', depends_on: ['prep'], with: { source: "'db'" } },
          { id: 'report', runner: 'echo', depends_on: ['etl'] },
        ],
      },
      workflows: {
        'extract-load': {
          name: 'extract-load',
          inputs: { source: { required: true } },
          outputs: { rows: 'steps.load.output.payload', source: 'inputs.source' },
          steps: [
            { id: 'extract', runner: 'echo', payload: 'e' },
            { id: 'load', runner: 'echo', payload: 'loaded', depends_on: ['extract'] },
          ],
        },
      },
    })
    const view = await done()
    expect(view.status).toBe('completed')
    expect(view.steps.map((s) => s.id)).toEqual(expect.arrayContaining(['etl.extract', 'etl.load', 'etl']))
    expect(step(view, 'etl')).toMatchObject({ state: 'succeeded', output: { rows: 'loaded', source: 'db' } })
    expect((step(view, 'report').output as { input: Record<string, unknown> }).input.etl).toEqual({
      rows: 'loaded',
      source: 'db',
    })
    expect(view.outputs).toEqual({ rows: 'loaded' })
  })
})
