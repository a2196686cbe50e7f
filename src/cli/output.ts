/** Where commands write: stdout for results, stderr for progress and errors. */
export interface Output {
  line(text: string): void
  json(value: unknown): void
  error(text: string): void
}

/**
 * Set when a reader closed our pipe (`horus workflow logs RUN | head`): later writes are dropped
 * instead of failing with EPIPE, and the command ends normally.
 */
const closed = { stdout: false, stderr: false }

/** Treats EPIPE on stdout/stderr as "the reader has seen enough"; call once at start-up. */
export function toleratePipeClose(): void {
  for (const name of ['stdout', 'stderr'] as const) {
    process[name].on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err
      closed[name] = true
    })
  }
}

/** Writes to the process's stdout or stderr unless its reader is gone. */
export function write(name: 'stdout' | 'stderr', text: string): void {
  if (!closed[name]) process[name].write(text)
}

export const processOutput: Output = {
  line: (text) => write('stdout', `${text}\n`),
  json: (value) => write('stdout', `${JSON.stringify(value, null, 2)}\n`),
  error: (text) => write('stderr', `${text}\n`),
}
