import { type ParseArgsConfig, parseArgs } from 'node:util'
import { UsageError } from './errors.js'

export type OptionSpec = NonNullable<ParseArgsConfig['options']>

/** `parseArgs` with its errors turned into usage errors that name the command. */
export function parseCommandArgs<T extends OptionSpec>(
  command: string,
  argv: string[],
  options: T,
): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] } {
  try {
    const parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
    return {
      values: parsed.values as Record<string, string | boolean | string[] | undefined>,
      positionals: parsed.positionals,
    }
  } catch (err) {
    throw new UsageError(`${command}: ${(err as Error).message}`)
  }
}

/** Splits repeated and comma-separated flag values (`--roles a,b --roles c`). */
export function listFlag(value: string | boolean | string[] | undefined): string[] | undefined {
  if (value === undefined || typeof value === 'boolean') return undefined
  const items = Array.isArray(value) ? value : [value]
  return items
    .flatMap((item) => item.split(','))
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
}

export function stringFlag(value: string | boolean | string[] | undefined): string | undefined {
  if (typeof value === 'string') return value
  if (Array.isArray(value)) return value.at(-1)
  return undefined
}

/** `--status S` checked against the allowed values; `--limit N` an integer ≥ 1. */
export function listFlags<S extends string>(
  command: string,
  values: Record<string, string | boolean | string[] | undefined>,
  statuses: readonly S[],
): { status?: S; limit?: number } {
  const status = stringFlag(values.status)
  if (status !== undefined && !(statuses as readonly string[]).includes(status)) {
    throw new UsageError(`${command}: --status: expected one of ${statuses.join('|')}, got "${status}"`)
  }
  const limitText = stringFlag(values.limit)
  const limit = limitText === undefined ? undefined : Number(limitText)
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new UsageError(`${command}: --limit: expected an integer ≥ 1, got "${limitText}"`)
  }
  return {
    ...(status === undefined ? {} : { status: status as S }),
    ...(limit === undefined ? {} : { limit }),
  }
}
