import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { horus } from './cli-capture.js'

const SEED = new URL('./fixtures/data-pipeline.yaml', import.meta.url).pathname
let dir: string | undefined
afterEach(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  dir = undefined
})

async function write(name: string, text: string): Promise<string> {
  dir ??= await mkdtemp(join(tmpdir(), 'horus-validate-'))
  const file = join(dir, name)
  await writeFile(file, text)
  return file
}

describe('horus workflow validate (offline)', () => {
  it('accepts the seed data pipeline as written, without any mesh', async () => {
    const result = await horus(['workflow', 'validate', SEED])
    expect(result).toEqual({
      code: 0,
      stdout: `${SEED}: valid (workflow "data-pipeline", 3 steps)`,
      stderr: '',
    })
  })

  it('prints every issue of every file with its path, and exits 2', async () => {
    const bad = await write(
      'bad.yaml',
      `workflow:
  name: bad
  steps:
    - { id: a, runner: python, for_each: steps.b.output }
    - { id: b, runner: hero, depends_on: [a], trigger_rule: one_fail }
`,
    )
    const broken = await write('broken.yaml', 'workflow: [unclosed')
    const result = await horus([
      'workflow',
      'validate',
      SEED,
      bad,
      broken,
      join(dir as string, 'missing.yaml'),
    ])
    expect(result.code).toBe(2)
    const lines = result.stdout.split('\n')
    expect(lines[0]).toBe(`${SEED}: valid (workflow "data-pipeline", 3 steps)`)
    expect(lines.slice(1, 5)).toEqual([
      `${bad}: 3 issues`,
      '  workflow.steps[0].for_each: steps.b is not a dependency of step "a" (add it to depends_on)',
      '  workflow.steps[0].runner: unknown runner kind "python" (known: hero, sal, osiris)',
      '  workflow.steps[1].trigger_rule: expected one of all_success, all_done, all_failed, one_failed, one_success, none_failed, always, got "one_fail" (did you mean "one_failed"?)',
    ])
    expect(result.stdout).toContain(`${broken}: 1 issue\n  cannot parse workflow at line 1`)
    expect(result.stdout).toContain(`missing.yaml: 1 issue\n  cannot read: ENOENT`)
  })

  it('--runners names the kinds the target mesh serves; --json reports per file', async () => {
    const py = await write('py.yaml', 'workflow:\n  name: py\n  steps:\n    - { id: a, runner: python }\n')
    const refused = await horus(['workflow', 'validate', py, '--json'])
    expect(refused.code).toBe(2)
    expect(JSON.parse(refused.stdout)).toEqual([
      {
        file: py,
        valid: false,
        issues: [
          {
            path: 'workflow.steps[0].runner',
            message: 'unknown runner kind "python" (known: hero, sal, osiris)',
          },
        ],
      },
    ])
    const accepted = await horus(['workflow', 'validate', py, '--runners', 'python,hero', '--json'])
    expect(accepted.code).toBe(0)
    expect(JSON.parse(accepted.stdout)).toEqual([
      { file: py, valid: true, workflow: 'py', steps: 1, issues: [] },
    ])
    const usage = await horus(['workflow', 'validate'])
    expect(usage.code).toBe(2)
    expect(usage.stderr).toContain('missing FILE')
  })
})
