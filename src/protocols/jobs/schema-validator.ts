/**
 * The Ajv instance the jobs layer compiles its schemas with: strict mode, so a typo in a schema is
 * a startup error rather than a silently ignored keyword.
 */
import { Ajv, type ErrorObject } from 'ajv'

export const ajv = new Ajv({ strict: true, allErrors: false })

/** `envelope.attempt: must be >= 1`, the first Ajv error with a dotted path. */
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
  return `${root}${path}: ${first.message ?? 'is invalid'}${extra}`
}
