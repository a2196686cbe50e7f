/**
 * RpcClient over a node's HTTP gateway: calls are `POST /rpc`; a subscription is a
 * `POST /rpc/subscribe` event stream, ended by closing it. Aborting a call closes its request,
 * which aborts the handler's signal on the node.
 */

import { anySignal } from 'any-signal'
import {
  type CallOptions,
  EventQueue,
  type RpcClient,
  type RpcSubscription,
  type SubscribeOptions,
  subscriptionName,
} from './client.js'
import { DEFAULT_CLIENT_TIMEOUT_MS, SUBSCRIBE_SUFFIX } from './constants.js'
import {
  CallTimeoutError,
  CancelledError,
  ConnectionClosedError,
  FrameTooLargeError,
  fromWireError,
  type HorusErrorClass,
  UnauthorizedError,
  UnavailableError,
} from './errors.js'
import { classifyServerMessage, type RpcParams, type RpcResponse } from './messages.js'

export interface HttpRpcClientInit {
  /** The gateway's base URL (`http://127.0.0.1:8080`) or its `/rpc` endpoint. */
  url: string
  /** Bearer token, when the gateway requires one. */
  token?: string
  /** Applied when a call gives neither `timeoutMs` nor a signal. @default DEFAULT_CLIENT_TIMEOUT_MS */
  defaultTimeoutMs?: number
  /** @default 10_000 */
  maxBufferedEvents?: number
  /** HorusError subclasses to rebuild from `data.name`. */
  errors?: readonly HorusErrorClass[]
}

export class HttpRpcClient implements RpcClient {
  private readonly rpcUrl: string
  private readonly headers: Record<string, string>
  private readonly init: HttpRpcClientInit
  private readonly knownErrors: ReadonlyMap<string, HorusErrorClass>
  private readonly streams = new Set<AbortController>()
  private nextId = 1
  private closed = false

  constructor(init: HttpRpcClientInit) {
    this.init = init
    const base = init.url.replace(/\/+$/, '')
    this.rpcUrl = base.endsWith('/rpc') ? base : `${base}/rpc`
    this.headers = { 'content-type': 'application/json' }
    if (init.token !== undefined) this.headers.authorization = `Bearer ${init.token}`
    this.knownErrors = new Map((init.errors ?? []).map((c) => [c.name, c]))
  }

  async call<T = unknown>(method: string, params?: RpcParams, options: CallOptions = {}): Promise<T> {
    if (this.closed) throw new ConnectionClosedError('rpc client closed')
    const timeoutMs =
      options.timeoutMs ??
      (options.signal === undefined ? (this.init.defaultTimeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS) : undefined)
    const timeout = timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs)
    const signal = anySignal([options.signal, timeout])
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: this.nextId++,
      method,
      ...(params === undefined ? {} : { params }),
      ...(options.traceparent === undefined ? {} : { traceparent: options.traceparent }),
    })
    let response: Response
    let text: string
    try {
      response = await fetch(this.rpcUrl, {
        method: 'POST',
        headers: this.headers,
        body,
        signal,
      })
      text = await response.text()
    } catch (err) {
      if (timeout?.aborted === true) throw new CallTimeoutError(`${method}: no answer within ${timeoutMs} ms`)
      if (options.signal?.aborted === true)
        throw new CancelledError('call cancelled by the caller', { cause: options.signal.reason })
      throw new UnavailableError(`gateway unreachable: ${(err as Error).message}`, { cause: err })
    } finally {
      signal.clear()
    }
    const answer = parseResponse(text)
    if (answer === undefined) throw statusError(response.status, text)
    if ('error' in answer) throw fromWireError(answer.error, this.knownErrors)
    return answer.result as T
  }

  subscribe<E = unknown>(
    name: string,
    params?: RpcParams,
    options: SubscribeOptions = {},
  ): RpcSubscription<E> {
    const controller = new AbortController()
    this.streams.add(controller)
    const unsubscribe = async (): Promise<void> => {
      queue.end()
      controller.abort()
      this.streams.delete(controller)
      options.signal?.removeEventListener('abort', onAbort)
    }
    const queue = new EventQueue<E>(this.init.maxBufferedEvents ?? 10_000, unsubscribe)
    const onAbort = (): void => {
      unsubscribe().catch(() => {})
    }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    const method = `${subscriptionName(name)}${SUBSCRIBE_SUFFIX}`
    const id = this.openStream(method, params, controller.signal, queue)
    id.catch((err: unknown) => {
      queue.end(err instanceof Error ? err : new Error(String(err)))
      this.streams.delete(controller)
    })
    return { id, unsubscribe, [Symbol.asyncIterator]: () => queue }
  }

  async close(): Promise<void> {
    this.closed = true
    for (const controller of this.streams) controller.abort()
    this.streams.clear()
  }

  private async openStream(
    method: string,
    params: RpcParams | undefined,
    signal: AbortSignal,
    queue: EventQueue<unknown>,
  ): Promise<string> {
    if (this.closed) throw new ConnectionClosedError('rpc client closed')
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: this.nextId++,
      method,
      ...(params === undefined ? {} : { params }),
    })
    const response = await fetch(`${this.rpcUrl}/subscribe`, {
      method: 'POST',
      headers: this.headers,
      body,
      signal,
    }).catch((err: unknown) => {
      throw new UnavailableError(`gateway unreachable: ${(err as Error).message}`, { cause: err })
    })
    if (
      !(response.headers.get('content-type') ?? '').startsWith('text/event-stream') ||
      response.body === null
    ) {
      const text = await response.text()
      const answer = parseResponse(text)
      if (answer !== undefined && 'error' in answer) throw fromWireError(answer.error, this.knownErrors)
      throw statusError(response.status, text)
    }
    const messages = readEventStream(response.body)
    const first = await messages.next()
    const answer = first.done === true ? undefined : classifyServerMessage(first.value)
    if (answer?.kind !== 'response' || 'error' in answer.response)
      throw new ConnectionClosedError('event stream ended before the subscription id')
    const id = String(answer.response.result)
    this.pump(messages, queue, signal).catch(() => {})
    return id
  }

  private async pump(
    messages: AsyncGenerator<unknown>,
    queue: EventQueue<unknown>,
    signal: AbortSignal,
  ): Promise<void> {
    try {
      for await (const value of messages) {
        const message = classifyServerMessage(value)
        if (message.kind === 'event') queue.event(message.result)
      }
      queue.end(new ConnectionClosedError('gateway closed the event stream'))
    } catch (err) {
      queue.end(signal.aborted ? undefined : new ConnectionClosedError('event stream failed', { cause: err }))
    }
  }
}

/** `data:` payloads of a `text/event-stream` body, parsed as JSON (comments and bad JSON skipped). */
async function* readEventStream(body: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  const decoder = new TextDecoder()
  let buffer = ''
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true })
    let end = buffer.indexOf('\n\n')
    while (end !== -1) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trimStart())
        .join('\n')
      if (data !== '') {
        try {
          yield JSON.parse(data)
        } catch {
          // not ours to interpret
        }
      }
      end = buffer.indexOf('\n\n')
    }
  }
}

function parseResponse(text: string): RpcResponse | undefined {
  try {
    const message = classifyServerMessage(JSON.parse(text))
    return message.kind === 'response' ? message.response : undefined
  } catch {
    return undefined
  }
}

/** Why the gateway refused us, as `data.reason`: the SDK and CLI turn it into advice. */
export type GatewayRefusal = 'token_missing' | 'token_wrong' | 'forbidden'

function statusError(status: number, text: string): Error {
  if (status === 401) {
    const reason: GatewayRefusal = /missing/.test(errorMessage(text)) ? 'token_missing' : 'token_wrong'
    const message =
      reason === 'token_missing'
        ? 'the gateway requires a bearer token and none was given (HTTP 401)'
        : 'the gateway refused the bearer token: it is not the one the node is configured with (HTTP 401)'
    return new UnauthorizedError(message, { data: { reason } })
  }
  if (status === 403) {
    const message = `the gateway refused the request (HTTP 403): ${errorMessage(text) || 'forbidden'}`
    return new UnauthorizedError(message, { data: { reason: 'forbidden' satisfies GatewayRefusal } })
  }
  if (status === 413) return new FrameTooLargeError('request body too large for the gateway')
  return new UnavailableError(`gateway answered HTTP ${status}: ${text.slice(0, 200)}`)
}

/** `error.message` of a gateway's plain error body (`{ error: { name, message } }`), else ''. */
function errorMessage(text: string): string {
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message
    return typeof message === 'string' ? message : ''
  } catch {
    return ''
  }
}
