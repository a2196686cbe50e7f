import { main } from '../src/cli/main.js'
import type { Output } from '../src/cli/output.js'

export interface Captured {
  code: number
  stdout: string
  stderr: string
}

/** Runs `horus ...argv` in this process with its output captured. */
export async function horus(argv: string[]): Promise<Captured> {
  const stdout: string[] = []
  const stderr: string[] = []
  const out: Output = {
    line: (text) => stdout.push(text),
    json: (value) => stdout.push(JSON.stringify(value, null, 2)),
    error: (text) => stderr.push(text),
  }
  const code = await main(argv, out)
  return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') }
}
