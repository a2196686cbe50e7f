/**
 * Bounds captured log output: each line is cut at `maxLineBytes`, and once `maxTotalBytes` have been
 * kept one marker line says so and everything after is dropped. Used for script `console.log` and
 * for the executor's per-job log, so a chatty or hostile job costs bounded memory.
 */

export interface LogLimits {
  maxLineBytes: number
  maxTotalBytes: number
}

export class LogLimiter {
  private readonly limits: LogLimits
  private readonly lines: string[] = []
  private usedBytes = 0
  private droppedLines = 0
  private readonly sink: ((line: string) => void) | undefined

  constructor(limits: LogLimits, sink?: (line: string) => void) {
    this.limits = limits
    this.sink = sink
  }

  /** Adds one line (after cutting it); returns false once the total cap has been reached. */
  push(line: string): boolean {
    if (this.droppedLines > 0) {
      this.droppedLines++
      return false
    }
    const kept = cutLine(line, this.limits.maxLineBytes)
    const bytes = Buffer.byteLength(kept)
    if (this.usedBytes + bytes > this.limits.maxTotalBytes) {
      this.droppedLines = 1
      this.keep(`[log truncated: limit of ${this.limits.maxTotalBytes} bytes reached, later lines dropped]`)
      return false
    }
    this.usedBytes += bytes
    this.keep(kept)
    return true
  }

  /** True once lines have been dropped (the marker line is in `lines`). */
  get truncated(): boolean {
    return this.droppedLines > 0
  }

  /** How many lines were dropped after the cap. */
  get dropped(): number {
    return this.droppedLines
  }

  snapshot(): string[] {
    return [...this.lines]
  }

  private keep(line: string): void {
    this.lines.push(line)
    this.sink?.(line)
  }
}

/**
 * Cuts `line` to at most `maxBytes` UTF-8 bytes, marker included, so cutting twice changes nothing.
 * Decoding a byte prefix may split a character; the decoder then ends with U+FFFD, which is fine for
 * a line marked as cut.
 */
export function cutLine(line: string, maxBytes: number): string {
  const bytes = Buffer.byteLength(line)
  if (bytes <= maxBytes) return line
  const markerBytes = Buffer.byteLength(marker(bytes))
  const headBytes = Math.max(0, maxBytes - markerBytes)
  const head = Buffer.from(line).subarray(0, headBytes).toString('utf8')
  return `${head}${marker(bytes - headBytes)}`.slice(0, Math.max(maxBytes, 0))
}

function marker(cutBytes: number): string {
  return `…[+${cutBytes} bytes cut]`
}
