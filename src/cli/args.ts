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
