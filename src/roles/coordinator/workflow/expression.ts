/**
 * The expression language of `when`, `outputs` and `with` (grammar in EXPRESSIONS.md): a recursive
 * descent parser over a handful of operators. It is data, not code — nothing is ever evaluated by
 * the JavaScript engine — and every step or input it names is known after parsing, so a workflow
 * that refers to a missing step is rejected before it runs.
 */

import type { JsonValue } from '../../../protocols/state/json-value.js'
import { MAX_EXPRESSION_LENGTH, MAX_EXPRESSION_NESTING } from './constants.js'
import { ExpressionSyntaxError } from './errors.js'
import { type Punctuator, type Token, tokenize } from './expression-lexer.js'

export const STEP_FIELDS = ['output', 'status', 'error', 'attempt'] as const
export type StepField = (typeof STEP_FIELDS)[number]

/** What `run.<field>` reads: the run's id, its workflow's name, and its failure (null unless failed). */
export const RUN_FIELDS = ['id', 'workflow', 'error'] as const
export type RunField = (typeof RUN_FIELDS)[number]

export type CompareOperator = '==' | '!=' | '<' | '<=' | '>' | '>='

export type ExprNode =
  | { readonly kind: 'literal'; readonly value: JsonValue }
  | { readonly kind: 'input'; readonly name: string }
  | { readonly kind: 'step'; readonly step: string; readonly field: StepField }
  | { readonly kind: 'run'; readonly field: RunField }
  | { readonly kind: 'item' }
  | { readonly kind: 'index' }
  | { readonly kind: 'member'; readonly object: ExprNode; readonly key: ExprNode }
  | { readonly kind: 'not'; readonly operand: ExprNode }
  | { readonly kind: 'logical'; readonly op: '&&' | '||'; readonly left: ExprNode; readonly right: ExprNode }
  | {
      readonly kind: 'compare'
      readonly op: CompareOperator
      readonly left: ExprNode
      readonly right: ExprNode
    }

export interface Expression {
  readonly source: string
  readonly root: ExprNode
  /** Step ids the expression reads (`steps.<id>`), in order of first use. */
  readonly steps: readonly string[]
  /** Input names the expression reads (`inputs.<name>`). */
  readonly inputs: readonly string[]
  /** Reads `item` or `index` (only meaningful in a `for_each` step's `env`). */
  readonly usesItem: boolean
}

const STEP_FIELD_SET: ReadonlySet<string> = new Set(STEP_FIELDS)
const RUN_FIELD_SET: ReadonlySet<string> = new Set(RUN_FIELDS)
const EQUALITY: ReadonlySet<string> = new Set(['==', '!='])
const RELATIONAL: ReadonlySet<string> = new Set(['<', '<=', '>', '>='])

class Parser {
  readonly #source: string
  readonly #tokens: Token[]
  #pos = 0
  #nesting = 0
  readonly steps = new Set<string>()
  readonly inputs = new Set<string>()
  usesItem = false

  constructor(source: string) {
    this.#source = source
    this.#tokens = tokenize(source)
  }

  parse(): ExprNode {
    const node = this.#or()
    const token = this.#peek()
    if (token.type !== 'end') throw this.#unexpected(token)
    return node
  }

  #peek(): Token {
    return this.#tokens[this.#pos] as Token
  }

  #isPunct(value: Punctuator): boolean {
    const token = this.#peek()
    return token.type === 'punct' && token.value === value
  }

  #expect(value: Punctuator): void {
    if (!this.#isPunct(value)) throw this.#unexpected(this.#peek(), `expected "${value}"`)
    this.#pos++
  }

  #unexpected(token: Token, expected?: string): ExpressionSyntaxError {
    const what =
      token.type === 'end'
        ? 'unexpected end of expression'
        : `unexpected ${JSON.stringify(this.#source.slice(token.at, token.at + 12).split(/\s/)[0])}`
    return new ExpressionSyntaxError(
      this.#source,
      token.at,
      expected === undefined ? what : `${what}, ${expected}`,
    )
  }

  #enter(at: number): void {
    if (++this.#nesting > MAX_EXPRESSION_NESTING) {
      throw new ExpressionSyntaxError(this.#source, at, `nested deeper than ${MAX_EXPRESSION_NESTING} levels`)
    }
  }

  #or(): ExprNode {
    let left = this.#and()
    while (this.#isPunct('||')) {
      this.#pos++
      left = { kind: 'logical', op: '||', left, right: this.#and() }
    }
    return left
  }

  #and(): ExprNode {
    let left = this.#comparison(EQUALITY, () => this.#comparison(RELATIONAL, () => this.#unary()))
    while (this.#isPunct('&&')) {
      this.#pos++
      left = {
        kind: 'logical',
        op: '&&',
        left,
        right: this.#comparison(EQUALITY, () => this.#comparison(RELATIONAL, () => this.#unary())),
      }
    }
    return left
  }

  #comparison(ops: ReadonlySet<string>, operand: () => ExprNode): ExprNode {
    let left = operand()
    for (let token = this.#peek(); token.type === 'punct' && ops.has(token.value); token = this.#peek()) {
      this.#pos++
      left = { kind: 'compare', op: token.value as CompareOperator, left, right: operand() }
    }
    return left
  }

  #unary(): ExprNode {
    const token = this.#peek()
    if (token.type === 'punct' && token.value === '!') {
      this.#pos++
      this.#enter(token.at)
      const operand = this.#unary()
      this.#nesting--
      return { kind: 'not', operand }
    }
    return this.#postfix(this.#primary())
  }

  #postfix(start: ExprNode): ExprNode {
    let node = start
    for (;;) {
      if (this.#isPunct('.')) {
        this.#pos++
        node = {
          kind: 'member',
          object: node,
          key: { kind: 'literal', value: this.#name('a property name') },
        }
      } else if (this.#isPunct('[')) {
        const at = this.#peek().at
        this.#pos++
        this.#enter(at)
        const key = this.#or()
        this.#nesting--
        this.#expect(']')
        node = { kind: 'member', object: node, key }
      } else {
        return node
      }
    }
  }

  #name(what: string): string {
    const token = this.#peek()
    if (token.type !== 'name') throw this.#unexpected(token, `expected ${what}`)
    this.#pos++
    return token.value
  }

  /** `.name` or `["name"]`: the static key after `inputs` or `steps.<id>`. */
  #staticKey(what: string): { key: string; at: number } {
    const at = this.#peek().at
    if (this.#isPunct('.')) {
      this.#pos++
      const nameAt = this.#peek().at
      return { key: this.#name(what), at: nameAt }
    }
    if (this.#isPunct('[')) {
      this.#pos++
      const token = this.#peek()
      if (token.type !== 'string') throw this.#unexpected(token, `expected ${what} as a quoted string`)
      this.#pos++
      this.#expect(']')
      return { key: token.value, at }
    }
    throw this.#unexpected(this.#peek(), `expected .${what.replace(/^an? /, '')}`)
  }

  #primary(): ExprNode {
    const token = this.#peek()
    switch (token.type) {
      case 'number':
      case 'string':
        this.#pos++
        return { kind: 'literal', value: token.value }
      case 'punct':
        if (token.value !== '(') break
        this.#pos++
        this.#enter(token.at)
        {
          const inner = this.#or()
          this.#nesting--
          this.#expect(')')
          return inner
        }
      case 'name':
        this.#pos++
        return this.#root(token.value, token.at)
      case 'end':
        break
    }
    throw this.#unexpected(token)
  }

  #root(name: string, at: number): ExprNode {
    switch (name) {
      case 'true':
        return { kind: 'literal', value: true }
      case 'false':
        return { kind: 'literal', value: false }
      case 'null':
        return { kind: 'literal', value: null }
      case 'inputs': {
        const { key } = this.#staticKey('an input name')
        this.inputs.add(key)
        return { kind: 'input', name: key }
      }
      case 'steps': {
        const { key: step } = this.#staticKey('a step id')
        const { key: field, at: fieldAt } = this.#staticKey('a step field (output, status, error, attempt)')
        if (!STEP_FIELD_SET.has(field)) {
          throw new ExpressionSyntaxError(
            this.#source,
            fieldAt,
            `unknown step field "${field}" (expected ${STEP_FIELDS.join(', ')})`,
          )
        }
        this.steps.add(step)
        return { kind: 'step', step, field: field as StepField }
      }
      case 'run': {
        const { key: field, at: fieldAt } = this.#staticKey('a run field (id, workflow, error)')
        if (!RUN_FIELD_SET.has(field)) {
          throw new ExpressionSyntaxError(
            this.#source,
            fieldAt,
            `unknown run field "${field}" (expected ${RUN_FIELDS.join(', ')})`,
          )
        }
        return { kind: 'run', field: field as RunField }
      }
      case 'item':
      case 'index':
        this.usesItem = true
        return { kind: name }
      default:
        throw new ExpressionSyntaxError(
          this.#source,
          at,
          `unknown name "${name}" (expressions start from inputs, steps, run, item, index, true, false or null)`,
        )
    }
  }
}

/** Parses an expression; throws `ExpressionSyntaxError` with the offending column. */
export function parseExpression(source: string): Expression {
  if (source.length > MAX_EXPRESSION_LENGTH) {
    throw new ExpressionSyntaxError(source.slice(0, 40), 0, `longer than ${MAX_EXPRESSION_LENGTH} characters`)
  }
  if (source.trim() === '') throw new ExpressionSyntaxError(source, 0, 'empty expression')
  const parser = new Parser(source)
  const root = parser.parse()
  return Object.freeze({
    source,
    root,
    steps: [...parser.steps],
    inputs: [...parser.inputs],
    usesItem: parser.usesItem,
  })
}

/** An expression that is just a value (non-string `with` values, boolean `when`). */
export function literalExpression(value: JsonValue): Expression {
  const root: ExprNode = { kind: 'literal', value }
  return Object.freeze({ source: JSON.stringify(value), root, steps: [], inputs: [], usesItem: false })
}
