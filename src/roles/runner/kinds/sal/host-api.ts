/**
 * The host APIs of `sal` scripts, as sandbox host functions bound to one job:
 * `os.exec(cmd, { timeout, env, cwd })`, `fs.read/write/list` inside the job's work directory, and
 * `http.get/post`.
 */

import type { JobContext } from '../../execution/index.js'
import type { HostFunction, JsonValue } from '../../sandbox/index.js'
import { ConfinedFs } from '../system/confined-fs.js'
import { HostArgumentError } from '../system/errors.js'
import { type HttpResponse, httpRequest } from '../system/http-request.js'
import { runCommand } from '../system/run-command.js'

export function salHostApi(ctx: JobContext): Record<string, HostFunction> {
  // Only a script that calls into the file system or runs a command gets a work directory made.
  let confined: ConfinedFs | undefined
  const files = (): ConfinedFs => {
    confined ??= new ConfinedFs(ctx.workDir)
    return confined
  }
  return {
    'os.exec': async ([cmd, rawOptions], { signal }) => {
      const command = str(cmd, 'os.exec(cmd)')
      const options = obj(rawOptions, 'os.exec(cmd, options)')
      const cwd =
        options.cwd === undefined ? ctx.workDir : await files().directory(str(options.cwd, 'options.cwd'))
      const env = { ...ctx.env, ...strings(options.env, 'options.env') }
      const result = await runCommand(command, {
        cwd,
        env,
        signal,
        ...(options.timeout === undefined ? {} : { timeoutMs: positive(options.timeout, 'options.timeout') }),
      })
      return { code: result.code, stdout: result.stdout, stderr: result.stderr }
    },
    'fs.read': ([path]) => files().read(str(path, 'fs.read(path)')),
    'fs.write': ([path, content]) =>
      files().write(
        str(path, 'fs.write(path)'),
        typeof content === 'string' ? content : JSON.stringify(content),
      ),
    'fs.list': async ([path]) =>
      (await files().list(
        path === undefined || path === null ? '.' : str(path, 'fs.list(path)'),
      )) as unknown as JsonValue,
    'http.get': async ([url, rawOptions], { signal }) => {
      const options = obj(rawOptions, 'http.get(url, options)')
      return responseJson(
        await httpRequest({ method: 'GET', url: str(url, 'http.get(url)'), signal, ...common(options) }),
      )
    },
    'http.post': async ([url, body, rawOptions], { signal }) => {
      const options = obj(rawOptions, 'http.post(url, body, options)')
      const isText = typeof body === 'string'
      const headers = {
        'content-type': isText ? 'text/plain' : 'application/json',
        ...strings(options.headers, 'options.headers'),
      }
      return responseJson(
        await httpRequest({
          method: 'POST',
          url: str(url, 'http.post(url)'),
          body: isText ? body : JSON.stringify(body),
          signal,
          ...common(options),
          headers,
        }),
      )
    },
  }
}

/** `{ status, headers, body }` — scripts decide what a non-2xx status means. */
function responseJson(response: HttpResponse): JsonValue {
  return { status: response.status, headers: response.headers, body: response.body as JsonValue }
}

function common(options: Record<string, JsonValue>): {
  headers?: Record<string, string>
  timeoutMs?: number
} {
  return {
    ...(options.headers === undefined ? {} : { headers: strings(options.headers, 'options.headers') }),
    ...(options.timeout === undefined ? {} : { timeoutMs: positive(options.timeout, 'options.timeout') }),
  }
}

function str(value: JsonValue | undefined, what: string): string {
  if (typeof value !== 'string') throw new HostArgumentError(`${what}: expected a string, got ${kind(value)}`)
  return value
}

function obj(value: JsonValue | undefined, what: string): Record<string, JsonValue> {
  if (value === undefined || value === null) return {}
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new HostArgumentError(`${what}: expected an object, got ${kind(value)}`)
  }
  return value
}

function strings(value: JsonValue | undefined, what: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [key, item] of Object.entries(obj(value, what))) out[key] = str(item, `${what}.${key}`)
  return out
}

function positive(value: JsonValue | undefined, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new HostArgumentError(
      `${what}: expected an integer number of milliseconds ≥ 1, got ${JSON.stringify(value)}`,
    )
  }
  return value
}

function kind(value: JsonValue | undefined): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value
}
