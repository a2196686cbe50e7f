/**
 * Values cross the sandbox boundary only as JSON text, parsed on the other side: no host object,
 * prototype or function ever becomes reachable from a script. `JSON.parse`/`JSON.stringify` are
 * captured from the fresh context before any script runs, so a script that replaces the globals
 * cannot change how its inputs are built or how its output is read.
 */

import type { QuickJSContext, QuickJSHandle } from 'quickjs-emscripten'

/** An exception raised inside the VM while the host was converting a value; `thrown` is its plain copy. */
export class VmException extends Error {
  readonly thrown: unknown

  constructor(thrown: unknown) {
    const { name, message } = (thrown ?? {}) as { name?: unknown; message?: unknown }
    super(typeof message === 'string' ? message : 'the value could not be converted')
    this.name = typeof name === 'string' ? name : 'VmException'
    this.thrown = thrown
  }
}

/** The result's JSON is larger than allowed; `size` is at least its UTF-8 byte length. */
export class OversizeJson extends Error {
  readonly size: number

  constructor(size: number) {
    super(`JSON text of ${size} bytes is over the limit`)
    this.size = size
  }
}

export class JsonBridge {
  private readonly ctx: QuickJSContext
  private readonly parse: QuickJSHandle
  private readonly stringify: QuickJSHandle

  constructor(ctx: QuickJSContext) {
    this.ctx = ctx
    const json = ctx.getProp(ctx.global, 'JSON')
    this.parse = ctx.getProp(json, 'parse')
    this.stringify = ctx.getProp(json, 'stringify')
    json.dispose()
  }

  /** A new VM value parsed from JSON text (`undefined` text gives VM `undefined`). */
  fromJson(text: string | undefined): QuickJSHandle {
    if (text === undefined) return this.ctx.undefined
    const source = this.ctx.newString(text)
    try {
      const result = this.ctx.callFunction(this.parse, this.ctx.undefined, source)
      if (result.error === undefined) return result.value
      throw new VmException(result.error.consume((error) => this.ctx.dump(error)))
    } finally {
      source.dispose()
    }
  }

  /**
   * The JSON text of a VM value, or `undefined` when JSON has none (`undefined`, a function).
   * Throws {@link VmException} when `toJSON` or a getter throws or the value is cyclic, and
   * {@link OversizeJson} past `maxBytes` (checked before the text is copied out of the VM).
   */
  toJson(handle: QuickJSHandle, maxBytes: number): string | undefined {
    const result = this.ctx.callFunction(this.stringify, this.ctx.undefined, handle)
    if (result.error !== undefined) {
      throw new VmException(result.error.consume((error) => this.ctx.dump(error)))
    }
    const text = result.value
    try {
      if (this.ctx.typeof(text) !== 'string') return undefined
      const length = this.ctx.getProp(text, 'length').consume((h) => this.ctx.getNumber(h))
      // UTF-8 never takes fewer bytes than UTF-16 code units, so this refuses before copying.
      if (length > maxBytes) throw new OversizeJson(length)
      const json = this.ctx.getString(text)
      const bytes = Buffer.byteLength(json)
      if (bytes > maxBytes) throw new OversizeJson(bytes)
      return json
    } finally {
      text.dispose()
    }
  }

  /** True when `handle` is a Promise: scripts run synchronously, so one could never settle. */
  isPromise(handle: QuickJSHandle): boolean {
    const state = this.ctx.getPromiseState(handle)
    if (state.type === 'fulfilled' && state.notAPromise === true) return false
    if (state.type === 'fulfilled') state.value.dispose()
    if (state.type === 'rejected') state.error.dispose()
    return true
  }

  dispose(): void {
    this.parse.dispose()
    this.stringify.dispose()
  }
}
