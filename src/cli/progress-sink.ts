import type { Output } from './output.js'
import { processOutput, write } from './output.js'
import type { ProgressSink } from './progress.js'

/**
 * Progress goes to stderr, beside errors, so stdout stays the command's result. A terminal gets the
 * live redrawn view; an Output that is not the process's own (tests, embedding) gets plain lines.
 */
export function progressSink(out: Output): ProgressSink {
  if (out === processOutput) {
    return {
      isTTY: process.stderr.isTTY === true,
      ...(process.stderr.columns === undefined ? {} : { columns: process.stderr.columns }),
      write: (text) => write('stderr', text),
    }
  }
  return {
    isTTY: false,
    write: (text) => {
      for (const line of text.replace(/\n$/, '').split('\n')) out.error(line)
    },
  }
}

/**
 * Runs `fn` with a signal aborted by the first Ctrl-C, and answers `undefined` when that is how
 * it ended (a second Ctrl-C falls through to the default: exit).
 */
export async function untilInterrupted<T>(
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<{ value: T } | undefined> {
  const controller = new AbortController()
  const onSigint = (): void => controller.abort()
  process.once('SIGINT', onSigint)
  try {
    return { value: await fn(controller.signal) }
  } catch (err) {
    if (controller.signal.aborted) return undefined
    throw err
  } finally {
    process.off('SIGINT', onSigint)
  }
}
