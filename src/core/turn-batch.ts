/**
 * Items produced during one event-loop turn, handed on together: a stream that would send one
 * frame per item sends one per turn instead. Each hand-over is bounded in count and in (JSON)
 * size, so a batch never outgrows the frame its receiver accepts; an item larger than the size
 * bound goes alone. A `sizeOf` may overestimate, never underestimate: the bound is on bytes.
 */
export interface TurnBatchInit<T> {
  /** Receives each batch, in order. */
  send(items: T[]): void
  /** @default 256 */
  maxItems?: number
  /** Bound on the summed `sizeOf` of a batch. @default 512 KiB */
  maxBytes?: number
  /** @default the UTF-8 length of the item's JSON (`jsonSize`) */
  sizeOf?: (item: T) => number
}

export class TurnBatch<T> {
  private items: T[] = []
  private bytes = 0
  private immediate: NodeJS.Immediate | undefined
  private readonly init: Required<TurnBatchInit<T>>

  constructor(init: TurnBatchInit<T>) {
    this.init = {
      maxItems: 256,
      maxBytes: 512 * 1024,
      sizeOf: jsonSize,
      ...init,
    }
  }

  push(item: T): void {
    const size = this.init.sizeOf(item)
    if (this.items.length > 0 && this.bytes + size > this.init.maxBytes) this.flush()
    this.items.push(item)
    this.bytes += size
    if (this.items.length >= this.init.maxItems) this.flush()
    else this.immediate ??= setImmediate(() => this.flush())
  }

  /** Hands over what is queued now. */
  flush(): void {
    if (this.immediate !== undefined) clearImmediate(this.immediate)
    this.immediate = undefined
    if (this.items.length === 0) return
    const items = this.items
    this.items = []
    this.bytes = 0
    this.init.send(items)
  }

  /** Drops what is queued (the receiver went away). */
  clear(): void {
    if (this.immediate !== undefined) clearImmediate(this.immediate)
    this.immediate = undefined
    this.items = []
    this.bytes = 0
  }
}

/** The UTF-8 length of `value`'s JSON (0 for what JSON leaves out). */
export function jsonSize(value: unknown): number {
  const json = JSON.stringify(value)
  return json === undefined ? 0 : Buffer.byteLength(json)
}

/**
 * The UTF-8 length of `value`'s JSON, given a way to size member `key` without serialising it (a
 * signed result whose size its verifier learnt): only the other members are serialised.
 */
export function jsonSizeWith<T extends object, K extends keyof T & string>(
  value: T,
  key: K,
  sizeOfMember: (member: NonNullable<T[K]>) => number,
): number {
  const { [key]: member, ...rest } = value
  const others = jsonSize(rest)
  if (member === undefined) return others
  const size = member === null ? 4 : sizeOfMember(member as NonNullable<T[K]>)
  return others + memberJsonSize(key, size, others)
}

/**
 * The UTF-8 bytes member `key`, whose value's JSON is `valueBytes` long, adds to an object whose
 * other members' JSON is `restBytes` long: the key, a colon, the value and, unless the member is
 * alone (`{}` is the only 2-byte object), a comma.
 */
export function memberJsonSize(key: string, valueBytes: number, restBytes: number): number {
  return jsonSize(key) + 1 + valueBytes + (restBytes === 2 ? 0 : 1)
}
