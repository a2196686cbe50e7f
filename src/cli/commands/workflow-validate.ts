/**
 * `horus workflow validate FILE... [--runners a,b]`: the validation submit would do, offline —
 * no mesh, no node. Every issue of every file is printed with its path; exit 0 when all are valid,
 * 2 otherwise (as for any invalid input to the CLI).
 */
import { readFile } from 'node:fs/promises'
import { compileWorkflow } from '../../roles/coordinator/workflow/compile.js'
import { DEFAULT_RUNNER_KINDS } from '../../roles/coordinator/workflow/constants.js'
import {
  type WorkflowIssue,
  WorkflowParseError,
  WorkflowValidationError,
} from '../../roles/coordinator/workflow/errors.js'
import { parseWorkflowText } from '../../roles/coordinator/workflow/load.js'
import { listFlag } from '../args.js'
import { EXIT, UsageError } from '../errors.js'
import type { Output } from '../output.js'

export interface FileVerdict {
  file: string
  valid: boolean
  /** The workflow's name and step count (composed steps included), when valid. */
  workflow?: string
  steps?: number
  issues: WorkflowIssue[]
}

export async function validateFiles(
  files: readonly string[],
  runners: readonly string[] | undefined,
  readStdin: () => Promise<string>,
): Promise<FileVerdict[]> {
  const kinds = runners ?? DEFAULT_RUNNER_KINDS
  const verdicts: FileVerdict[] = []
  for (const file of files) {
    let text: string
    try {
      text = file === '-' ? await readStdin() : await readFile(file, 'utf8')
    } catch (err) {
      verdicts.push({
        file,
        valid: false,
        issues: [{ path: '', message: `cannot read: ${(err as Error).message}` }],
      })
      continue
    }
    try {
      const compiled = compileWorkflow(parseWorkflowText(text), { runners: kinds })
      verdicts.push({ file, valid: true, workflow: compiled.name, steps: compiled.steps.length, issues: [] })
    } catch (err) {
      if (err instanceof WorkflowValidationError)
        verdicts.push({ file, valid: false, issues: [...err.issues] })
      else if (err instanceof WorkflowParseError)
        verdicts.push({ file, valid: false, issues: [{ path: '', message: err.message }] })
      else throw err
    }
  }
  return verdicts
}

export async function validateCommand(
  files: string[],
  runnersFlag: string | boolean | string[] | undefined,
  json: boolean,
  out: Output,
  readStdin: () => Promise<string>,
): Promise<number> {
  if (files.length === 0)
    throw new UsageError('workflow validate: missing FILE (one or more; "-" reads stdin)')
  const runners = listFlag(runnersFlag)
  if (runnersFlag !== undefined && (runners === undefined || runners.length === 0))
    throw new UsageError('workflow validate: --runners: expected a comma-separated list of runner kinds')
  const verdicts = await validateFiles(files, runners, readStdin)
  if (json) out.json(verdicts)
  else {
    for (const v of verdicts) {
      if (v.valid) {
        out.line(`${v.file}: valid (workflow "${v.workflow}", ${v.steps} step${v.steps === 1 ? '' : 's'})`)
        continue
      }
      out.line(`${v.file}: ${v.issues.length} issue${v.issues.length === 1 ? '' : 's'}`)
      for (const issue of v.issues)
        out.line(`  ${issue.path === '' ? '' : `${issue.path}: `}${issue.message}`)
    }
  }
  return verdicts.every((v) => v.valid) ? EXIT.ok : EXIT.usage
}
