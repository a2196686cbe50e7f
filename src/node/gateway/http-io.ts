/** Reading bounded request bodies and writing JSON responses, for the gateway's routes. */
import type { IncomingMessage, ServerResponse } from 'node:http'

/** The body is larger than the gateway accepts; the route answers 413. */
export class BodyTooLargeError extends Error {
  override name = 'BodyTooLargeError'
}

/** Collect the body, failing as soon as it exceeds `maxBytes` (declared or actual). */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new BodyTooLargeError(`body of ${declared} bytes exceeds the ${maxBytes}-byte limit`)
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    const buf = chunk as Buffer
    size += buf.byteLength
    if (size > maxBytes) throw new BodyTooLargeError(`body exceeds the ${maxBytes}-byte limit`)
    chunks.push(buf)
  }
  return Buffer.concat(chunks, size)
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.end()
    return
  }
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  })
  res.end(text)
}

/** A plain error body for non-RPC routes: `{ error: { name, message } }`. */
export function sendError(
  res: ServerResponse,
  status: number,
  name: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error: { name, message } }, headers)
}

/** True when the request says its body is JSON (`application/json`, any parameters). */
export function isJsonContent(req: IncomingMessage): boolean {
  const type = req.headers['content-type']
  return typeof type === 'string' && /^application\/json\s*(;|$)/i.test(type)
}
