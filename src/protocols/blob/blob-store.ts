/**
 * A content-addressed store of blobs on disk: each blob is a file named by the SHA-256 of its
 * bytes. Bytes go in as a stream (hashed and size-checked as they arrive, never held whole in
 * memory) and come out as a stream; a partly fetched blob is kept under `partial/` so a fetch can
 * resume where it stopped, and only bytes that hash to the expected digest ever become a blob.
 *
 * Lifetimes: a *hold* names who needs which blobs (`run:<id>` on a coordinator, `job:<id>` until a
 * time on a runner). `gc()` deletes blobs nobody holds any more, except ones written in the last
 * `graceMs` (a blob is written just before its holder records it).
 *
 * Layout under `dir`: `sha256/<2 hex>/<digest>`, `partial/<digest>`, `tmp/<unique>`,
 * `holds/<holder>.json`.
 */
import { createHash, type Hash, randomUUID } from 'node:crypto'
import { createReadStream } from 'node:fs'
import {
  type FileHandle,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises'
import { join } from 'node:path'
import { BLOB_CHUNK_BYTES, DEFAULT_MAX_BLOB_BYTES } from './constants.js'
import { BlobDigestMismatchError, BlobNotFoundError, BlobTooLargeError } from './errors.js'
import { isDigest } from './ref.js'

export interface BlobStoreInit {
  readonly dir: string
  /** @default DEFAULT_MAX_BLOB_BYTES (1 GiB) */
  readonly maxBytes?: number
  /** Blobs younger than this are kept by `gc` even if unheld. @default 600_000 */
  readonly graceMs?: number
}

export interface StoredBlob {
  readonly digest: string
  readonly size: number
}

interface HoldFile {
  readonly digests: readonly string[]
  readonly until?: number
}

/** Appends to a partly fetched blob; `finish` verifies the whole and moves it into the store. */
export interface PartialWriter {
  /** Bytes already held (the offset to ask the next bytes from). */
  readonly offset: number
  write(chunk: Uint8Array): Promise<void>
  /** Verifies size and digest; on mismatch the partial file is deleted. */
  finish(expectedSize: number): Promise<StoredBlob>
  /** Keeps what was received for a later resume. */
  close(): Promise<void>
}

export class BlobStore {
  readonly dir: string
  readonly maxBytes: number
  readonly #graceMs: number

  constructor(init: BlobStoreInit) {
    this.dir = init.dir
    this.maxBytes = init.maxBytes ?? DEFAULT_MAX_BLOB_BYTES
    this.#graceMs = init.graceMs ?? 600_000
  }

  async start(): Promise<void> {
    for (const sub of ['sha256', 'partial', 'holds']) await mkdir(join(this.dir, sub), { recursive: true })
    // Local writes that a crash interrupted are worthless (their source is gone): start clean.
    await rm(join(this.dir, 'tmp'), { recursive: true, force: true })
    await mkdir(join(this.dir, 'tmp'), { recursive: true })
  }

  path(digest: string): string {
    assertDigest(digest)
    return join(this.dir, 'sha256', digest.slice(0, 2), digest)
  }

  /** The blob's size, or undefined when it is not here. */
  async size(digest: string): Promise<number | undefined> {
    try {
      return (await stat(this.path(digest))).size
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
  }

  async has(digest: string): Promise<boolean> {
    return (await this.size(digest)) !== undefined
  }

  /** Stores a stream of bytes; with `expected`, refuses bytes that do not hash to it. */
  async put(
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    options: { expected?: string; signal?: AbortSignal } = {},
  ): Promise<StoredBlob> {
    return this.#writeTemp(async (append) => {
      for await (const chunk of source) {
        options.signal?.throwIfAborted()
        await append(chunk)
      }
    }, options.expected)
  }

  /**
   * Stores text as UTF-8 (a value's canonical JSON): encoded and hashed a slice at a time, so the
   * text is never copied whole into a second buffer.
   */
  async putText(text: string, expected?: string): Promise<StoredBlob> {
    return this.#writeTemp(async (append) => {
      // Slices end on whole UTF-16 code units; a surrogate pair is never split.
      for (let i = 0; i < text.length; ) {
        let end = Math.min(text.length, i + BLOB_CHUNK_BYTES / 4)
        const last = text.charCodeAt(end - 1)
        if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--
        await append(Buffer.from(text.slice(i, end), 'utf8'))
        i = end
      }
    }, expected)
  }

  /** The blob's bytes from `offset` (up to `length` of them), in chunks of at most `BLOB_CHUNK_BYTES`. */
  read(digest: string, offset = 0, length?: number): AsyncIterable<Uint8Array> {
    return createReadStream(this.path(digest), {
      start: offset,
      ...(length === undefined ? {} : { end: offset + length - 1 }),
      highWaterMark: BLOB_CHUNK_BYTES,
    })
  }

  /** The whole blob as UTF-8 text (to parse a value); refuses blobs over `maxBytes`. */
  async readText(digest: string, maxBytes = this.maxBytes): Promise<string> {
    const size = await this.size(digest)
    if (size === undefined) throw BlobNotFoundError.of(digest)
    if (size > maxBytes) throw BlobTooLargeError.of(size, maxBytes)
    return readFile(this.path(digest), 'utf8')
  }

  async delete(digest: string): Promise<void> {
    await rm(this.path(digest), { force: true })
  }

  /** Opens the partial file of a blob being fetched, hashing what it already holds. */
  async partial(digest: string): Promise<PartialWriter> {
    assertDigest(digest)
    const file = join(this.dir, 'partial', digest)
    const hash = createHash('sha256')
    let offset = 0
    try {
      for await (const chunk of createReadStream(file, { highWaterMark: BLOB_CHUNK_BYTES })) {
        hash.update(chunk as Buffer)
        offset += (chunk as Buffer).byteLength
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    const handle = await open(file, 'a')
    let size = offset
    return {
      offset,
      write: async (chunk) => {
        size += chunk.byteLength
        if (size > this.maxBytes) throw BlobTooLargeError.of(size, this.maxBytes)
        hash.update(chunk)
        await writeAll(handle, chunk)
      },
      finish: async (expectedSize) => {
        await handle.close()
        const got = hash.digest('hex')
        if (size !== expectedSize || got !== digest) {
          await rm(file, { force: true })
          throw new BlobDigestMismatchError(
            size !== expectedSize
              ? `blob ${digest}: received ${size} bytes, ${expectedSize} were announced`
              : `blob ${digest}: the bytes received hash to ${got}`,
          )
        }
        await this.#install(file, digest)
        return { digest, size }
      },
      close: () => handle.close(),
    }
  }

  /** Records that `holder` needs these blobs (until `until`, ms since the epoch, when given). */
  async hold(holder: string, digests: readonly string[], until?: number): Promise<void> {
    const file = this.#holdFile(holder)
    let known: string[] = []
    try {
      known = (JSON.parse(await readFile(file, 'utf8')) as HoldFile).digests.filter(isDigest)
    } catch {
      // No hold yet (or an unreadable one, replaced).
    }
    const record: HoldFile = { digests: [...new Set([...known, ...digests.filter(isDigest)])] }
    await atomicWrite(
      join(this.dir, 'tmp'),
      file,
      JSON.stringify(until === undefined ? record : { ...record, until }),
    )
  }

  async release(holder: string): Promise<void> {
    await rm(this.#holdFile(holder), { force: true })
  }

  /** Deletes blobs no live hold names (and partial files as old as the grace period). */
  async gc(now = Date.now()): Promise<{ deleted: number; bytes: number }> {
    const live = new Set<string>()
    for (const name of await readdir(join(this.dir, 'holds'))) {
      const file = join(this.dir, 'holds', name)
      let record: HoldFile | undefined
      try {
        record = JSON.parse(await readFile(file, 'utf8')) as HoldFile
      } catch {
        record = undefined
      }
      if (record === undefined || (record.until !== undefined && record.until <= now)) {
        await rm(file, { force: true })
        continue
      }
      for (const digest of record.digests) live.add(digest)
    }
    let deleted = 0
    let bytes = 0
    const remove = async (file: string, digest: string | undefined): Promise<void> => {
      if (digest !== undefined && live.has(digest)) return
      const info = await stat(file).catch(() => undefined)
      if (info === undefined || now - info.mtimeMs < this.#graceMs) return
      await rm(file, { force: true })
      deleted++
      bytes += info.size
    }
    for (const prefix of await readdir(join(this.dir, 'sha256'))) {
      for (const digest of await readdir(join(this.dir, 'sha256', prefix)))
        await remove(join(this.dir, 'sha256', prefix, digest), digest)
    }
    for (const digest of await readdir(join(this.dir, 'partial')))
      await remove(join(this.dir, 'partial', digest), undefined)
    return { deleted, bytes }
  }

  async #writeTemp(
    fill: (append: (chunk: Uint8Array) => Promise<void>) => Promise<void>,
    expected: string | undefined,
  ): Promise<StoredBlob> {
    if (expected !== undefined) assertDigest(expected)
    const file = join(this.dir, 'tmp', randomUUID())
    const handle = await open(file, 'wx')
    const hash: Hash = createHash('sha256')
    let size = 0
    try {
      await fill(async (chunk) => {
        size += chunk.byteLength
        if (size > this.maxBytes) throw BlobTooLargeError.of(size, this.maxBytes)
        hash.update(chunk)
        await writeAll(handle, chunk)
      })
      await handle.close()
    } catch (err) {
      await handle.close().catch(() => {})
      await rm(file, { force: true })
      throw err
    }
    const digest = hash.digest('hex')
    if (expected !== undefined && digest !== expected) {
      await rm(file, { force: true })
      throw new BlobDigestMismatchError(`expected blob ${expected}, the bytes hash to ${digest}`)
    }
    await this.#install(file, digest)
    return { digest, size }
  }

  async #install(file: string, digest: string): Promise<void> {
    const target = this.path(digest)
    await mkdir(join(this.dir, 'sha256', digest.slice(0, 2)), { recursive: true })
    // Same digest, same bytes: replacing an existing copy is harmless.
    await rename(file, target)
  }

  #holdFile(holder: string): string {
    if (holder.length === 0 || holder.length > 200)
      throw new RangeError(`blob holder name must be 1-200 characters, got ${holder.length}`)
    return join(this.dir, 'holds', `${encodeURIComponent(holder)}.json`)
  }
}

function assertDigest(digest: string): void {
  if (!isDigest(digest))
    throw new RangeError(`invalid blob digest ${JSON.stringify(String(digest).slice(0, 80))}`)
}

async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  let written = 0
  while (written < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, written)
    written += bytesWritten
  }
}

async function atomicWrite(tmpDir: string, file: string, text: string): Promise<void> {
  const tmp = join(tmpDir, randomUUID())
  await writeFile(tmp, text)
  await rename(tmp, file)
}
