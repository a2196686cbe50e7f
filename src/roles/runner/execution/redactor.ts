/**
 * Removes a job's secret values from what leaves the runner: log lines (before they stream to the
 * supervisor), the output, and error messages. Each value is also looked for in the encodings a
 * careless script is most likely to print (base64, base64url, hex). This is a guard against
 * accidents: a script that wants to leak a value it was given can always transform it first.
 */

import type { ExecutionError } from './index.js'

export const REDACTED = '***'

/** The marker `cutLine` ends a cut line with: a value may have been cut in the middle before it. */
const CUT_MARKER = /…\[\+\d+ bytes cut\]$/

export class Redactor {
  /** Longest first, so a value containing another is replaced whole. */
  private readonly needles: readonly string[]

  constructor(values: Iterable<string>) {
    const needles = new Set<string>()
    for (const value of values) {
      if (value === '') continue
      const bytes = Buffer.from(value, 'utf8')
      needles.add(value)
      needles.add(bytes.toString('base64'))
      needles.add(bytes.toString('base64').replace(/=+$/, ''))
      needles.add(bytes.toString('base64url'))
      needles.add(bytes.toString('hex'))
      needles.add(bytes.toString('hex').toUpperCase())
    }
    this.needles = [...needles].filter((n) => n !== '').sort((a, b) => b.length - a.length)
  }

  get active(): boolean {
    return this.needles.length > 0
  }

  text(text: string): string {
    // Nothing to remove (a job without secrets): no scan, and no cut-marker match per log line.
    if (this.needles.length === 0) return text
    let out = text
    for (const needle of this.needles) if (out.includes(needle)) out = out.replaceAll(needle, REDACTED)
    const cut = CUT_MARKER.exec(out)
    return cut === null ? out : this.cutTail(out.slice(0, cut.index)) + cut[0]
  }

  /** A line cut inside a value would still show its first characters: they go too. */
  private cutTail(head: string): string {
    for (const needle of this.needles) {
      for (let k = Math.min(needle.length - 1, head.length); k > 0; k--) {
        if (head.endsWith(needle.slice(0, k))) return head.slice(0, head.length - k) + REDACTED
      }
    }
    return head
  }

  /** A JSON value with every string (and object key) redacted. */
  value(value: unknown): unknown {
    if (!this.active) return value
    return this.walk(value)
  }

  error(error: ExecutionError): ExecutionError {
    if (!this.active) return error
    return { ...error, name: this.text(error.name), message: this.text(error.message) }
  }

  private walk(value: unknown): unknown {
    if (typeof value === 'string') return this.text(value)
    if (Array.isArray(value)) return value.map((item) => this.walk(item))
    if (value === null || typeof value !== 'object') return value
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) out[this.text(key)] = this.walk(item)
    return out
  }
}

export const NO_REDACTION = new Redactor([])
