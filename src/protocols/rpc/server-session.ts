/**
 * One inbound session stream. Frames are decoded inside the stream's `message` listener and each
 * request is dispatched without waiting for the previous one (pipelining); responses go out as
 * they complete, matched by id. While the stream's write buffer is full, reading pauses, so a
 * peer that never reads its answers cannot make this node buffer without bound. A request frame
 * over the limit gets one -32005 answer and is skipped, so the other calls on the stream (often
 * other callers' calls, on a node's shared session) go on; only a prefix beyond
 * `frameSkipBound`, or a malformed one, costs the whole stream.
 */
import { setMaxListeners } from 'node:events'
import type { Logger, Stream, StreamMessageEvent } from '@libp2p/interface'
import { EVENT_SUFFIX, SESSION_CLOSE_TIMEOUT_MS } from './constants.js'
import type { Caller, Teardown } from './definitions.js'
import type { Dispatcher, DispatchResult, DispatchSession } from './dispatcher.js'
import {
  CancelledError,
  FrameTooLargeError,
  InternalError,
  ParseError,
  TooManyRequestsError,
  UnavailableError,
} from './errors.js'
import { encodeFrame, FrameDecoder, frameSkipBound } from './frame-codec.js'
import { failure, type RpcId, type RpcResponse } from './messages.js'
import type { CompiledEntry } from './registry.js'

export interface ServerSessionInit {
  stream: Stream
  caller: Caller
  limitKey: string
  dispatcher: Dispatcher
  maxFrameBytes: number
  maxSubscriptions: number
  log: Logger
  /** A request frame over `maxFrameBytes` was refused (skipped, or its stream reset). */
  onOversizedFrame(): void
  onClose(session: ServerSession): void
}

interface Subscription {
  event: string
  controller: AbortController
  /** Events emitted before the subscribe response left are held, so the id is known first. */
  ready: boolean
  queue: Uint8Array[]
  teardown: Teardown | undefined
}

const decoder = new TextDecoder()

export class ServerSession implements DispatchSession {
  readonly caller: Caller
  readonly limitKey: string
  private readonly stream: Stream
  private readonly dispatcher: Dispatcher
  private readonly frames: FrameDecoder
  private readonly maxSubscriptions: number
  private readonly log: Logger
  private readonly onCloseCallback: (session: ServerSession) => void
  private readonly onOversizedFrame: () => void
  private readonly controller = new AbortController()
  private readonly running = new Map<RpcId, AbortController>()
  private readonly subscriptions = new Map<string, Subscription>()
  private nextSubscription = 1
  private pending = 0
  private remoteDone = false
  private closed = false
  private drain: Promise<void> | undefined

  constructor(init: ServerSessionInit) {
    this.stream = init.stream
    this.caller = init.caller
    this.limitKey = init.limitKey
    this.dispatcher = init.dispatcher
    this.frames = new FrameDecoder(init.maxFrameBytes, {
      maxBytes: frameSkipBound(init.maxFrameBytes),
      onSkip: this.onSkip,
    })
    this.maxSubscriptions = init.maxSubscriptions
    this.log = init.log
    this.onCloseCallback = init.onClose
    this.onOversizedFrame = init.onOversizedFrame
    // Every running call listens on the session's signal; that is expected, not a leak.
    setMaxListeners(Number.POSITIVE_INFINITY, this.controller.signal)
  }

  get signal(): AbortSignal {
    return this.controller.signal
  }

  get subscriptionCount(): number {
    return this.subscriptions.size
  }

  start(): void {
    this.stream.addEventListener('message', this.onMessage)
    this.stream.addEventListener('end', this.onReadEnd)
    this.stream.addEventListener('close', this.onStreamClose)
    if (this.stream.status !== 'open') this.finish()
    // 'end' fires once, after every received byte was delivered; it may already be behind us.
    else if (this.stream.readableEnded) this.onReadEnd()
  }

  /** End the session (server stopping): abort handlers, end subscriptions, close the stream. */
  async close(): Promise<void> {
    this.finish()
    await this.closeStream()
  }

  private readonly onMessage = (evt: StreamMessageEvent): void => {
    if (this.closed) return
    const chunk = evt.data instanceof Uint8Array ? evt.data : evt.data.subarray()
    try {
      for (const frame of this.frames.push(chunk)) this.handleFrame(frame)
    } catch (err) {
      this.rejectStream(err instanceof FrameTooLargeError ? err : new InternalError())
    }
  }

  /**
   * A request over the limit: the server cannot read its id without its body, so it answers with id
   * null and the body's size, which the caller matches to the request it sent.
   */
  private readonly onSkip = (err: FrameTooLargeError): void => {
    this.log('skipping a frame from %s - %s', this.limitKey, err.message)
    this.onOversizedFrame()
    this.respond(failure(null, err.toWire()))
  }

  /** The caller closed its side and we have read everything it sent. */
  private readonly onReadEnd = (): void => {
    this.remoteDone = true
    this.maybeEnd()
  }

  private readonly onStreamClose = (): void => {
    this.finish()
  }

  private handleFrame(frame: Uint8Array): void {
    let message: unknown
    try {
      message = JSON.parse(decoder.decode(frame))
    } catch {
      this.respond(failure(null, new ParseError().toWire()))
      return
    }
    this.pending++
    this.dispatcher
      .dispatch(message, this)
      .then((result) => this.respond(result))
      .catch((err: unknown) => this.log.error('dispatch failed - %e', err))
      .finally(() => {
        this.pending--
        this.maybeEnd()
      })
  }

  private respond(result: DispatchResult): void {
    if (result === undefined) return
    let body: string
    try {
      body = JSON.stringify(result)
    } catch (err) {
      // A handler returned something JSON cannot carry (BigInt, a cycle): the caller learns only that.
      this.log.error('cannot encode response - %e', err)
      const fail = (r: RpcResponse): RpcResponse => failure(r.id, new InternalError().toWire())
      body = JSON.stringify(Array.isArray(result) ? result.map(fail) : fail(result))
    }
    this.write(encodeFrame(body))
    for (const response of Array.isArray(result) ? result : [result]) {
      if ('result' in response && typeof response.result === 'string') this.activate(response.result)
    }
  }

  /** Send one frame; false when the stream asked us to wait for `drain`. */
  private write(frame: Uint8Array): boolean {
    if (this.closed || this.stream.writeStatus !== 'writable') return true
    try {
      if (this.stream.send(frame)) return true
    } catch (err) {
      this.log('send failed - %e', err)
      return true
    }
    void this.waitForDrain() // never rejects; callers that must wait use its promise
    return false
  }

  private waitForDrain(): Promise<void> {
    if (this.drain !== undefined) return this.drain
    this.stream.pause()
    this.drain = this.stream
      .onDrain({ signal: this.controller.signal })
      .then(() => this.stream.resume())
      .catch(() => {})
      .finally(() => {
        this.drain = undefined
      })
    return this.drain
  }

  /** Answer an oversized or malformed prefix if we can, then reset this stream only. */
  private rejectStream(err: FrameTooLargeError | InternalError): void {
    this.log('rejecting session from %s - %s', this.limitKey, err.message)
    if (err instanceof FrameTooLargeError) this.onOversizedFrame()
    this.write(encodeFrame(JSON.stringify(failure(null, err.toWire()))))
    this.finish()
    this.closeStream()
      .catch(() => {})
      .finally(() => this.stream.abort(err))
  }

  cancel(id: RpcId): boolean {
    const controller = this.running.get(id)
    if (controller === undefined) return false
    controller.abort(new CancelledError('cancelled by the caller'))
    return true
  }

  track(id: RpcId, controller: AbortController): () => void {
    this.running.set(id, controller)
    return () => {
      if (this.running.get(id) === controller) this.running.delete(id)
    }
  }

  async subscribe(
    entry: CompiledEntry & { kind: 'subscribe' },
    params: Record<string, unknown>,
  ): Promise<string> {
    if (this.subscriptions.size >= this.maxSubscriptions) {
      throw new TooManyRequestsError(`more than ${this.maxSubscriptions} subscriptions on one session`)
    }
    const id = `sub-${this.nextSubscription++}`
    const sub: Subscription = {
      event: `${entry.def.name}${EVENT_SUFFIX}`,
      controller: new AbortController(),
      ready: false,
      queue: [],
      teardown: undefined,
    }
    this.subscriptions.set(id, sub)
    const ctx = {
      signal: sub.controller.signal,
      caller: this.caller,
      subscription: id,
      notify: (event: unknown) => this.sendEvent(id, sub, event),
    }
    try {
      sub.teardown = (await entry.def.subscribe(params as never, ctx)) ?? undefined
    } catch (err) {
      this.subscriptions.delete(id)
      sub.controller.abort()
      throw err
    }
    // The session may have ended while the handler was setting up.
    if (sub.controller.signal.aborted) await runTeardown(sub, this.log)
    return id
  }

  async unsubscribe(subscription: string): Promise<boolean> {
    const sub = this.subscriptions.get(subscription)
    if (sub === undefined) return false
    this.subscriptions.delete(subscription)
    sub.controller.abort()
    await runTeardown(sub, this.log)
    return true
  }

  private sendEvent(id: string, sub: Subscription, event: unknown): Promise<void> {
    if (sub.controller.signal.aborted || this.closed) return Promise.resolve()
    const frame = encodeFrame(
      JSON.stringify({ jsonrpc: '2.0', method: sub.event, params: { subscription: id, result: event } }),
    )
    if (!sub.ready) {
      sub.queue.push(frame)
      return Promise.resolve()
    }
    return this.write(frame) ? Promise.resolve() : this.waitForDrain()
  }

  private activate(id: string): void {
    const sub = this.subscriptions.get(id)
    if (sub === undefined || sub.ready) return
    sub.ready = true
    for (const frame of sub.queue.splice(0)) this.write(frame)
  }

  private maybeEnd(): void {
    if (!this.remoteDone || this.pending > 0 || this.closed) return
    // The caller closed its side and every answer has gone: nothing more can happen here.
    this.finish()
    this.closeStream().catch(() => {})
  }

  private finish(): void {
    if (this.closed) return
    this.closed = true
    this.controller.abort(new UnavailableError('session closed'))
    const subs = [...this.subscriptions.values()]
    this.subscriptions.clear()
    for (const sub of subs) {
      sub.controller.abort()
      runTeardown(sub, this.log).catch(() => {})
    }
    this.stream.removeEventListener('message', this.onMessage)
    this.stream.removeEventListener('end', this.onReadEnd)
    this.stream.removeEventListener('close', this.onStreamClose)
    this.onCloseCallback(this)
  }

  private async closeStream(): Promise<void> {
    if (this.stream.status !== 'open') return
    try {
      await this.stream.close({ signal: AbortSignal.timeout(SESSION_CLOSE_TIMEOUT_MS) })
    } catch (err) {
      this.stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }
}

async function runTeardown(sub: Subscription, log: Logger): Promise<void> {
  const teardown = sub.teardown
  sub.teardown = undefined
  try {
    await teardown?.()
  } catch (err) {
    log.error('subscription teardown failed - %e', err)
  }
}
