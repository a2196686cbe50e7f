/**
 * Osiris models over the node's datastore: records are JSON objects under
 * `/osiris/<model>/<id>`, so they survive restarts with the datastore. Generated ids start with the
 * creation time (base 36, fixed width), so `list()` returns records in creation order.
 *
 * Sizes are bounded because every answer becomes a host-call reply serialised on the node's main
 * thread: a record's JSON is at most `maxRecordBytes`, one answer at most `maxResultBytes` (read
 * record by record and abandoned past the cap, never loaded whole), and all osiris data of the node
 * at most `quotaBytes` (keys and values; measured once, then kept up to date by every write).
 */

import { randomBytes } from 'node:crypto'
import { isDeepStrictEqual } from 'node:util'
import { type Datastore, Key } from 'interface-datastore'
import {
  DEFAULT_OSIRIS_MAX_RECORD_BYTES,
  DEFAULT_OSIRIS_MAX_RESULT_BYTES,
  DEFAULT_OSIRIS_QUOTA_BYTES,
} from './constants.js'
import {
  OsirisArgumentError,
  OsirisConflictError,
  OsirisNotFoundError,
  OsirisQuotaExceededError,
  OsirisRecordTooLargeError,
  OsirisResultTooLargeError,
} from './errors.js'

export type OsirisRecord = { id: string } & Record<string, unknown>

export interface ListOptions {
  /** @default 1_000 (at most 10_000) */
  limit?: number
  offset?: number
}

export interface OsirisLimits {
  /** JSON of one record. @default DEFAULT_OSIRIS_MAX_RECORD_BYTES (1 MiB) */
  maxRecordBytes?: number
  /** Records one `get`/`list`/`query` returns, in stored bytes. @default DEFAULT_OSIRIS_MAX_RESULT_BYTES (8 MiB) */
  maxResultBytes?: number
  /** All osiris keys and values of the node. @default DEFAULT_OSIRIS_QUOTA_BYTES (256 MiB) */
  quotaBytes?: number
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/
const ID = /^[A-Za-z0-9_-]{1,128}$/
const DEFAULT_LIMIT = 1_000
const MAX_LIMIT = 10_000

export class OsirisStore {
  private readonly datastore: Datastore
  private readonly maxRecordBytes: number
  private readonly maxResultBytes: number
  private readonly quotaBytes: number
  /** Serialises writes per record, so two jobs cannot both create the same explicit id. */
  private readonly locks = new Map<string, Promise<unknown>>()
  /** Bytes of osiris keys and values in the datastore, once measured. */
  private usage: Promise<{ bytes: number }> | undefined

  constructor(datastore: Datastore, limits: OsirisLimits = {}) {
    this.datastore = datastore
    this.maxRecordBytes = limits.maxRecordBytes ?? DEFAULT_OSIRIS_MAX_RECORD_BYTES
    this.maxResultBytes = limits.maxResultBytes ?? DEFAULT_OSIRIS_MAX_RESULT_BYTES
    this.quotaBytes = limits.quotaBytes ?? DEFAULT_OSIRIS_QUOTA_BYTES
  }

  /** Bytes the node's osiris data takes now (keys and values). */
  async usedBytes(): Promise<number> {
    return (await this.measured()).bytes
  }

  async create(model: string, value: unknown): Promise<OsirisRecord> {
    const fields = plainObject(value, 'create(record)')
    const id = fields.id === undefined ? newId() : checkId(fields.id)
    const record: OsirisRecord = { ...fields, id }
    const bytes = this.encodeRecord(model, record)
    const key = recordKey(model, id)
    return this.locked(model, id, async () => {
      if (await this.datastore.has(key)) throw new OsirisConflictError(model, id)
      await this.write(key, bytes, 0)
      return record
    })
  }

  async get(model: string, id: unknown): Promise<OsirisRecord | null> {
    const key = recordKey(model, checkId(id))
    const bytes = await this.read(key)
    if (bytes === undefined) return null
    if (bytes.byteLength > this.maxResultBytes) {
      throw new OsirisResultTooLargeError(model, 'get', bytes.byteLength, this.maxResultBytes, 1)
    }
    return decode(bytes)
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
      const key = recordKey(model, checked)
      const stored = await this.read(key)
      if (stored === undefined) throw new OsirisNotFoundError(model, checked)
      const record: OsirisRecord = { ...decode(stored), ...changes, id: checked }
      await this.write(key, this.encodeRecord(model, record), stored.byteLength)
      return record
    })
  }

  async delete(model: string, id: unknown): Promise<boolean> {
    const checked = checkId(id)
    return this.locked(model, checked, async () => {
      const key = recordKey(model, checked)
      const stored = await this.read(key)
      if (stored === undefined) return false
      const usage = await this.measured()
      await this.datastore.delete(key)
      usage.bytes -= entryBytes(key, stored.byteLength)
      return true
    })
  }

  async list(model: string, options?: unknown): Promise<OsirisRecord[]> {
    return this.scan(model, 'list', () => true, listOptions(options))
  }

  /** Records whose fields equal every entry of `filter`; keys may be dotted paths (`address.city`). */
  async query(model: string, filter: unknown, options?: unknown): Promise<OsirisRecord[]> {
    const wanted = Object.entries(plainObject(filter, 'query(filter)'))
    const matches = (record: OsirisRecord): boolean =>
      wanted.every(([path, value]) => isDeepStrictEqual(lookup(record, path), value))
    return this.scan(model, 'query', matches, listOptions(options))
  }

  /**
   * Records in key order (LevelDB iterates in key order, and keys are ASCII, so no sort — a sort
   * would load the whole model first), stopping as soon as the answer would pass `maxResultBytes`.
   */
  private async scan(
    model: string,
    operation: string,
    keep: (record: OsirisRecord) => boolean,
    { limit, offset }: { limit: number; offset: number },
  ): Promise<OsirisRecord[]> {
    const prefix = `${modelKey(model).toString()}/`
    const out: OsirisRecord[] = []
    let skipped = 0
    let bytes = 0
    for await (const { value } of this.datastore.query({ prefix })) {
      const record = decode(value)
      if (!keep(record)) continue
      if (skipped++ < offset) continue
      bytes += value.byteLength
      if (bytes > this.maxResultBytes) {
        throw new OsirisResultTooLargeError(model, operation, bytes, this.maxResultBytes, out.length + 1)
      }
      out.push(record)
      if (out.length >= limit) break
    }
    return out
  }

  private encodeRecord(model: string, record: OsirisRecord): Uint8Array {
    const bytes = encode(record)
    if (bytes.byteLength > this.maxRecordBytes) {
      throw new OsirisRecordTooLargeError(model, bytes.byteLength, this.maxRecordBytes)
    }
    return bytes
  }

  private async read(key: Key): Promise<Uint8Array | undefined> {
    try {
      return await this.datastore.get(key)
    } catch (err) {
      if ((err as { name?: string }).name === 'NotFoundError') return undefined
      throw err
    }
  }

  /** Puts `bytes` in place of `previousBytes` (0: a new key) within the quota. */
  private async write(key: Key, bytes: Uint8Array, previousBytes: number): Promise<void> {
    const usage = await this.measured()
    const before = previousBytes === 0 ? 0 : entryBytes(key, previousBytes)
    const growth = entryBytes(key, bytes.byteLength) - before
    // Reserved before the put (and given back if it fails), so concurrent writes cannot overshoot.
    if (growth > 0 && usage.bytes + growth > this.quotaBytes) {
      throw new OsirisQuotaExceededError(usage.bytes, growth, this.quotaBytes)
    }
    usage.bytes += growth
    try {
      await this.datastore.put(key, bytes)
    } catch (err) {
      usage.bytes -= growth
      throw err
    }
  }

  private measured(): Promise<{ bytes: number }> {
    this.usage ??= (async () => {
      let bytes = 0
      for await (const { key, value } of this.datastore.query({ prefix: '/osiris/' })) {
        bytes += entryBytes(key, value.byteLength)
      }
      return { bytes }
    })()
    // A failed measurement is retried by the next write rather than remembered.
    this.usage.catch(() => {
      this.usage = undefined
    })
    return this.usage
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

function entryBytes(key: Key, valueBytes: number): number {
  return Buffer.byteLength(key.toString()) + valueBytes
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
