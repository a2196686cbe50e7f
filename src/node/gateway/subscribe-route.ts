/**
 * `POST /rpc/subscribe`: one subscription as server-sent events. The body is a JSON-RPC request
 * for `<name>.subscribe`. If it fails, the answer is that JSON-RPC error (application/json).
 * Otherwise the response is `text/event-stream` whose every `data:` line is a JSON-RPC message,
 * exactly what a libp2p session would carry: first the subscribe response (the subscription id),
 * then `<name>.event` notifications. Closing the connection unsubscribes. An event that carries an
 * `id` (a coordinator's run events) is framed with that SSE `id:`; a request with `Last-Event-ID`
 * to a subscription that takes `after` resumes after it, as EventSource expects.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Teardown } from '../../protocols/rpc/definitions.js'
import type { Dispatcher, DispatchSession } from '../../protocols/rpc/dispatcher.js'
import {
  FrameTooLargeError,
  InvalidRequestError,
  ParseError,
  TooManyRequestsError,
} from '../../protocols/rpc/errors.js'
import { failure, isRecord, type RpcResponse } from '../../protocols/rpc/messages.js'
import { BodyTooLargeError, isJsonContent, readBody, sendError, sendJson } from './http-io.js'
import type { RouteContext } from './routes.js'

export interface SubscribeRouteInit {
  dispatcher: Dispatcher
  maxBodyBytes: number
  heartbeatMs: number
}

export function subscribeRoute(init: SubscribeRouteInit) {
  return async (req: IncomingMessage, res: ServerResponse, ctx: RouteContext): Promise<void> => {
    const message = await readRequest(req, res, init.maxBodyBytes)
    if (message === undefined) return
    if (!isRecord(message) || typeof message.method !== 'string' || !message.method.endsWith('.subscribe')) {
      sendJson(
        res,
        200,
        failure(null, new InvalidRequestError('expected one <name>.subscribe request').toWire()),
      )
      return
    }
    resumeFromLastEventId(req, message, init.dispatcher)
    const stream = new EventStream(res, ctx.signal)
    const session: DispatchSession = {
      caller: ctx.caller,
      limitKey: `http:${ctx.caller.remoteAddress ?? 'unknown'}`,
      signal: ctx.signal,
      subscribe: (entry, params) =>
        stream.start(entry.def.name, (id, notify) =>
          entry.def.subscribe(params as never, {
            signal: ctx.signal,
            caller: ctx.caller,
            subscription: id,
            notify,
          }),
        ),
      unsubscribe: async () => false,
    }
    const result = (await init.dispatcher.dispatch(
      { ...message, id: message.id ?? 1 },
      session,
    )) as RpcResponse
    if ('error' in result) {
      sendJson(res, 200, result)
      return
    }
    stream.open(result, init.heartbeatMs)
    await stream.closed
  }
}

async function readRequest(req: IncomingMessage, res: ServerResponse, maxBytes: number): Promise<unknown> {
  if (!isJsonContent(req)) {
    sendError(res, 415, 'UnsupportedMediaType', 'expected content-type application/json')
    return undefined
  }
  try {
    return JSON.parse((await readBody(req, maxBytes)).toString('utf8'))
  } catch (err) {
    if (err instanceof BodyTooLargeError) {
      sendJson(res, 413, failure(null, new FrameTooLargeError(err.message).toWire()), { connection: 'close' })
    } else if (err instanceof SyntaxError) {
      sendJson(res, 200, failure(null, new ParseError().toWire()))
    } else throw err
    return undefined
  }
}

/** The event-stream side of one subscription; events that come before the id are held back. */
class EventStream {
  readonly closed: Promise<void>
  private readonly res: ServerResponse
  private readonly signal: AbortSignal
  private readonly held: string[] = []
  private teardown: Teardown | undefined
  private started = false
  private opened = false

  constructor(res: ServerResponse, signal: AbortSignal) {
    this.res = res
    this.signal = signal
    this.closed = new Promise((resolve) => {
      if (signal.aborted) resolve()
      else signal.addEventListener('abort', () => resolve(), { once: true })
    })
  }

  async start(
    name: string,
    subscribe: (
      id: string,
      notify: (event: unknown) => Promise<void>,
    ) => Promise<Teardown | undefined> | Teardown | undefined,
  ): Promise<string> {
    if (this.started) throw new TooManyRequestsError('one subscription per event stream')
    this.started = true
    const id = 'sub-1'
    const method = `${name}.event`
    this.teardown =
      (await subscribe(id, (result) =>
        this.send({ jsonrpc: '2.0', method, params: { subscription: id, result } }),
      )) ?? undefined
    return id
  }

  open(response: RpcResponse, heartbeatMs: number): void {
    this.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    })
    this.opened = true
    this.res.write(frame(response))
    for (const data of this.held.splice(0)) this.res.write(data)
    const heartbeat = setInterval(() => this.res.write(': keep-alive\n\n'), heartbeatMs)
    heartbeat.unref()
    this.closed
      .then(async () => {
        clearInterval(heartbeat)
        const teardown = this.teardown
        this.teardown = undefined
        await teardown?.()
      })
      .catch(() => {})
      .finally(() => this.res.end())
    if (this.signal.aborted) clearInterval(heartbeat)
  }

  private async send(message: unknown): Promise<void> {
    if (this.signal.aborted) return
    const data = frame(message)
    if (!this.opened) {
      this.held.push(data)
      return
    }
    if (this.res.write(data)) return
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.res.off('drain', done)
        this.signal.removeEventListener('abort', done)
        resolve()
      }
      this.res.on('drain', done)
      this.signal.addEventListener('abort', done, { once: true })
    })
  }
}

function frame(message: unknown): string {
  const id = eventId(message)
  return `${id === undefined ? '' : `id: ${id}\n`}data: ${JSON.stringify(message)}\n\n`
}

/** The `id` of a notification's event, when it has one fit for an SSE `id:` line. */
function eventId(message: unknown): string | undefined {
  if (!isRecord(message) || !isRecord(message.params) || !isRecord(message.params.result)) return undefined
  const id = message.params.result.id
  return typeof id === 'string' && !/[\r\n\0]/.test(id) ? id : undefined
}

/**
 * `Last-Event-ID` (sent by EventSource when it reconnects) becomes the subscription's `after`,
 * when the subscription takes one and the request did not set it.
 */
function resumeFromLastEventId(
  req: IncomingMessage,
  message: Record<string, unknown>,
  dispatcher: Dispatcher,
): void {
  const last = req.headers['last-event-id']
  if (typeof last !== 'string' || last === '' || typeof message.method !== 'string') return
  const entry = dispatcher.registry.get(message.method)
  if (entry?.kind !== 'subscribe' || entry.def.params.properties?.after === undefined) return
  const params = message.params === undefined ? {} : message.params
  if (!isRecord(params) || 'after' in params) return
  message.params = { ...params, after: last }
}
