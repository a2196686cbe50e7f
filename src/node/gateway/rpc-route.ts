/**
 * `POST /rpc`: JSON-RPC 2.0 over HTTP, single or batch, through the same dispatcher (validation,
 * authorization with `via: 'http'`, limits) as the libp2p protocol. JSON-RPC errors are answered
 * with HTTP 200 and the error object; only transport problems use other statuses (413, 415).
 * A client that disconnects aborts its running handlers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Dispatcher, DispatchSession } from '../../protocols/rpc/dispatcher.js'
import { FrameTooLargeError, ParseError } from '../../protocols/rpc/errors.js'
import { failure } from '../../protocols/rpc/messages.js'
import { BodyTooLargeError, isJsonContent, readBody, sendError, sendJson } from './http-io.js'
import type { RouteContext } from './routes.js'

export interface RpcRouteInit {
  dispatcher: Dispatcher
  maxBodyBytes: number
}

export function rpcRoute(init: RpcRouteInit) {
  return async (req: IncomingMessage, res: ServerResponse, ctx: RouteContext): Promise<void> => {
    // Requiring JSON makes browsers preflight cross-site posts, which this server never approves.
    if (!isJsonContent(req)) {
      sendError(res, 415, 'UnsupportedMediaType', 'expected content-type application/json')
      return
    }
    let body: Buffer
    try {
      body = await readBody(req, init.maxBodyBytes)
    } catch (err) {
      if (!(err instanceof BodyTooLargeError)) throw err
      const wire = new FrameTooLargeError(err.message, { data: { maxBodyBytes: init.maxBodyBytes } }).toWire()
      sendJson(res, 413, failure(null, wire), { connection: 'close' })
      return
    }
    let message: unknown
    try {
      message = JSON.parse(body.toString('utf8'))
    } catch {
      sendJson(res, 200, failure(null, new ParseError().toWire()))
      return
    }
    const session: DispatchSession = {
      caller: ctx.caller,
      limitKey: `http:${ctx.caller.remoteAddress ?? 'unknown'}`,
      signal: ctx.signal,
    }
    const result = await init.dispatcher.dispatch(message, session)
    if (result === undefined) {
      res.writeHead(204).end()
      return
    }
    try {
      sendJson(res, 200, result)
    } catch {
      // A handler result JSON cannot encode (BigInt, a cycle).
      sendJson(res, 500, failure(null, { code: -32603, message: 'internal error' }))
    }
  }
}
