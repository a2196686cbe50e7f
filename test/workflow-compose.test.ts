import { describe, expect, it } from 'vitest'
import {
  compileWorkflow,
  loadWorkflow,
  resolveRunInputs,
  validateWorkflow,
  WorkflowInputError,
} from '../src/roles/coordinator/workflow/index.js'

const ETL = {
  name: 'etl',
  inputs: { source: { required: true }, mode: { default: 'full' } },
  outputs: { rows: 'steps.load.output.rows' },
  steps: [
    { id: 'extract', runner: 'hero' },
    { id: 'load', runner: 'osiris', depends_on: ['extract'] },
  ],
}

const messages = (issues: readonly { path: string; message: string }[]) =>
  issues.map((i) => `${i.path}: ${i.message}`)

describe('composition', () => {
  it('expands a named workflow in place, children before the workflow step', () => {
    const workflow = compileWorkflow({
      workflow: {
        name: 'main',
        steps: [
          { id: 'first', runner: 'hero' },
          { id: 'a', workflow: 'etl', with: { source: 'steps.first.output' }, depends_on: ['first'] },
          { id: 'b', workflow: 'etl', with: { source: '"https://fixed"', mode: "'incremental'" } },
          { id: 'last', runner: 'sal', depends_on: ['a', 'b'] },
        ],
      },
      workflows: { etl: ETL },
    })
    const ids = workflow.steps.map((s) => s.id)
    expect(ids).toEqual(['first', 'b.extract', 'b.load', 'b', 'a.extract', 'a.load', 'a', 'last'])
    const a = workflow.byId.get('a')
    expect(a?.kind).toBe('workflow')
    expect(a?.workflowName).toBe('etl')
    expect([...(a?.children.keys() ?? [])]).toEqual(['extract', 'load'])
    expect(workflow.byId.get('a.load')).toMatchObject({
      localId: 'load',
      scope: a?.index,
      path: 'workflows.etl.steps[1]',
    })
    expect(workflow.byId.get('a.load')?.deps).toEqual([workflow.byId.get('a.extract')?.index])
    expect(workflow.byId.get('last')?.deps).toEqual([a?.index, workflow.byId.get('b')?.index])
    expect(workflow.topLevel.get('first')).toBe(0)
    // `with` strings are expressions; other values literals.
    expect(a?.with.get('source')?.steps).toEqual(['first'])
    expect(workflow.byId.get('b')?.with.get('source')?.root).toEqual({
      kind: 'literal',
      value: 'https://fixed',
    })
  })

  it('resolves names through the resolve option and stores them in the self-contained source', () => {
    const workflow = compileWorkflow(
      { workflow: { name: 'main', steps: [{ id: 'x', workflow: 'etl', with: { source: '"s"' } }] } },
      { resolve: (name) => (name === 'etl' ? ETL : undefined) },
    )
    expect(workflow.source.workflows?.etl).toBe(ETL)
    expect(compileWorkflow(JSON.parse(JSON.stringify(workflow.source))).steps.map((s) => s.id)).toEqual([
      'x.extract',
      'x.load',
      'x',
    ])
  })

  it('accepts an inline definition', () => {
    const workflow = loadWorkflow(`
workflow:
  name: main
  steps:
    - id: inner
      workflow:
        name: small
        steps:
          - { id: only, runner: sal }
`)
    expect(workflow.steps.map((s) => s.id)).toEqual(['inner.only', 'inner'])
  })

  it('checks bindings against the child inputs and the fields a workflow step may have', () => {
    const issues = validateWorkflow({
      workflow: {
        name: 'main',
        steps: [
          { id: 'a', workflow: 'etl', with: { sorce: '"x"' }, retry: { max_attempts: 2 }, payload: 'p' },
          { id: 'b', workflow: 'nope' },
          { id: 'c', workflow: 42 },
        ],
      },
      workflows: { etl: ETL },
    })
    expect(messages(issues)).toEqual([
      'workflow.steps[0].payload: not allowed on a workflow step',
      'workflow.steps[0].retry: not allowed on a workflow step',
      'workflow.steps[0].with: missing required input "source" of workflow "etl"',
      'workflow.steps[0].with.sorce: unknown input "sorce" of workflow "etl" (did you mean "source"?)',
      'workflow.steps[1].workflow: unknown workflow "nope"',
      'workflow.steps[2].workflow: expected a workflow name or an inline workflow definition, got 42',
    ])
  })

  it('reports errors inside library and inline workflows at their own paths', () => {
    const issues = validateWorkflow({
      workflow: {
        name: 'main',
        steps: [
          { id: 'a', workflow: 'lib', with: {} },
          { id: 'b', workflow: { name: 'inline', steps: [{ id: 'x', runner: 'nope' }] } },
        ],
      },
      workflows: { lib: { name: 'lib', steps: [{ id: 'y', runner: 'hero', depends_on: ['z'] }] } },
    })
    expect(messages(issues)).toEqual([
      'workflow.steps[1].workflow.steps[0].runner: unknown runner kind "nope" (known: hero, sal, osiris)',
      'workflows.lib.steps[0].depends_on[0]: unknown step "z"',
    ])
  })

  it('detects recursive composition and prints the chain', () => {
    const issues = validateWorkflow({
      workflow: { name: 'main', steps: [{ id: 'a', workflow: 'ping' }] },
      workflows: {
        ping: { name: 'ping', steps: [{ id: 'p', workflow: 'pong' }] },
        pong: { name: 'pong', steps: [{ id: 'q', workflow: 'ping' }] },
      },
    })
    expect(messages(issues)).toEqual([
      'workflows.pong.steps[0].workflow: recursive composition: ping → pong → ping',
    ])
  })

  it('refuses documents that expand beyond the step limit', () => {
    const layer = (name: string, child: string) => ({
      name,
      steps: Array.from({ length: 10 }, (_, i) => ({ id: `s${i}`, workflow: child })),
    })
    const doc = {
      workflow: layer('main', 'l1'),
      workflows: {
        l1: layer('l1', 'l2'),
        l2: layer('l2', 'l3'),
        l3: layer('l3', 'l4'),
        l4: layer('l4', 'l5'),
        l5: layer('l5', 'leaf'),
        leaf: { name: 'leaf', steps: [{ id: 'x', runner: 'hero' }] },
      },
    }
    expect(messages(validateWorkflow(doc))).toEqual([
      'workflow: expands to 2111110 steps (at most 1000000 allowed)',
    ])
  })
})

describe('run inputs', () => {
  const workflow = compileWorkflow({
    workflow: {
      name: 'inputs',
      inputs: { url: { required: true }, limit: { default: 10 }, tag: null },
      steps: [{ id: 'a', runner: 'hero' }],
    },
  })

  it('applies defaults', () => {
    expect(resolveRunInputs(workflow, { url: 'u' })).toEqual({ url: 'u', limit: 10, tag: null })
    expect(resolveRunInputs(workflow, { url: 'u', limit: 1, tag: 'x' })).toEqual({
      url: 'u',
      limit: 1,
      tag: 'x',
    })
  })

  it('reports missing, unknown and non-JSON inputs together', () => {
    try {
      resolveRunInputs(workflow, { limt: 3, tag: () => 1 })
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(WorkflowInputError)
      expect(messages((err as WorkflowInputError).issues)).toEqual([
        'inputs.limt: unknown input (did you mean "limit"?) (workflow "inputs" declares url, limit, tag)',
        'inputs.tag: expected a JSON value, got function',
        'inputs.url: required input missing',
      ])
    }
  })
})
