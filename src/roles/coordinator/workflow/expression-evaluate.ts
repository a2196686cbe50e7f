/**
 * Evaluation of parsed expressions. Total by design: a missing input, step or property reads as
 * `null`, comparisons between different types are false, so a `when` never throws at run time.
 *
 * A step output stored as a blob (`{ "$blob": … }`, ../../../protocols/blob/ref.ts) passes through
 * an expression as the reference itself; only when the expression looks inside it (member access,
 * comparison) is it handed to the scope's `resolve`, which may throw to say "not loaded yet".
 */

import { isBlobRef } from '../../../protocols/blob/ref.js'
import { isPlainObject, type JsonValue, jsonEqual } from '../../../protocols/state/json-value.js'
import type { Expression, ExprNode, RunField, StepField } from './expression.js'

/** What `steps.<id>.<field>` reads. */
export type StepView = Readonly<Record<StepField, JsonValue>>

/** The names an expression can see: its workflow's inputs and the steps of the same workflow. */
export interface ExpressionScope {
  input(name: string): JsonValue
  step(id: string): StepView | undefined
  /** `run.id`, `run.workflow`, `run.error`; null when absent. */
  run?(field: RunField): JsonValue
  /** The element a `for_each` child maps over, and its position. */
  item?(): JsonValue
  index?(): JsonValue
  /** The value of a blob reference; may throw when the value is not at hand yet. */
  resolve?(ref: JsonValue): JsonValue
}

/** JavaScript's truthiness restricted to JSON: null, false, 0 and "" are false. */
export function isTruthy(value: JsonValue): boolean {
  return !(value === null || value === false || value === 0 || value === '')
}

function member(object: JsonValue, key: JsonValue): JsonValue {
  if (Array.isArray(object)) {
    if (typeof key === 'number') return Number.isInteger(key) ? (object[key] ?? null) : null
    return key === 'length' ? object.length : null
  }
  if (typeof object === 'string') return key === 'length' ? object.length : null
  if (isPlainObject(object) && typeof key === 'string')
    return Object.hasOwn(object, key) ? (object[key] ?? null) : null
  return null
}

function compare(op: string, left: JsonValue, right: JsonValue): boolean {
  if (op === '==') return jsonEqual(left, right)
  if (op === '!=') return !jsonEqual(left, right)
  const comparable =
    (typeof left === 'number' && typeof right === 'number') ||
    (typeof left === 'string' && typeof right === 'string')
  if (!comparable) return false
  const l = left as number | string
  const r = right as number | string
  switch (op) {
    case '<':
      return l < r
    case '<=':
      return l <= r
    case '>':
      return l > r
    default:
      return l >= r
  }
}

function resolved(value: JsonValue, scope: ExpressionScope): JsonValue {
  return scope.resolve !== undefined && isBlobRef(value) ? scope.resolve(value) : value
}

function evaluateNode(node: ExprNode, scope: ExpressionScope): JsonValue {
  switch (node.kind) {
    case 'literal':
      return node.value
    case 'input':
      return scope.input(node.name)
    case 'step':
      return scope.step(node.step)?.[node.field] ?? null
    case 'run':
      return scope.run?.(node.field) ?? null
    case 'item':
      return scope.item?.() ?? null
    case 'index':
      return scope.index?.() ?? null
    case 'member':
      return member(resolved(evaluateNode(node.object, scope), scope), evaluateNode(node.key, scope))
    case 'not':
      return !isTruthy(evaluateNode(node.operand, scope))
    case 'logical': {
      const left = evaluateNode(node.left, scope)
      if (node.op === '&&') return isTruthy(left) ? evaluateNode(node.right, scope) : left
      return isTruthy(left) ? left : evaluateNode(node.right, scope)
    }
    case 'compare':
      return compare(
        node.op,
        resolved(evaluateNode(node.left, scope), scope),
        resolved(evaluateNode(node.right, scope), scope),
      )
  }
}

export function evaluateExpression(expression: Expression, scope: ExpressionScope): JsonValue {
  return evaluateNode(expression.root, scope)
}
