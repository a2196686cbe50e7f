/**
 * Workflow definitions: parse YAML/JSON, validate with every error reported by path, compile once
 * into an immutable `CompiledWorkflow`. See README.md for the format and step semantics,
 * EXPRESSIONS.md for `when` / `outputs` / `with`.
 */

export { type CompileOptions, compileWorkflow, loadWorkflow, validateWorkflow } from './compile.js'
export {
  DEFAULT_BACKOFF_BASE,
  DEFAULT_INITIAL_DELAY_MS,
  DEFAULT_JITTER,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_MAX_DELAY_FACTOR,
  DEFAULT_MAX_STEPS,
  DEFAULT_RUNNER_KINDS,
  IDENTIFIER_PATTERN,
  SIGNAL_NAME_PATTERN,
  TRIGGER_RULES,
} from './constants.js'
export { DURATION_EXPECTED, parseDuration } from './duration.js'
export {
  ExpressionSyntaxError,
  WorkflowInputError,
  type WorkflowIssue,
  WorkflowParseError,
  WorkflowValidationError,
} from './errors.js'
export {
  type CompareOperator,
  type Expression,
  type ExprNode,
  literalExpression,
  parseExpression,
  STEP_FIELDS,
  type StepField,
} from './expression.js'
export { type ExpressionScope, evaluateExpression, isTruthy, type StepView } from './expression-evaluate.js'
export { resolveRunInputs } from './inputs.js'
export { parseWorkflowText, type WorkflowFormat } from './load.js'
export { canRetry, compileRetryPolicy, delayFor, NO_RETRY, type RetryPolicy } from './retry-policy.js'
export type {
  CompiledStep,
  CompiledWorkflow,
  Duration,
  InputDeclaration,
  InputSpec,
  RetryDefinition,
  StepDefinition,
  StepKind,
  TriggerRule,
  WorkflowDefinition,
  WorkflowDocument,
} from './types.js'
