import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  compileWorkflow,
  loadWorkflow,
  parseWorkflowText,
  WorkflowParseError,
  WorkflowValidationError,
} from '../src/roles/coordinator/workflow/index.js'

const SEED = readFileSync(new URL('./fixtures/data-pipeline.yaml', import.meta.url), 'utf8')

describe('workflow files', () => {
  it("accepts the seed's data-pipeline workflow verbatim", () => {
    const workflow = loadWorkflow(SEED)
    expect(workflow.name).toBe('data-pipeline')
    expect(workflow.steps.map((s) => [s.id, s.runner, s.deps.map((d) => workflow.steps[d]?.id)])).toEqual([
      ['fetch', 'hero', []],
      ['process', 'sal', ['fetch']],
      ['store', 'osiris', ['process']],
    ])
    expect(workflow.byId.get('fetch')?.payload).toBe("!!http.get url:'https://api.example.com/data'")
    expect(workflow.byId.get('process')?.payload).toBe(
      'let data = input.fetch;\nlet processed = process_data(data);\nprocessed\n',
    )
    expect(workflow.byId.get('store')?.payload).toBe(
      'let model = osiris.model("results");\nmodel.create(input.process);\n',
    )
    expect(workflow.dependents.get('fetch')).toEqual(['process'])
    expect(workflow.byId.get('fetch')?.retry.maxAttempts).toBe(1)
  })

  it('reads the same workflow from JSON', () => {
    const yaml = loadWorkflow(SEED)
    const json = loadWorkflow(JSON.stringify(parseWorkflowText(SEED)))
    expect(json.steps.map((s) => [s.id, s.runner, s.payload, s.deps])).toEqual(
      yaml.steps.map((s) => [s.id, s.runner, s.payload, s.deps]),
    )
  })

  it('keeps a self-contained source that compiles to the same workflow', () => {
    const workflow = loadWorkflow(SEED)
    const again = compileWorkflow(JSON.parse(JSON.stringify(workflow.source)))
    expect(again.steps.map((s) => s.id)).toEqual(workflow.steps.map((s) => s.id))
  })

  it('reports YAML syntax errors with their line', () => {
    let error: unknown
    try {
      parseWorkflowText('workflow:\n  name: "x\n  steps: [')
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(WorkflowParseError)
    expect((error as WorkflowParseError).line).toBeGreaterThan(0)
    expect(() => parseWorkflowText('{"workflow": ', 'json')).toThrow(WorkflowParseError)
  })

  it('refuses YAML alias bombs and duplicate keys', () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for (let i = 0; i < 8; i++) {
      bomb.push(
        `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9)
          .fill(`*${String.fromCharCode(97 + i)}`)
          .join(',')}]`,
      )
    }
    expect(() => parseWorkflowText(bomb.join('\n'))).toThrow(WorkflowParseError)
    expect(() => parseWorkflowText('workflow: 1\nworkflow: 2')).toThrow(WorkflowParseError)
  })

  it('compiles into frozen structures', () => {
    const workflow = loadWorkflow(SEED)
    expect(Object.isFrozen(workflow)).toBe(true)
    expect(Object.isFrozen(workflow.steps)).toBe(true)
    expect(Object.isFrozen(workflow.steps[0])).toBe(true)
    expect(Object.isFrozen(workflow.steps[0]?.retry)).toBe(true)
  })

  it('rejects a document without the workflow key', () => {
    expect(() => compileWorkflow({ name: 'x', steps: [] })).toThrow(WorkflowValidationError)
    try {
      compileWorkflow({ name: 'x', steps: [] })
    } catch (err) {
      expect((err as WorkflowValidationError).issues).toEqual([
        { path: 'name', message: 'unknown field (expected workflow, or workflows)' },
        { path: 'steps', message: 'unknown field (expected workflow, or workflows)' },
        { path: 'workflow', message: 'expected a workflow definition object { name, steps }, got undefined' },
      ])
    }
  })
})
