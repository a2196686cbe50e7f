/**
 * Durations in workflow files: a number of milliseconds, or a string of one or more
 * `<number><unit>` parts with units ms, s, m, h, d (`"500ms"`, `"2s"`, `"1m30s"`).
 */

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g

export const DURATION_EXPECTED = 'a duration (milliseconds, or a string like "500ms", "2s", "1m")'

/** Milliseconds (rounded to an integer), or `undefined` when `value` is not a duration. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') {
    return Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined
  }
  if (typeof value !== 'string') return undefined
  const text = value.trim()
  if (!WHOLE.test(text)) return undefined
  let total = 0
  for (const [, amount, unit] of text.matchAll(PART)) total += Number(amount) * (UNIT_MS[unit as string] ?? 0)
  return Number.isFinite(total) ? Math.round(total) : undefined
}
