import { readFile } from 'node:fs/promises'
import { UsageError } from './errors.js'

/** The text of `file`, or of stdin for "-"; an unreadable file is a usage error naming `command`. */
export async function readTextInput(file: string, command: string): Promise<string> {
  try {
    return file === '-' ? await readStdin() : await readFile(file, 'utf8')
  } catch (err) {
    throw new UsageError(`${command}: cannot read ${file}: ${(err as Error).message}`)
  }
}

/** All of stdin as UTF-8 text. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}
