import { describe, expect, it } from 'vitest'
import {
  compileWorkflow,
  loadWorkflow,
  validateWorkflow,
  WorkflowValidationError,
} from '../src/roles/coordinator/workflow/index.js'

function issuesOf(source: string | object, options = {}) {
  const document = typeof source === 'string' ? source : JSON.stringify(source)
  try {
    loadWorkflow(document, options)
  } catch (err) {
    if (err instanceof WorkflowValidationError) return err.issues.map((i) => `${i.path}: ${i.message}`)
    throw err
  }
  return []
}

describe('workflow validation', () => {
  it('reports every error, each with its path, in document order', () => {
    const issues = issuesOf(`
workflow:
  name: bad
  steps:
    - id: a
      runner: hero
      depends_on: [c]
    - id: b
      runner: hro
      depends_on: [a, fech]
      retry: { max_attempts: 0, backoff_base: 0.5, initial_delay: 1s, max_delay: 10, jiter: 1 }
    - id: c
      runner: sal
      depends_on: [b]
      when: "steps.b.output = 1"
    - id: a
      runner: sal
      timeout: soon
`)
    expect(issues).toEqual([
      'workflow.steps[0].depends_on[0]: cycle: a → b → c → a',
      'workflow.steps[1].depends_on[1]: unknown step "fech"',
      'workflow.steps[1].retry.backoff_base: expected a number ≥ 1, got 0.5',
      'workflow.steps[1].retry.jiter: unknown field (did you mean "jitter"?) (expected one of max_attempts, initial_delay, backoff_base, max_delay, jitter)',
      'workflow.steps[1].retry.max_attempts: expected an integer ≥ 1, got 0',
      'workflow.steps[1].retry.max_delay: expected a duration ≥ initial_delay (1000 ms), got 10 ms',
      'workflow.steps[1].runner: unknown runner kind "hro" (did you mean "hero"?) (known: hero, sal, osiris)',
      'workflow.steps[2].when: unexpected character "=" (use == to compare) at column 16 of "steps.b.output = 1"',
      'workflow.steps[3].id: duplicate step id "a" (first defined at workflow.steps[0])',
      'workflow.steps[3].timeout: expected a duration (milliseconds, or a string like "500ms", "2s", "1m") greater than 0, got "soon"',
    ])
  })

  it("refuses a job step's timeout beyond the longest a job may carry (7d), not a signal wait's", () => {
    const doc = (timeout: string) => ({
      workflow: {
        name: 'x',
        steps: [
          { id: 'a', runner: 'hero', timeout },
          { id: 'b', wait_for_signal: 'go', timeout: '30d' },
        ],
      },
    })
    expect(issuesOf(doc('7d'))).toEqual([])
    expect(issuesOf(doc('7d1ms'))).toEqual([
      `workflow.steps[0].timeout: expected a job step's timeout of at most 604800000 ms (7d), got "7d1ms"`,
    ])
  })

  it('suggests the step meant by a typo', () => {
    expect(
      issuesOf({
        workflow: {
          name: 'x',
          steps: [
            { id: 'fetch', runner: 'hero' },
            { id: 'p', runner: 'sal', depends_on: ['fech'] },
          ],
        },
      }),
    ).toEqual(['workflow.steps[1].depends_on[0]: unknown step "fech" (did you mean "fetch"?)'])
  })

  it('prints self-dependencies and each separate cycle', () => {
    const issues = issuesOf({
      workflow: {
        name: 'cycles',
        steps: [
          { id: 'self', runner: 'hero', depends_on: ['self'] },
          { id: 'x', runner: 'hero', depends_on: ['y'] },
          { id: 'y', runner: 'hero', depends_on: ['x'] },
          { id: 'downstream', runner: 'hero', depends_on: ['y'] },
        ],
      },
    })
    expect(issues).toEqual([
      'workflow.steps[0].depends_on[0]: cycle: self → self',
      'workflow.steps[1].depends_on[0]: cycle: x → y → x',
    ])
  })

  it('knows the runner kinds it is given', () => {
    const doc = { workflow: { name: 'x', steps: [{ id: 'a', runner: 'python' }] } }
    expect(issuesOf(doc)).toEqual([
      'workflow.steps[0].runner: unknown runner kind "python" (known: hero, sal, osiris)',
    ])
    expect(issuesOf(doc, { runners: ['hero', 'python'] })).toEqual([])
  })

  it('checks field types and unknown fields', () => {
    const issues = issuesOf({
      workflow: {
        name: '',
        colour: 'blue',
        steps: [
          { id: '1st', runner: 'hero', depend_on: ['x'] },
          { id: 'both', runner: 'hero', workflow: 'other' },
          { id: 'neither' },
          { id: 'ok', runner: 'hero', depends_on: 'both', continue_on_failure: 'yes', when: 3, with: {} },
          'not a step',
        ],
      },
    })
    expect(issues).toEqual([
      'workflow.colour: unknown field (expected one of name, description, inputs, outputs, steps, on_failure, timeout)',
      'workflow.name: expected a non-empty string, got ""',
      'workflow.steps[0].depend_on: unknown field (did you mean "depends_on"?) (expected one of id, name, description, depends_on, when, continue_on_failure, trigger_rule, runner, payload, retry, timeout, for_each, max_parallel, env, secrets, workflow, with, sleep, wait_for_signal)',
      'workflow.steps[0].id: expected a step id matching [A-Za-z_][A-Za-z0-9_-]*, got "1st"',
      'workflow.steps[1]: runner and workflow are mutually exclusive (a step runs a job, runs a workflow, sleeps or waits for a signal)',
      'workflow.steps[2].runner: required (or workflow to run another workflow, sleep to wait a while, wait_for_signal to wait for a signal)',
      'workflow.steps[3].continue_on_failure: expected a boolean, got "yes"',
      'workflow.steps[3].depends_on: expected an array of step ids, got "both"',
      'workflow.steps[3].when: expected an expression string or a boolean, got 3',
      'workflow.steps[3].with: only allowed on a workflow step',
      'workflow.steps[4]: expected a step object, got "not a step"',
    ])
  })

  it('checks what expressions refer to', () => {
    const issues = issuesOf(`
workflow:
  name: refs
  inputs:
    region: { default: eu }
  outputs:
    total: steps.sum.output.total
    missing: steps.nope.output
  steps:
    - { id: a, runner: hero }
    - { id: b, runner: hero }
    - id: c
      runner: sal
      depends_on: [a]
      when: steps.b.output && inputs.regoin == "eu"
    - id: d
      runner: sal
      when: steps.a.outputs
`)
    expect(issues).toEqual([
      'workflow.outputs.missing: unknown step "nope"',
      'workflow.outputs.total: unknown step "sum"',
      'workflow.steps[2].when: steps.b is not a dependency of step "c" (add it to depends_on)',
      'workflow.steps[2].when: unknown input "regoin" (declared: region)',
      'workflow.steps[3].when: unknown step field "outputs" (expected output, status, error, attempt) at column 9 of "steps.a.outputs"',
    ])
  })

  it('checks input declarations', () => {
    expect(
      issuesOf({
        workflow: {
          name: 'x',
          inputs: { ok: null, bad: 3, both: { required: true, default: 1 }, 'not id': {} },
          steps: [{ id: 'a', runner: 'hero' }],
        },
      }),
    ).toEqual([
      'workflow.inputs.bad: expected an object { required, default, description } or null, got 3',
      'workflow.inputs.both.default: a required input cannot have a default',
      'workflow.inputs["not id"]: expected an input name matching [A-Za-z_][A-Za-z0-9_-]*',
    ])
  })

  it('validateWorkflow returns issues instead of throwing', () => {
    expect(validateWorkflow({ workflow: { name: 'x', steps: [] } })).toEqual([
      { path: 'workflow.steps', message: 'expected a non-empty array of steps, got an array' },
    ])
  })
})

describe('workflow validation at scale', () => {
  function chain(n: number) {
    const steps = Array.from({ length: n }, (_, i) =>
      i === 0 ? { id: 's0', runner: 'hero' } : { id: `s${i}`, runner: 'hero', depends_on: [`s${i - 1}`] },
    )
    return { workflow: { name: 'chain', steps } }
  }

  // How fast is measured by scripts/bench/workflow-core.ts, not asserted here.
  it('validates and compiles a 100k-step chain, in order', () => {
    const workflow = compileWorkflow(chain(100_000))
    expect(workflow.steps).toHaveLength(100_000)
    expect(workflow.steps[99_999]?.id).toBe('s99999')
  })

  it('reports a 100k-step cycle without exhausting the stack', () => {
    const doc = chain(100_000)
    ;(doc.workflow.steps[0] as { depends_on?: string[] }).depends_on = ['s99999']
    const issues = validateWorkflow(doc)
    expect(issues).toHaveLength(1)
    expect(issues[0]?.path).toBe('workflow.steps[0].depends_on[0]')
    expect(issues[0]?.message.startsWith('cycle: s0 → s1 → s2 → ')).toBe(true)
    expect(issues[0]?.message.endsWith(' → s99999 → s0')).toBe(true)
  })

  it('orders a random layered DAG so every step comes after its dependencies', () => {
    let seed = 42
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
      return seed / 2 ** 31
    }
    const steps: { id: string; runner: string; depends_on: string[] }[] = []
    for (let i = 0; i < 20_000; i++) {
      const deps = new Set<string>()
      const layerStart = Math.max(0, (Math.floor(i / 100) - 1) * 100)
      if (i >= 100) for (let k = 0; k < 3; k++) deps.add(`n${layerStart + Math.floor(random() * 100)}`)
      steps.push({ id: `n${i}`, runner: 'sal', depends_on: [...deps] })
    }
    steps.reverse() // document order must not matter
    const workflow = compileWorkflow({ workflow: { name: 'layers', steps } })
    const position = new Map(workflow.steps.map((s, i) => [s.id, i]))
    for (const step of workflow.steps) {
      for (const dep of step.deps) expect(dep).toBeLessThan(position.get(step.id) as number)
    }
  })

  it('reads step secrets: variable names, job steps only, no duplicates', () => {
    const workflow = loadWorkflow(
      JSON.stringify({
        workflow: {
          name: 's',
          steps: [
            { id: 'a', runner: 'sal', secrets: ['API_KEY', 'TOKEN'] },
            { id: 'b', runner: 'sal' },
          ],
        },
      }),
      { runners: ['sal'] },
    )
    expect(workflow.byId.get('a')?.secrets).toEqual(['API_KEY', 'TOKEN'])
    expect(workflow.byId.get('b')?.secrets).toEqual([])
    expect(
      issuesOf(
        {
          workflow: {
            name: 's',
            steps: [
              { id: 'a', runner: 'sal', secrets: ['API-KEY', 'X', 'X', 3] },
              { id: 'b', runner: 'sal', secrets: 'X' },
              { id: 'c', workflow: { name: 'child', steps: [{ id: 'x', runner: 'sal' }] }, secrets: ['X'] },
            ],
          },
        },
        { runners: ['sal'] },
      ),
    ).toEqual([
      'workflow.steps[0].secrets[0]: expected a variable name matching [A-Za-z_][A-Za-z0-9_]*, got "API-KEY"',
      'workflow.steps[0].secrets[2]: duplicate secret "X"',
      'workflow.steps[0].secrets[3]: expected a variable name matching [A-Za-z_][A-Za-z0-9_]*, got 3',
      'workflow.steps[1].secrets: expected a list of secret names, got "X"',
      'workflow.steps[2].secrets: not allowed on a workflow step',
    ])
  })
})
