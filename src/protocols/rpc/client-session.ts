/**
 * The caller's side of one session stream: numbered requests pipelined on the stream, responses
 * matched back by id, event notifications routed to their subscription. When the stream closes,
 * every waiting call fails with ConnectionClosedError (retryable) and every subscription ends.
 * A request over this client's frame limit fails unsent; one over the server's (which the client
 * learns only when the server refuses a frame) fails alone when the answer comes back, and every
 * later one that large fails unsent.
 */
import type { Logger, Stream, StreamMessageEvent } from '@libp2p/interface'
import { CANCEL_METHOD } from './constants.js'
import {
  CallTimeoutError,
  CancelledError,
  ConnectionClosedError,
  FrameTooLargeError,
  fromWireError,
  type HorusErrorClass,
  type WireError,
} from './errors.js'
import { encodeFrame, FrameDecoder, frameBodyLength } from './frame-codec.js'
import {
  classifyServerMessage,
  isRecord,
  type RpcParams,
  type RpcRequest,
  type RpcResponse,
} from './messages.js'

export interface ClientSessionInit {
  stream: Stream
  maxFrameBytes: number
  /** Calls sent and not yet answered; more wait here, so a well-behaved client never trips the server's cap. */
  maxInFlight: number
  knownErrors: ReadonlyMap<string, HorusErrorClass>
  log: Logger
}

export interface RequestOptions {
  signal?: AbortSignal
  timeoutMs?: number
  /** Sent as the request's `traceparent` member. */
  traceparent?: string | undefined
  /**
   * Runs synchronously when the result arrives, before any later frame is read — a subscribe
   * call routes its events here so the first one cannot slip past.
   */
  onResult?: (result: unknown) => void
}

/** Receives a subscription's events, and learns when it can get no more. */
export interface EventSink {
  event(result: unknown): void
  end(err?: Error): void
}

interface Pending {
  /** The request's frame body length: a server that refuses the frame names only that. */
  bytes: number
  onResult: ((result: unknown) => void) | undefined
  resolve(value: unknown): void
  reject(err: Error): void
}

const decoder = new TextDecoder()

export class ClientSession {
  private readonly stream: Stream
  private readonly frames: FrameDecoder
  private readonly knownErrors: ReadonlyMap<string, HorusErrorClass>
  private readonly log: Logger
  private readonly pending = new Map<number, Pending>()
  private readonly sinks = new Map<string, EventSink>()
  private nextId = 1
  /** The server's frame limit, once it refused a frame of ours; unknown (and unchecked) before. */
  private serverMaxFrameBytes = Number.POSITIVE_INFINITY
  private closedWith: Error | undefined
  private readonly maxInFlight: number
  private active = 0
  private readonly waiters: Array<() => void> = []

  constructor(init: ClientSessionInit) {
    this.stream = init.stream
    this.frames = new FrameDecoder(init.maxFrameBytes)
    this.knownErrors = init.knownErrors
    this.maxInFlight = init.maxInFlight
    this.log = init.log
    this.stream.addEventListener('message', this.onMessage)
    this.stream.addEventListener('close', this.onClose)
    this.stream.addEventListener('end', this.onReadEnd)
  }

  /** False once the stream can carry no more calls; the client then opens a new session. */
  get usable(): boolean {
    return (
      this.closedWith === undefined && this.stream.status === 'open' && this.stream.writeStatus === 'writable'
    )
  }

  get pendingCount(): number {
    return this.pending.size
  }

  async request(
    method: string,
    params: RpcParams | undefined,
    options: RequestOptions = {},
  ): Promise<unknown> {
    const id = this.nextId++
    const message: RpcRequest = { jsonrpc: '2.0', id, method }
    if (params !== undefined) message.params = params
    if (options.traceparent !== undefined) message.traceparent = options.traceparent
    const frame = encodeFrame(JSON.stringify(message))
    // The server's decoder limits the body, not the prefix: the same measure, to the byte.
    const bytes = frameBodyLength(frame)
    const oversize = this.oversize(bytes)
    if (oversize !== undefined) throw oversize
    const { signal, timeoutMs } = options
    if (signal?.aborted === true) throw cancelled(signal)
    let resolve!: (value: unknown) => void
    let reject!: (err: Error) => void
    const promise = new Promise<unknown>((res, rej) => {
      resolve = res
      reject = rej
    })
    const stopWaiting = (reason: Error): void => {
      if (!this.pending.delete(id)) return
      reject(reason)
      this.sendCancel(id)
    }
    const onAbort = signal === undefined ? undefined : (): void => stopWaiting(cancelled(signal))
    let timer: NodeJS.Timeout | undefined
    if (onAbort !== undefined) signal?.addEventListener('abort', onAbort, { once: true })
    this.pending.set(id, { bytes, onResult: options.onResult, resolve, reject })
    promise.catch(() => {}) // rejected while the send still waits: the send's error is the one thrown
    // A free place in the window is taken at once; otherwise the call queues for one.
    const queued = this.active < this.maxInFlight ? undefined : this.queueForSlot()
    if (queued === undefined) this.active++
    try {
      if (queued !== undefined) await Promise.race([queued.ready, promise])
      // The deadline is the server's to meet: it starts once the call is on the wire. A call
      // queued behind this session's window (a burst) waits its turn instead of failing unsent;
      // the caller's signal still bounds the whole wait.
      if (timeoutMs !== undefined && this.pending.has(id)) {
        timer = setTimeout(() => stopWaiting(timeoutError(method, timeoutMs)), timeoutMs)
      }
      const draining = this.send(id, frame, signal)
      if (draining !== undefined) await draining
      return await promise
    } catch (err) {
      // Covers a failed send or an abort that raced it; the pending entry must not outlive the call.
      if (this.pending.delete(id)) this.sendCancel(id)
      throw err
    } finally {
      if (queued === undefined) this.releaseSlot()
      else queued.drop()
      clearTimeout(timer)
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
    }
  }

  /** A place in the in-flight window, FIFO, once one frees; `drop` gives it back (or leaves the queue). */
  private queueForSlot(): { ready: Promise<void>; drop(): void } {
    let granted = false
    let dropped = false
    let grant!: () => void
    const ready = new Promise<void>((resolve) => {
      grant = () => {
        granted = true
        resolve()
      }
    })
    this.waiters.push(grant)
    return {
      ready,
      drop: () => {
        if (dropped) return
        dropped = true
        if (granted) this.releaseSlot()
        else this.waiters.splice(this.waiters.indexOf(grant), 1)
      },
    }
  }

  private releaseSlot(): void {
    const next = this.waiters.shift()
    if (next === undefined) this.active--
    else next()
  }

  /** Route `<name>.event` notifications for `subscription` to `sink` until `unroute`. */
  route(subscription: string, sink: EventSink): void {
    if (this.closedWith !== undefined) sink.end(this.closedWith)
    else this.sinks.set(subscription, sink)
  }

  unroute(subscription: string): void {
    this.sinks.delete(subscription)
  }

  async close(): Promise<void> {
    this.shutdown(new ConnectionClosedError('rpc client closed'))
    if (this.stream.status !== 'open') return
    try {
      await this.stream.close({ signal: AbortSignal.timeout(2_000) })
    } catch (err) {
      this.stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  /**
   * Why a request body of `bytes` must not be sent, if it must not: one oversized call fails
   * alone, unsent, instead of costing the server's reading (or, past what it skips, the session).
   */
  private oversize(bytes: number): FrameTooLargeError | undefined {
    const own = this.frames.maxFrameBytes
    if (bytes > own) {
      return new FrameTooLargeError(`request of ${bytes} bytes exceeds the ${own}-byte frame limit`, {
        data: { bytes, maxFrameBytes: own },
      })
    }
    if (bytes > this.serverMaxFrameBytes) return serverRefused(bytes, this.serverMaxFrameBytes)
    return undefined
  }

  /** Sends at once when the stream takes more; otherwise the promise of sending after its drain. */
  private send(id: number, frame: Uint8Array, signal?: AbortSignal): Promise<void> | undefined {
    if (this.closedWith !== undefined) throw this.closedWith
    if (this.stream.writableNeedsDrain) return this.sendAfterDrain(id, frame, signal)
    this.write(id, frame)
    return undefined
  }

  private async sendAfterDrain(id: number, frame: Uint8Array, signal?: AbortSignal): Promise<void> {
    await this.stream.onDrain(signal === undefined ? {} : { signal })
    this.write(id, frame)
  }

  private write(id: number, frame: Uint8Array): void {
    // The server may have refused a frame this large while the call waited for its turn.
    const bytes = this.pending.get(id)?.bytes ?? 0
    if (bytes > this.serverMaxFrameBytes) {
      this.pending.delete(id)
      throw serverRefused(bytes, this.serverMaxFrameBytes)
    }
    try {
      this.stream.send(frame)
    } catch (err) {
      throw new ConnectionClosedError('rpc session stream is not writable', { cause: err })
    }
  }

  private sendCancel(id: number): void {
    if (!this.usable) return
    try {
      this.stream.send(encodeFrame(JSON.stringify({ jsonrpc: '2.0', method: CANCEL_METHOD, params: { id } })))
    } catch {
      // The stream is going away; the server aborts the handler when it sees the close.
    }
  }

  private readonly onMessage = (evt: StreamMessageEvent): void => {
    const chunk = evt.data instanceof Uint8Array ? evt.data : evt.data.subarray()
    try {
      for (const frame of this.frames.push(chunk)) this.handleFrame(frame)
    } catch (err) {
      this.log.error('server sent an invalid frame - %e', err)
      const reason = new ConnectionClosedError('server sent an invalid frame', { cause: err })
      this.shutdown(reason)
      this.stream.abort(reason)
    }
  }

  private handleFrame(frame: Uint8Array): void {
    let value: unknown
    try {
      value = JSON.parse(decoder.decode(frame))
    } catch {
      this.log('ignoring a frame that is not JSON')
      return
    }
    for (const item of Array.isArray(value) ? value : [value]) {
      const message = classifyServerMessage(item)
      if (message.kind === 'response') this.settle(message.response)
      else if (message.kind === 'event') this.sinks.get(message.subscription)?.event(message.result)
    }
  }

  private settle(response: RpcResponse): void {
    if (typeof response.id !== 'number') {
      // Only failures to read a request (parse error, frame too large) come without our id.
      if ('error' in response) this.settleUnread(response.error)
      return
    }
    const waiting = this.pending.get(response.id)
    if (waiting === undefined) return // answered after we stopped waiting (cancel, timeout)
    this.pending.delete(response.id)
    if ('error' in response) waiting.reject(fromWireError(response.error, this.knownErrors))
    else {
      waiting.onResult?.(response.result)
      waiting.resolve(response.result)
    }
  }

  /**
   * A frame the server refused unread names only its body's size: the oldest call still waiting
   * whose request had exactly that size is the one (the server reads frames in order, and any
   * other call of that size was refused too). Anything else is the server's to explain: logged.
   */
  private settleUnread(error: WireError): void {
    const data = isRecord(error.data) ? error.data : {}
    const { bytes, maxFrameBytes } = data
    if (error.code === FrameTooLargeError.code && typeof bytes === 'number') {
      for (const [id, waiting] of this.pending) {
        if (waiting.bytes !== bytes) continue
        this.pending.delete(id)
        // A limit that would not refuse this very frame is not one to go by.
        const limit =
          typeof maxFrameBytes === 'number' &&
          Number.isSafeInteger(maxFrameBytes) &&
          maxFrameBytes >= 0 &&
          maxFrameBytes < bytes
            ? maxFrameBytes
            : undefined
        if (limit !== undefined) this.serverMaxFrameBytes = Math.min(this.serverMaxFrameBytes, limit)
        waiting.reject(serverRefused(bytes, limit))
        return
      }
    }
    this.log.error('server error %d for no call of ours: %s', error.code, error.message)
  }

  private readonly onReadEnd = (): void => {
    // 'end' also comes first when the connection under the stream was aborted on this side (a
    // stream's abort ends its readable side before it reports the abort): not always the server.
    this.shutdown(
      new ConnectionClosedError('rpc session ended: the server closed it or the connection dropped'),
    )
  }

  private readonly onClose = (): void => {
    this.shutdown(new ConnectionClosedError('rpc session stream closed'))
  }

  private shutdown(reason: Error): void {
    if (this.closedWith !== undefined) return
    this.closedWith = reason
    this.stream.removeEventListener('message', this.onMessage)
    this.stream.removeEventListener('close', this.onClose)
    this.stream.removeEventListener('end', this.onReadEnd)
    const pending = [...this.pending.values()]
    this.pending.clear()
    for (const p of pending) p.reject(reason)
    const sinks = [...this.sinks.values()]
    this.sinks.clear()
    for (const sink of sinks) sink.end(reason)
  }
}

/** A request the server refuses (or would) for exceeding its frame limit. */
function serverRefused(bytes: number, maxFrameBytes: number | undefined): FrameTooLargeError {
  const limit = maxFrameBytes === undefined ? 'frame limit' : `${maxFrameBytes}-byte frame limit`
  return new FrameTooLargeError(`request of ${bytes} bytes exceeds the server's ${limit}`, {
    data: maxFrameBytes === undefined ? { bytes } : { bytes, maxFrameBytes },
  })
}

function cancelled(signal: AbortSignal): CancelledError {
  return new CancelledError('call cancelled by the caller', { cause: signal.reason })
}

function timeoutError(method: string, timeoutMs: number | undefined): CallTimeoutError {
  return new CallTimeoutError(`${method}: no answer within ${timeoutMs} ms`)
}
