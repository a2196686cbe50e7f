/**
 * Evaluation of parsed expressions. Total by design: a missing input, step or property reads as
 * `null`, comparisons between different types are false, so a `when` never throws at run time.
 */

import { isPlainObject, type JsonValue, jsonEqual } from '../../../protocols/state/json-value.js'
import type { Expression, ExprNode, StepField } from './expression.js'

/** What `steps.<id>.<field>` reads. */
export type StepView = Readonly<Record<StepField, JsonValue>>

/** The names an expression can see: its workflow's inputs and the steps of the same workflow. */
export interface ExpressionScope {
  input(name: string): JsonValue
  step(id: string): StepView | undefined
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

function evaluateNode(node: ExprNode, scope: ExpressionScope): JsonValue {
  switch (node.kind) {
    case 'literal':
      return node.value
    case 'input':
      return scope.input(node.name)
    case 'step':
      return scope.step(node.step)?.[node.field] ?? null
    case 'member':
      return member(evaluateNode(node.object, scope), evaluateNode(node.key, scope))
    case 'not':
      return !isTruthy(evaluateNode(node.operand, scope))
    case 'logical': {
      const left = evaluateNode(node.left, scope)
      if (node.op === '&&') return isTruthy(left) ? evaluateNode(node.right, scope) : left
      return isTruthy(left) ? left : evaluateNode(node.right, scope)
    }
    case 'compare':
      return compare(node.op, evaluateNode(node.left, scope), evaluateNode(node.right, scope))
  }
}

export function evaluateExpression(expression: Expression, scope: ExpressionScope): JsonValue {
  return evaluateNode(expression.root, scope)
}
