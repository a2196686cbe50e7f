/**
 * Heroscript parser (grammar in GRAMMAR.md). One pass over the characters, tracking line and column
 * so every error names where it is.
 */

import { HeroscriptParseError } from './errors.js'

export interface Position {
  line: number
  column: number
}

export interface HeroParam extends Position {
  value: string
}

export interface HeroAction extends Position {
  actor: string
  action: string
  params: Record<string, HeroParam>
}

const IDENT_START = /[A-Za-z_]/
const IDENT_PART = /[A-Za-z0-9_]/

class Scanner {
  private pos = 0
  line = 1
  column = 1
  private readonly source: string

  constructor(source: string) {
    this.source = source.replace(/\r\n?/g, '\n')
  }

  get done(): boolean {
    return this.pos >= this.source.length
  }

  peek(offset = 0): string {
    return this.source[this.pos + offset] ?? ''
  }

  next(): string {
    const char = this.peek()
    this.pos++
    if (char === '\n') {
      this.line++
      this.column = 1
    } else {
      this.column++
    }
    return char
  }

  startsWith(text: string): boolean {
    return this.source.startsWith(text, this.pos)
  }

  skipBlanks(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.next()
  }

  skipLine(): void {
    while (!this.done && this.peek() !== '\n') this.next()
  }

  atLineEnd(): boolean {
    return this.done || this.peek() === '\n'
  }

  where(): Position {
    return { line: this.line, column: this.column }
  }

  fail(reason: string, at: Position = this.where()): never {
    throw new HeroscriptParseError(reason, at.line, at.column)
  }

  identifier(what: string): string {
    if (!IDENT_START.test(this.peek())) this.fail(`expected ${what}, found ${describe(this.peek())}`)
    let out = ''
    while (IDENT_PART.test(this.peek())) out += this.next()
    return out
  }
}

export function parseHeroscript(source: string): HeroAction[] {
  const scanner = new Scanner(source)
  const actions: HeroAction[] = []
  let current: HeroAction | undefined
  while (!scanner.done) {
    scanner.skipBlanks()
    if (scanner.atLineEnd()) {
      scanner.next()
      continue
    }
    if (scanner.startsWith('//')) {
      scanner.skipLine()
      continue
    }
    if (scanner.startsWith('!!')) {
      current = parseHead(scanner)
      actions.push(current)
    }
    if (current === undefined) {
      return scanner.fail(`expected an action such as !!http.get, found ${describe(scanner.peek())}`)
    }
    parseParams(scanner, current)
  }
  if (actions.length === 0) throw new HeroscriptParseError('the payload has no action', 1, 1)
  return actions
}

function parseHead(scanner: Scanner): HeroAction {
  const at = scanner.where()
  scanner.next()
  scanner.next()
  const actor = scanner.identifier("an actor name after '!!'")
  if (scanner.peek() !== '.')
    scanner.fail(`expected '.' after actor '${actor}', found ${describe(scanner.peek())}`)
  scanner.next()
  const action = scanner.identifier(`an action name after '!!${actor}.'`)
  if (!scanner.atLineEnd() && scanner.peek() !== ' ' && scanner.peek() !== '\t') {
    scanner.fail(`expected a space after '!!${actor}.${action}', found ${describe(scanner.peek())}`)
  }
  return { actor, action, params: {}, ...at }
}

/** Parameters up to the end of the line (a quoted value may carry them over several lines). */
function parseParams(scanner: Scanner, action: HeroAction): void {
  for (;;) {
    scanner.skipBlanks()
    if (scanner.atLineEnd()) return
    const at = scanner.where()
    const key = scanner.identifier('a parameter name (key:value)')
    if (scanner.peek() !== ':')
      scanner.fail(`expected ':' after parameter '${key}', found ${describe(scanner.peek())}`)
    scanner.next()
    if (Object.hasOwn(action.params, key)) scanner.fail(`parameter '${key}' is given twice`, at)
    const value = scanner.peek() === "'" ? quoted(scanner) : bare(scanner, key)
    action.params[key] = { value, ...at }
    if (!scanner.atLineEnd() && scanner.peek() !== ' ' && scanner.peek() !== '\t') {
      scanner.fail(`expected a space after the value of '${key}', found ${describe(scanner.peek())}`)
    }
  }
}

function quoted(scanner: Scanner): string {
  const open = scanner.where()
  scanner.next()
  let out = ''
  for (;;) {
    if (scanner.done) scanner.fail('unterminated quoted value (no closing quote)', open)
    const char = scanner.next()
    if (char === "'") return out
    if (char === '\\' && (scanner.peek() === "'" || scanner.peek() === '\\')) {
      out += scanner.next()
      continue
    }
    out += char
  }
}

function bare(scanner: Scanner, key: string): string {
  let out = ''
  while (!scanner.atLineEnd() && scanner.peek() !== ' ' && scanner.peek() !== '\t') out += scanner.next()
  if (out === '') scanner.fail(`expected a value after '${key}:'`)
  return out
}

function describe(char: string): string {
  if (char === '') return 'the end of the payload'
  if (char === '\n') return 'the end of the line'
  return `'${char}'`
}
