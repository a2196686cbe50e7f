import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { JsonValue } from '../src/protocols/state/json-value.js'
import {
  type ExpressionScope,
  ExpressionSyntaxError,
  evaluateExpression,
  isTruthy,
  parseExpression,
} from '../src/roles/coordinator/workflow/index.js'

const scope: ExpressionScope = {
  input: (name) =>
    (({ region: 'eu', limit: 10, flags: { beta: true }, empty: '' }) as Record<string, JsonValue>)[name] ??
    null,
  step: (id) =>
    id === 'fetch'
      ? {
          output: { items: [{ n: 1 }, { n: 2 }], 'odd key': 7, count: 2 },
          status: 'succeeded',
          error: null,
          attempt: 1,
        }
      : id === 'maybe'
        ? { output: null, status: 'skipped', error: null, attempt: 0 }
        : undefined,
}

const run = (source: string) => evaluateExpression(parseExpression(source), scope)

describe('expressions', () => {
  it.each([
    ['inputs.region == "eu"', true],
    ["inputs.region != 'eu'", false],
    ['inputs.limit >= 10 && inputs.limit < 11', true],
    ['steps.fetch.output.count > 1', true],
    ['steps.fetch.output.items[1].n', 2],
    ['steps.fetch.output.items.length', 2],
    ['steps.fetch.output["odd key"]', 7],
    ['steps.fetch.output.items[inputs.limit]', null],
    ['steps.maybe.status == "skipped"', true],
    ['steps.maybe.output.deep.path', null],
    ['inputs.flags.beta && !inputs.empty', true],
    ['inputs.empty || "default"', 'default'],
    ['inputs.region && inputs.limit', 10],
    ['!(inputs.limit > 5) || false', false],
    ['steps.fetch.output == steps.fetch.output', true],
    ['steps.fetch.output.items == steps.fetch.output.count', false],
    ['1 < "2"', false],
    ['"a" < "b"', true],
    ['-1.5e1 < 0', true],
    ['null == inputs.missing', true],
    ["'it\\'s' == \"it's\"", true],
    ['inputs.flags.constructor', null],
    ['inputs.flags.__proto__', null],
    ['steps.fetch.attempt', 1],
    ['steps["fetch"]["output"].count', 2],
  ])('%s → %j', (source, expected) => {
    expect(run(source)).toEqual(expected)
  })

  it('records the steps and inputs it reads', () => {
    const expr = parseExpression(
      'steps.a.output.x == inputs.y && steps["b-2"].status != "failed" || inputs.y',
    )
    expect(expr.steps).toEqual(['a', 'b-2'])
    expect(expr.inputs).toEqual(['y'])
  })

  it.each([
    [
      'a == 1',
      'unknown name "a" (expressions start from inputs, steps, run, item, index, true, false or null)',
      0,
    ],
    ['inputs', 'unexpected end of expression, expected .input name', 6],
    ['steps.x', 'unexpected end of expression, expected .step field (output, status, error, attempt)', 7],
    ['steps.x.result', 'unknown step field "result" (expected output, status, error, attempt)', 8],
    ['inputs.a = 1', 'unexpected character "=" (use == to compare)', 9],
    ['inputs.a & 1', 'unexpected character "&" (use &&)', 9],
    ['(inputs.a', 'unexpected end of expression, expected ")"', 9],
    ['inputs.a inputs.b', 'unexpected "inputs.b"', 9],
    ['"open', 'unterminated string', 0],
    ['  ', 'empty expression', 0],
  ])('rejects %j', (source, reason, offset) => {
    try {
      parseExpression(source)
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(ExpressionSyntaxError)
      expect((err as ExpressionSyntaxError).reason).toBe(reason)
      expect((err as ExpressionSyntaxError).offset).toBe(offset)
    }
  })

  it('limits nesting and length', () => {
    expect(() => parseExpression(`${'('.repeat(100)}true${')'.repeat(100)}`)).toThrow(/nested deeper than 64/)
    expect(() => parseExpression(`${'!'.repeat(100)}true`)).toThrow(/nested deeper than 64/)
    expect(() => parseExpression(`inputs.a${' || inputs.a'.repeat(1_000)}`)).toThrow(/longer than 4096/)
  })

  it('truthiness follows JSON-restricted JavaScript', () => {
    expect([null, false, 0, ''].map(isTruthy)).toEqual([false, false, false, false])
    expect([true, 1, 'x', [], {}].map(isTruthy)).toEqual([true, true, true, true, true])
  })

  it('never throws anything but a syntax error on arbitrary input, and evaluation is total', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (source) => {
        try {
          const expr = parseExpression(source)
          evaluateExpression(expr, scope)
        } catch (err) {
          if (!(err instanceof ExpressionSyntaxError)) throw err
        }
      }),
      { numRuns: 2_000 },
    )
  })
})
