import { HorusError } from '../../../core/errors.js'
import { MAX_ISSUES_IN_MESSAGE } from './constants.js'

/** One problem in a workflow document, at a path like `workflow.steps[2].depends_on[0]`. */
export interface WorkflowIssue {
  readonly path: string
  readonly message: string
}

function listIssues(header: string, issues: readonly WorkflowIssue[]): string {
  const shown = issues.slice(0, MAX_ISSUES_IN_MESSAGE).map((issue) => `${issue.path}: ${issue.message}`)
  if (issues.length > shown.length) shown.push(`... and ${issues.length - shown.length} more`)
  return `${header}\n  ${shown.join('\n  ')}`
}

/** A workflow document is invalid; `.issues` holds every error found, each with its path. */
export class WorkflowValidationError extends HorusError {
  static override readonly code = 'WORKFLOW_INVALID'
  readonly issues: readonly WorkflowIssue[]

  constructor(issues: readonly WorkflowIssue[]) {
    super(listIssues(`invalid workflow (${issues.length} error${issues.length === 1 ? '' : 's'}):`, issues))
    this.issues = issues
  }
}

/** Workflow text is neither valid YAML nor JSON. */
export class WorkflowParseError extends HorusError {
  static override readonly code = 'WORKFLOW_PARSE_FAILED'
  readonly line: number | undefined
  readonly column: number | undefined

  constructor(message: string, position: { line?: number; column?: number } = {}, cause?: unknown) {
    const where =
      position.line === undefined ? '' : ` at line ${position.line}, column ${position.column ?? 1}`
    super(`cannot parse workflow${where}: ${message}`, { cause })
    this.line = position.line
    this.column = position.column
  }
}

/** The inputs given to a run do not match the workflow's declared `inputs`. */
export class WorkflowInputError extends HorusError {
  static override readonly code = 'WORKFLOW_INPUTS_INVALID'
  readonly issues: readonly WorkflowIssue[]

  constructor(issues: readonly WorkflowIssue[]) {
    super(listIssues('invalid run inputs:', issues))
    this.issues = issues
  }
}

/** An expression (`when`, `outputs`, `with`) does not parse; `offset` is 0-based in `source`. */
export class ExpressionSyntaxError extends HorusError {
  static override readonly code = 'EXPRESSION_INVALID'
  readonly source: string
  readonly offset: number
  readonly reason: string

  constructor(source: string, offset: number, reason: string) {
    super(`${reason} at column ${offset + 1} of ${JSON.stringify(source)}`)
    this.source = source
    this.offset = offset
    this.reason = reason
  }
}
