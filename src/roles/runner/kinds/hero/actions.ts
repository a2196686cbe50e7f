/**
 * The heroscript actions: their parameters (checked before anything runs) and what they do.
 */

import type { JobContext } from '../../execution/index.js'
import { ConfinedFs } from '../system/confined-fs.js'
import { CommandFailedError, HttpBodyNotJsonError, HttpStatusError } from '../system/errors.js'
import { type HttpResponse, httpRequest, isJsonContentType, parseJsonBody } from '../system/http-request.js'
import { runCommand } from '../system/run-command.js'
import { HeroscriptParseError } from './errors.js'
import type { HeroAction } from './parser.js'

/** What `as:` makes an HTTP action's output. */
type BodyAs = 'auto' | 'json' | 'text' | 'response'
export const BODY_AS: readonly BodyAs[] = ['auto', 'json', 'text', 'response']

interface ActionSpec {
  required: readonly string[]
  optional: readonly string[]
  run(params: Record<string, string>, ctx: JobContext): Promise<unknown>
}

const ACTIONS: Record<string, ActionSpec> = {
  'http.get': {
    required: ['url'],
    optional: ['headers', 'timeout', 'as'],
    run: (p, ctx) => http('GET', p, ctx),
  },
  'http.post': {
    required: ['url'],
    optional: ['body', 'content_type', 'headers', 'timeout', 'as'],
    run: (p, ctx) => http('POST', p, ctx),
  },
  'shell.exec': {
    required: ['cmd'],
    optional: ['cwd', 'timeout'],
    async run(p, ctx) {
      const cwd = p.cwd === undefined ? ctx.workDir : await new ConfinedFs(ctx.workDir).directory(p.cwd)
      const options = { cwd, env: ctx.env, signal: ctx.signal }
      const result = await runCommand(
        p.cmd as string,
        p.timeout === undefined ? options : { ...options, timeoutMs: Number(p.timeout) },
      )
      if (result.code !== 0)
        throw new CommandFailedError(p.cmd as string, result.code, result.signal, result.stderr)
      return { code: result.code, stdout: result.stdout, stderr: result.stderr }
    },
  },
}

export interface CheckedAction {
  name: string
  params: Record<string, string>
  spec: ActionSpec
}

/** Checks every action of a payload, so nothing runs when any part is wrong. */
export function checkActions(actions: HeroAction[]): CheckedAction[] {
  return actions.map((action) => {
    const name = `${action.actor}.${action.action}`
    const spec = ACTIONS[name]
    if (spec === undefined) {
      throw new HeroscriptParseError(
        `unknown action !!${name} (known: ${Object.keys(ACTIONS)
          .map((n) => `!!${n}`)
          .join(', ')})`,
        action.line,
        action.column,
      )
    }
    const params: Record<string, string> = {}
    for (const [key, param] of Object.entries(action.params)) {
      if (!spec.required.includes(key) && !spec.optional.includes(key)) {
        const allowed = [...spec.required, ...spec.optional].join(', ')
        throw new HeroscriptParseError(
          `unknown parameter '${key}' for !!${name} (allowed: ${allowed})`,
          param.line,
          param.column,
        )
      }
      params[key] = key === 'timeout' ? String(duration(param.value, param)) : param.value
      if (key === 'as' && !(BODY_AS as readonly string[]).includes(param.value)) {
        throw new HeroscriptParseError(
          `as: expected one of ${BODY_AS.join(', ')}, got '${param.value}'`,
          param.line,
          param.column,
        )
      }
    }
    for (const key of spec.required) {
      if (params[key] === undefined) {
        throw new HeroscriptParseError(`!!${name} needs parameter '${key}'`, action.line, action.column)
      }
    }
    return { name, params, spec }
  })
}

function duration(text: string, at: { line: number; column: number }): number {
  const match = /^(\d+)(ms|s|m)?$/.exec(text)
  if (match === null) {
    throw new HeroscriptParseError(
      `timeout: expected a duration such as 500, 500ms, 5s or 2m, got '${text}'`,
      at.line,
      at.column,
    )
  }
  const unit = match[2] ?? 'ms'
  const value = Number(match[1]) * (unit === 'm' ? 60_000 : unit === 's' ? 1_000 : 1)
  if (value < 1)
    throw new HeroscriptParseError('timeout: expected a duration of at least 1 ms', at.line, at.column)
  return value
}

async function http(method: 'GET' | 'POST', p: Record<string, string>, ctx: JobContext): Promise<unknown> {
  const headers = parseHeaders(p.headers)
  if (method === 'POST') headers['content-type'] ??= p.content_type ?? 'application/json'
  const started = performance.now()
  const response = await httpRequest({
    method,
    url: p.url as string,
    headers,
    ...(method === 'POST' ? { body: p.body ?? '' } : {}),
    ...(p.timeout === undefined ? {} : { timeoutMs: Number(p.timeout) }),
    signal: ctx.signal,
  })
  ctx.log(`${method} ${p.url} → ${response.status} (${Math.round(performance.now() - started)} ms)`)
  if (response.status < 200 || response.status > 299) {
    throw new HttpStatusError(method, p.url as string, response.status, response.text)
  }
  const as = (p.as ?? 'auto') as BodyAs
  if (as === 'text') return response.text
  const json = as === 'json' || isJsonContentType(response.headers['content-type'])
  const body = json ? jsonBody(method, p.url as string, response) : response.text
  return as === 'response'
    ? { status: response.status, headers: response.headers, body, text: response.text }
    : body
}

/** A body to read as JSON that is not JSON fails the action rather than passing text on silently. */
function jsonBody(method: string, url: string, response: HttpResponse): unknown {
  if (response.text === '') return null
  try {
    return parseJsonBody(response.text)
  } catch (err) {
    const type = response.headers['content-type'] ?? 'no content type'
    throw new HttpBodyNotJsonError(
      `${method} ${url}: the body (${type}) is not valid JSON: ${(err as Error).message} (as:'text' gives the text)`,
    )
  }
}

function parseHeaders(text: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const line of (text ?? '').split('\n')) {
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return headers
}
