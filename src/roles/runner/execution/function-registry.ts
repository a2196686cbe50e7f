/**
 * Functions a runner exposes to scripts by name, beyond the host APIs of their kind — built-in ones
 * plus any an operator, a test or the SDK registers (the seed workflow's `process_data`). Arguments
 * and results cross the sandbox as JSON.
 */

import type { HostFunction, JsonValue } from '../sandbox/index.js'
import { FunctionRegistrationError } from './errors.js'

export type RegisteredFunction = (
  ...args: JsonValue[]
) => JsonValue | undefined | Promise<JsonValue | undefined>

const NAME = /^[A-Za-z_$][A-Za-z0-9_$]*$/

/** Globals scripts already have; a registered function may not shadow them. */
const RESERVED = new Set([
  'input',
  'env',
  'console',
  'os',
  'fs',
  'http',
  'osiris',
  'globalThis',
  'JSON',
  'Object',
])

export class FunctionRegistry {
  private readonly functions = new Map<string, RegisteredFunction>()

  /** Registers `fn` as the global `name` in scripts; returns a function that unregisters it. */
  register(name: string, fn: RegisteredFunction): () => void {
    if (!NAME.test(name)) {
      throw new FunctionRegistrationError(
        `function name: expected a JavaScript identifier, got ${JSON.stringify(name)}`,
      )
    }
    if (RESERVED.has(name))
      throw new FunctionRegistrationError(`function name ${JSON.stringify(name)} is reserved`)
    if (this.functions.has(name)) {
      throw new FunctionRegistrationError(`function ${JSON.stringify(name)} is already registered`)
    }
    this.functions.set(name, fn)
    return () => {
      if (this.functions.get(name) === fn) this.functions.delete(name)
    }
  }

  has(name: string): boolean {
    return this.functions.has(name)
  }

  names(): string[] {
    return [...this.functions.keys()]
  }

  /** The functions as sandbox host functions, keyed by global name. */
  hostFunctions(): Record<string, HostFunction> {
    const out: Record<string, HostFunction> = {}
    for (const [name, fn] of this.functions) out[name] = (args) => fn(...args)
    return out
  }
}
