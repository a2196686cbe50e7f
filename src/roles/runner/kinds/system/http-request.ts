/**
 * HTTP for jobs through the global `fetch`, with a timeout, the job's cancellation, and a cap on the
 * response body (read as a stream and abandoned past the cap). Bodies with a JSON content type are
 * parsed; others are returned as text.
 */

import { anySignal } from 'any-signal'
import { DEFAULT_HTTP_TIMEOUT_MS, DEFAULT_MAX_HTTP_RESPONSE_BYTES } from './constants.js'
import { HttpRequestError, HttpResponseTooLargeError, HttpTimeoutError } from './errors.js'

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  url: string
  headers?: Record<string, string>
  body?: string
  /** @default 30_000 */
  timeoutMs?: number
  /** @default 10 MiB */
  maxResponseBytes?: number
  signal?: AbortSignal
}

export interface HttpResponse {
  status: number
  headers: Record<string, string>
  /** Parsed JSON when the content type is JSON, otherwise the text. */
  body: unknown
  /** The body as received (UTF-8), whatever its type. */
  text: string
}

export async function httpRequest(request: HttpRequest): Promise<HttpResponse> {
  const timeoutMs = request.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS
  const url = parseUrl(request.url)
  const timeout = AbortSignal.timeout(timeoutMs)
  const signal = anySignal([request.signal, timeout])
  try {
    const init: RequestInit = { method: request.method, signal, redirect: 'follow' }
    if (request.headers !== undefined) init.headers = request.headers
    if (request.body !== undefined) init.body = request.body
    const response = await fetch(url, init)
    const text = await readCapped(
      response,
      request.maxResponseBytes ?? DEFAULT_MAX_HTTP_RESPONSE_BYTES,
      url.href,
    )
    const headers: Record<string, string> = {}
    response.headers.forEach((value, key) => {
      headers[key] = value
    })
    return { status: response.status, headers, body: decode(text, headers['content-type']), text }
  } catch (err) {
    if (timeout.aborted && !(request.signal?.aborted ?? false))
      throw new HttpTimeoutError(url.href, timeoutMs)
    if (request.signal?.aborted === true) throw request.signal.reason
    if (err instanceof HttpResponseTooLargeError) throw err
    const cause = (err as { cause?: { message?: string } }).cause?.message
    throw new HttpRequestError(`${request.method} ${url.href} failed: ${cause ?? (err as Error).message}`, {
      cause: err,
    })
  } finally {
    signal.clear()
  }
}

function parseUrl(raw: string): URL {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new HttpRequestError(`url: expected an absolute http(s) URL, got ${JSON.stringify(raw)}`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new HttpRequestError(`url: expected http: or https:, got ${url.protocol}`)
  }
  return url
}

async function readCapped(response: Response, max: number, url: string): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN)
  if (declared > max) {
    await response.body?.cancel()
    throw new HttpResponseTooLargeError(url, max)
  }
  if (response.body === null) return ''
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength
    if (size > max) {
      await response.body.cancel().catch(() => undefined)
      throw new HttpResponseTooLargeError(url, max)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** `application/json`, `text/json`, `application/problem+json`, … with any parameters. */
export function isJsonContentType(contentType: string | undefined): boolean {
  return contentType !== undefined && /^[^;]*[/+]json\s*(;|$)/i.test(contentType)
}

/** JSON text as a value; a UTF-8 byte order mark (some servers send one) is not part of it. */
export function parseJsonBody(text: string): unknown {
  return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)
}

function decode(text: string, contentType: string | undefined): unknown {
  if (isJsonContentType(contentType) && text !== '') {
    try {
      return parseJsonBody(text)
    } catch {
      return text
    }
  }
  return text
}
