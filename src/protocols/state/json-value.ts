/**
 * Plain JSON values: what a step returns, what a run is given, what crosses the wire. The checks
 * here are iterative with a depth limit, because remote input can nest deeper than the stack.
 */

export type JsonPrimitive = string | number | boolean | null
export type JsonValue = JsonPrimitive | JsonValue[] | JsonObject
export interface JsonObject {
  [key: string]: JsonValue
}

/** A non-null, non-array object (what JSON calls an object). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/**
 * Returns why `value` is not a JSON value no deeper than `maxDepth`, or `undefined` when it is.
 * Non-finite numbers, `undefined`, functions, class instances and cycles are all rejected.
 */
export function jsonValueProblem(value: unknown, maxDepth: number): string | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined
  const stack: Array<[unknown, number]> = [[value, 0]]
  const seen = new Set<object>()
  while (stack.length > 0) {
    const [item, depth] = stack.pop() as [unknown, number]
    if (item === null || typeof item === 'string' || typeof item === 'boolean') continue
    if (typeof item === 'number') {
      if (!Number.isFinite(item)) return `expected a finite number, got ${String(item)}`
      continue
    }
    if (typeof item !== 'object') return `expected a JSON value, got ${typeof item}`
    if (depth >= maxDepth) return `nested deeper than ${maxDepth} levels`
    if (seen.has(item)) return 'contains a cycle'
    seen.add(item)
    if (Array.isArray(item)) {
      for (const element of item) stack.push([element, depth + 1])
    } else if (isPlainObject(item)) {
      for (const key of Object.keys(item)) stack.push([item[key], depth + 1])
    } else {
      return 'expected a plain object'
    }
  }
  return undefined
}

/** Structural equality of two JSON values (key order does not matter). */
export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false
    return true
  }
  if (Array.isArray(b)) return false
  const keys = Object.keys(a)
  if (keys.length !== Object.keys(b).length) return false
  for (const key of keys) {
    if (!Object.hasOwn(b, key) || !jsonEqual(a[key], b[key])) return false
  }
  return true
}

/** A short rendering of any value for error messages (`got …`). */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined'
  if (typeof value === 'function') return 'a function'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object' && value !== null) return 'an object'
  const text = typeof value === 'number' && !Number.isFinite(value) ? String(value) : JSON.stringify(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}
