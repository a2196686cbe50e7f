/** Collecting validation issues with paths, instead of stopping at the first. */

import { describeValue } from '../../../protocols/state/json-value.js'
import { IDENTIFIER_PATTERN } from './constants.js'
import type { WorkflowIssue } from './errors.js'

export class Issues {
  readonly list: WorkflowIssue[] = []

  add(path: string, message: string): void {
    this.list.push({ path, message })
  }

  /** Adds `expected <what>, got <value>`. */
  expected(path: string, what: string, got: unknown): void {
    this.add(path, `expected ${what}, got ${describeValue(got)}`)
  }

  get size(): number {
    return this.list.length
  }
}

/** `base.key`, or `base["odd key"]` when the key is not an identifier. */
export function pathKey(base: string, key: string): string {
  if (IDENTIFIER_PATTERN.test(key)) return base === '' ? key : `${base}.${key}`
  return `${base}[${JSON.stringify(key)}]`
}

export function pathIndex(base: string, index: number): string {
  return `${base}[${index}]`
}

/** Orders issues as they appear in the document (`steps[2]` before `steps[10]`). */
export function byDocumentOrder(a: WorkflowIssue, b: WorkflowIssue): number {
  const left = a.path.split(/(\d+)/)
  const right = b.path.split(/(\d+)/)
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const x = left[i] as string
    const y = right[i] as string
    if (x === y) continue
    // Odd positions of a split on a capturing group are the digit runs.
    if (i % 2 === 1) return Number(x) - Number(y)
    return x < y ? -1 : 1
  }
  return left.length - right.length
}
