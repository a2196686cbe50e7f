import { ConfigError, resolveConfig } from '../../src/node/index.js'

/** Every issue `resolveConfig` reports for a raw config, in its words (none: an empty list). */
export function configIssues(raw: Record<string, unknown>): string[] {
  try {
    resolveConfig(raw)
  } catch (err) {
    if (err instanceof ConfigError) return [...err.issues]
    throw err
  }
  return []
}
