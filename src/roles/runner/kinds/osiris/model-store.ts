/**
 * Osiris models over the node's datastore: records are JSON objects under
 * `/osiris/<model>/<id>`, so they survive restarts with the datastore. Generated ids start with the
 * creation time (base 36, fixed width), so `list()` returns records in creation order.
 */

import { randomBytes } from 'node:crypto'
import { isDeepStrictEqual } from 'node:util'
import { type Datastore, Key } from 'interface-datastore'
import { OsirisArgumentError, OsirisConflictError, OsirisNotFoundError } from './errors.js'

export type OsirisRecord = { id: string } & Record<string, unknown>

export interface ListOptions {
  /** @default 1_000 (at most 10_000) */
  limit?: number
  offset?: number
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/
const ID = /^[A-Za-z0-9_-]{1,128}$/
const DEFAULT_LIMIT = 1_000
const MAX_LIMIT = 10_000

export class OsirisStore {
  private readonly datastore: Datastore
  /** Serialises writes per record, so two jobs cannot both create the same explicit id. */
  private readonly locks = new Map<string, Promise<unknown>>()

  constructor(datastore: Datastore) {
    this.datastore = datastore
  }

  async create(model: string, value: unknown): Promise<OsirisRecord> {
    const fields = plainObject(value, 'create(record)')
    const id = fields.id === undefined ? newId() : checkId(fields.id)
    return this.locked(model, id, async () => {
      const key = recordKey(model, id)
      if (await this.datastore.has(key)) throw new OsirisConflictError(model, id)
      const record: OsirisRecord = { ...fields, id }
      await this.datastore.put(key, encode(record))
      return record
    })
  }

  async get(model: string, id: unknown): Promise<OsirisRecord | null> {
    const key = recordKey(model, checkId(id))
    try {
      return decode(await this.datastore.get(key))
    } catch (err) {
      if ((err as { name?: string }).name === 'NotFoundError') return null
      throw err
    }
  }

  async update(model: string, id: unknown, patch: unknown): Promise<OsirisRecord> {
    const checked = checkId(id)
    const changes = plainObject(patch, 'update(id, patch)')
    if (changes.id !== undefined && changes.id !== checked) {
      throw new OsirisArgumentError(
        `update(id, patch): patch.id cannot change the id (${JSON.stringify(changes.id)})`,
      )
    }
    return this.locked(model, checked, async () => {
      const current = await this.get(model, checked)
      if (current === null) throw new OsirisNotFoundError(model, checked)
      const record: OsirisRecord = { ...current, ...changes, id: checked }
      await this.datastore.put(recordKey(model, checked), encode(record))
      return record
    })
  }

  async delete(model: string, id: unknown): Promise<boolean> {
    const checked = checkId(id)
    return this.locked(model, checked, async () => {
      const key = recordKey(model, checked)
      if (!(await this.datastore.has(key))) return false
      await this.datastore.delete(key)
      return true
    })
  }

  async list(model: string, options?: unknown): Promise<OsirisRecord[]> {
    return this.scan(model, () => true, listOptions(options))
  }

  /** Records whose fields equal every entry of `filter`; keys may be dotted paths (`address.city`). */
  async query(model: string, filter: unknown, options?: unknown): Promise<OsirisRecord[]> {
    const wanted = Object.entries(plainObject(filter, 'query(filter)'))
    const matches = (record: OsirisRecord): boolean =>
      wanted.every(([path, value]) => isDeepStrictEqual(lookup(record, path), value))
    return this.scan(model, matches, listOptions(options))
  }

  private async scan(
    model: string,
    keep: (record: OsirisRecord) => boolean,
    { limit, offset }: { limit: number; offset: number },
  ): Promise<OsirisRecord[]> {
    const prefix = `${modelKey(model).toString()}/`
    const out: OsirisRecord[] = []
    let skipped = 0
    for await (const { value } of this.datastore.query({ prefix, orders: [byKey] })) {
      const record = decode(value)
      if (!keep(record)) continue
      if (skipped++ < offset) continue
      out.push(record)
      if (out.length >= limit) break
    }
    return out
  }

  private async locked<T>(model: string, id: string, fn: () => Promise<T>): Promise<T> {
    const name = `${model}/${id}`
    const previous = this.locks.get(name) ?? Promise.resolve()
    const next = previous.catch(() => undefined).then(fn)
    this.locks.set(name, next)
    try {
      return await next
    } finally {
      if (this.locks.get(name) === next) this.locks.delete(name)
    }
  }
}

function byKey(a: { key: Key }, b: { key: Key }): -1 | 0 | 1 {
  const x = a.key.toString()
  const y = b.key.toString()
  return x < y ? -1 : x > y ? 1 : 0
}

function modelKey(model: string): Key {
  if (!NAME.test(model)) {
    throw new OsirisArgumentError(
      `model name: expected 1–64 letters, digits, '_' or '-', got ${JSON.stringify(model)}`,
    )
  }
  return new Key(`/osiris/${model}`)
}

function recordKey(model: string, id: string): Key {
  return modelKey(model).child(new Key(id))
}

function checkId(id: unknown): string {
  if (typeof id !== 'string' || !ID.test(id)) {
    throw new OsirisArgumentError(`id: expected 1–128 letters, digits, '_' or '-', got ${JSON.stringify(id)}`)
  }
  return id
}

function newId(): string {
  return `${Date.now().toString(36).padStart(9, '0')}${randomBytes(6).toString('hex')}`
}

function plainObject(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new OsirisArgumentError(
      `${what}: expected an object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`,
    )
  }
  return value as Record<string, unknown>
}

function listOptions(options: unknown): { limit: number; offset: number } {
  const { limit = DEFAULT_LIMIT, offset = 0 } =
    options === undefined || options === null ? {} : plainObject(options, 'options')
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new OsirisArgumentError(
      `options.limit: expected an integer from 1 to ${MAX_LIMIT}, got ${JSON.stringify(limit)}`,
    )
  }
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) {
    throw new OsirisArgumentError(`options.offset: expected an integer ≥ 0, got ${JSON.stringify(offset)}`)
  }
  return { limit, offset }
}

function lookup(record: Record<string, unknown>, path: string): unknown {
  let value: unknown = record
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined
    value = (value as Record<string, unknown>)[part]
  }
  return value
}

function encode(record: OsirisRecord): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(record))
}

function decode(bytes: Uint8Array): OsirisRecord {
  return JSON.parse(new TextDecoder().decode(bytes)) as OsirisRecord
}
