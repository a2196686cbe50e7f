/** Reading workflow text: JSON when it looks like JSON (faster on big files), YAML otherwise. */

import { parse as parseYaml, YAMLError } from 'yaml'
import { WorkflowParseError } from './errors.js'

export type WorkflowFormat = 'yaml' | 'json'

/** Parses workflow text to a plain value (validate it with `compileWorkflow`). */
export function parseWorkflowText(text: string, format?: WorkflowFormat): unknown {
  const json = format === 'json' || (format === undefined && /^\s*[{[]/.test(text))
  if (json) {
    try {
      return JSON.parse(text)
    } catch (err) {
      if (format === 'json') throw new WorkflowParseError((err as Error).message, {}, err)
      // Flow-style YAML can start with `{` too; let the YAML parser have a go.
    }
  }
  try {
    // A small alias budget refuses "billion laughs" documents.
    return parseYaml(text, { maxAliasCount: 100, prettyErrors: true, uniqueKeys: true })
  } catch (err) {
    if (err instanceof YAMLError) {
      const pos = err.linePos?.[0]
      const message = err.message.split('\n')[0] ?? err.message
      throw new WorkflowParseError(message, pos === undefined ? {} : { line: pos.line, column: pos.col }, err)
    }
    // The parser signals resource limits (alias budget) with plain errors.
    throw new WorkflowParseError((err as Error).message, {}, err)
  }
}
