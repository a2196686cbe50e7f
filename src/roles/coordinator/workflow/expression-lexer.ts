/** Tokens of the expression language (see EXPRESSIONS.md). */

import { ExpressionSyntaxError } from './errors.js'

export type Punctuator =
  | '.'
  | '['
  | ']'
  | '('
  | ')'
  | '=='
  | '!='
  | '<'
  | '<='
  | '>'
  | '>='
  | '&&'
  | '||'
  | '!'

export type Token =
  | { readonly type: 'number'; readonly value: number; readonly at: number }
  | { readonly type: 'string'; readonly value: string; readonly at: number }
  | { readonly type: 'name'; readonly value: string; readonly at: number }
  | { readonly type: 'punct'; readonly value: Punctuator; readonly at: number }
  | { readonly type: 'end'; readonly at: number }

const TWO_CHAR: ReadonlySet<string> = new Set(['==', '!=', '<=', '>=', '&&', '||'])
const ONE_CHAR: ReadonlySet<string> = new Set(['.', '[', ']', '(', ')', '<', '>', '!'])
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y
// `-` is allowed inside names so kebab-case step ids work; there is no subtraction to clash with.
const NAME = /[A-Za-z_][A-Za-z0-9_-]*/y
const ESCAPES: Readonly<Record<string, string>> = {
  n: '\n',
  t: '\t',
  r: '\r',
  '\\': '\\',
  "'": "'",
  '"': '"',
  '/': '/',
}

function readString(source: string, start: number): { value: string; end: number } {
  const quote = source[start]
  let value = ''
  let i = start + 1
  while (i < source.length) {
    const ch = source[i] as string
    if (ch === quote) return { value, end: i + 1 }
    if (ch === '\\') {
      const next = source[i + 1]
      if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(source.slice(i + 2, i + 6))) {
        value += String.fromCharCode(Number.parseInt(source.slice(i + 2, i + 6), 16))
        i += 6
        continue
      }
      const escaped = next === undefined ? undefined : ESCAPES[next]
      if (escaped === undefined) throw new ExpressionSyntaxError(source, i, 'invalid escape in string')
      value += escaped
      i += 2
      continue
    }
    value += ch
    i++
  }
  throw new ExpressionSyntaxError(source, start, 'unterminated string')
}

export function tokenize(source: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (i < source.length) {
    const ch = source[i] as string
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
      i++
      continue
    }
    if (ch === '"' || ch === "'") {
      const { value, end } = readString(source, i)
      tokens.push({ type: 'string', value, at: i })
      i = end
      continue
    }
    const two = source.slice(i, i + 2)
    if (TWO_CHAR.has(two)) {
      tokens.push({ type: 'punct', value: two as Punctuator, at: i })
      i += 2
      continue
    }
    if ((ch >= '0' && ch <= '9') || (ch === '-' && /[0-9]/.test(source[i + 1] ?? ''))) {
      NUMBER.lastIndex = i
      const match = NUMBER.exec(source)
      if (match === null) throw new ExpressionSyntaxError(source, i, 'invalid number')
      tokens.push({ type: 'number', value: Number(match[0]), at: i })
      i += match[0].length
      continue
    }
    if (ONE_CHAR.has(ch)) {
      tokens.push({ type: 'punct', value: ch as Punctuator, at: i })
      i++
      continue
    }
    NAME.lastIndex = i
    const name = NAME.exec(source)
    if (name !== null) {
      tokens.push({ type: 'name', value: name[0], at: i })
      i += name[0].length
      continue
    }
    const hint = ch === '=' ? ' (use == to compare)' : ch === '&' || ch === '|' ? ` (use ${ch}${ch})` : ''
    throw new ExpressionSyntaxError(source, i, `unexpected character ${JSON.stringify(ch)}${hint}`)
  }
  tokens.push({ type: 'end', at: source.length })
  return tokens
}
