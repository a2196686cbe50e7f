/**
 * The Ajv instance the jobs layer compiles its schemas with: strict mode, so a typo in a schema is
 * a startup error rather than a silently ignored keyword; verbose, so that an error carries the
 * value it is about and a refusal can say what it got (only a failing check builds it).
 */
import { Ajv, type ErrorObject } from 'ajv'

export const ajv = new Ajv({ strict: true, allErrors: false, verbose: true })

/** Keywords whose error is about the value at its path (not its parent's members). */
const VALUE_KEYWORDS = new Set([
  'type',
  'maximum',
  'minimum',
  'exclusiveMaximum',
  'exclusiveMinimum',
  'multipleOf',
  'maxLength',
  'minLength',
  'pattern',
  'enum',
  'const',
  'format',
  'maxItems',
  'minItems',
])

/** Longest string shown as it is in a refusal; a longer one is named by its length. */
const SHOWN_STRING_CHARS = 40

/**
 * `envelope.attempt: must be >= 1, got 0`, the first Ajv error with a dotted path and, for a check
 * of the value itself, the value (short, and never more than a length for a long string: it comes
 * from a peer and goes into logs and answers).
 */
export function describeSchemaError(root: string, errors: ErrorObject[] | null | undefined): string {
  const first = errors?.[0]
  if (first === undefined) return `${root}: does not match the schema`
  const path = first.instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
    .map((part) => (/^\d+$/.test(part) ? `[${part}]` : `.${part}`))
    .join('')
  const extra =
    first.keyword === 'additionalProperties'
      ? ` (${String((first.params as { additionalProperty?: unknown }).additionalProperty)})`
      : ''
  const got = VALUE_KEYWORDS.has(first.keyword) && 'data' in first ? `, got ${shown(first.data)}` : ''
  return `${root}${path}: ${first.message ?? 'is invalid'}${extra}${got}`
}

function shown(value: unknown): string {
  if (typeof value === 'string') {
    return value.length > SHOWN_STRING_CHARS
      ? `a string of ${value.length} characters`
      : JSON.stringify(value)
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value)
  if (Array.isArray(value)) return `an array of ${value.length}`
  return typeof value === 'object' ? 'an object' : typeof value
}
