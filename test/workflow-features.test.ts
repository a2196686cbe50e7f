import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { loadWorkflow, WorkflowValidationError } from '../src/roles/coordinator/workflow/index.js'

function issuesOf(text: string): string[] {
  try {
    loadWorkflow(text)
  } catch (err) {
    if (err instanceof WorkflowValidationError) return err.issues.map((i) => `${i.path}: ${i.message}`)
    throw err
  }
  return []
}

describe('workflow format: the additions compile', () => {
  it('the seed data pipeline still validates as written', async () => {
    const seed = await readFile(new URL('./fixtures/data-pipeline.yaml', import.meta.url), 'utf8')
    expect(issuesOf(seed)).toEqual([])
  })

  it('compiles map, trigger rules, waits, env, on_failure and a run timeout', () => {
    const wf = loadWorkflow(`
workflow:
  name: everything
  timeout: 2h
  inputs: { region: { default: eu } }
  steps:
    - { id: split, runner: hero }
    - id: each
      runner: sal
      depends_on: [split]
      for_each: steps.split.output.files
      max_parallel: 8
      env: { FILE: item.name, N: index, REGION: inputs.region, FIXED: "'x'", COUNT: 3 }
    - { id: nap, sleep: 1m30s, depends_on: [each] }
    - { id: approve, wait_for_signal: go-ahead, timeout: 1d, depends_on: [nap] }
    - { id: cleanup, runner: hero, depends_on: [approve], trigger_rule: all_done }
  on_failure:
    - { id: alert, runner: hero, env: { WHY: run.error.message } }
`)
    const step = (id: string) => wf.byId.get(id)
    expect(wf.timeoutMs).toBe(7_200_000)
    expect(step('each')).toMatchObject({ kind: 'job', maxParallel: 8, triggerRule: 'all_success' })
    expect(step('each')?.forEach?.source).toBe('steps.split.output.files')
    expect([...(step('each')?.env.keys() ?? [])]).toEqual(['FILE', 'N', 'REGION', 'FIXED', 'COUNT'])
    expect(step('nap')).toMatchObject({ kind: 'sleep', sleepMs: 90_000 })
    expect(step('approve')).toMatchObject({ kind: 'signal', signal: 'go-ahead', timeoutMs: 86_400_000 })
    expect(step('cleanup')?.triggerRule).toBe('all_done')
    expect(step('alert')?.onFailure).toBe(true)
    expect(wf.handlers).toEqual([step('alert')?.index])
    expect([...wf.signals]).toEqual(['go-ahead'])
    // on_failure steps come after every other step.
    expect(wf.steps.at(-1)?.id).toBe('alert')
  })

  it('a cleanup/alert step after failure takes three lines', () => {
    const wf = loadWorkflow(`
workflow:
  name: short
  steps:
    - { id: work, runner: sal }
  on_failure:
    - id: alert
      runner: hero
      payload: "!!http.post url:'https://hooks.example.com/alert'"
`)
    expect(wf.handlers).toHaveLength(1)
  })
})

describe('workflow format: the additions are validated, every issue with its path', () => {
  it('reports misuse of the new fields', () => {
    expect(
      issuesOf(`
workflow:
  name: bad
  timeout: never
  steps:
    - { id: split, runner: hero, max_parallel: 2 }
    - { id: each, runner: sal, for_each: 3, trigger_rule: all_sucess }
    - { id: nap, sleep: 0, runner: hero }
    - { id: wait, wait_for_signal: "no spaces" }
    - { id: env, runner: sal, env: { "BAD-NAME": 1, MODE: production, OBJ: { a: 1 }, IT: item } }
    - { id: wf, workflow: { name: c, steps: [{ id: x, runner: hero }] }, for_each: steps.split.output }
    - { id: sec, runner: sal, secrets: [API_KEY], env: { API_KEY: "'plain'" } }
`),
    ).toEqual([
      'workflow.steps[0].max_parallel: only allowed with for_each',
      'workflow.steps[1].for_each: expected an expression yielding a list (e.g. steps.split.output), got 3',
      'workflow.steps[1].trigger_rule: expected one of all_success, all_done, all_failed, one_failed, one_success, none_failed, always, got "all_sucess" (did you mean "all_success"?)',
      'workflow.steps[2]: runner and sleep are mutually exclusive (a step runs a job, runs a workflow, sleeps or waits for a signal)',
      'workflow.steps[3].wait_for_signal: expected a signal name (letters, digits, "_", "-", "."; starting with a letter or "_"), got "no spaces"',
      'workflow.steps[4].env.BAD-NAME: expected a name matching ^[A-Za-z_][A-Za-z0-9_]*$',
      `workflow.steps[4].env.IT: item and index are only defined in the env of a for_each step`,
      `workflow.steps[4].env.MODE: unknown name "production" (expressions start from inputs, steps, run, item, index, true, false or null) at column 1 of "production" (a literal string needs quotes inside the expression, e.g. "'text'")`,
      'workflow.steps[4].env.OBJ: expected an expression string, a number, a boolean or null, got an object',
      'workflow.steps[5].for_each: not allowed on a workflow step',
      'workflow.steps[6].env.API_KEY: also named in secrets (a variable comes from one or the other)',
      'workflow.timeout: expected a duration (milliseconds, or a string like "500ms", "2s", "1m") greater than 0, got "never"',
    ])
  })

  it('keeps on_failure steps to their own DAG, and out of composed workflows', () => {
    expect(
      issuesOf(`
workflow:
  name: handlers
  steps:
    - { id: a, runner: hero }
    - { id: b, runner: hero, depends_on: [alert], when: steps.alert.status == "failed" }
    - { id: etl, workflow: child }
  on_failure:
    - { id: alert, runner: hero, depends_on: [a] }
    - { id: a, runner: hero }
    - { id: page, runner: hero, when: steps.a.status == "failed" && steps.alert.status == "succeeded" }
    - { id: nested, workflow: child }
workflows:
  child:
    name: child
    timeout: 5m
    steps: [{ id: x, runner: hero }]
    on_failure: [{ id: y, runner: hero }]
`),
    ).toEqual([
      'workflow.on_failure[0].depends_on[0]: unknown step "a" (on_failure steps may depend only on other on_failure steps)',
      'workflow.on_failure[1].id: duplicate step id "a" (first defined at workflow.steps[0])',
      'workflow.on_failure[2].when: steps.alert is not a dependency of step "page" (add it to depends_on)',
      'workflow.on_failure[3].workflow: an on_failure step cannot run a composed workflow',
      'workflow.steps[1].depends_on[0]: unknown step "alert"',
      'workflow.steps[1].when: unknown step "alert"',
      'workflow.steps[2].workflow: workflow "child" has on_failure and timeout, which only apply to the workflow a run starts',
    ])
  })
})
