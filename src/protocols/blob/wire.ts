/**
 * `/horus/blob/1.0.0` on the wire: length-prefixed frames. The fetcher sends a request
 * `{ digest, offset, length }` (JSON); the server answers a header — `{ ok: true, size }` (the
 * whole blob's size) or `{ ok: false, error: { name, message } }` — and, when ok, the bytes from
 * `offset`, at most `length` of them, in data frames of at most 64 KiB. The fetcher asks for the
 * next window on the same stream once it has written the last one to disk, so neither side ever
 * buffers more than one window (the flow control is the request, not the muxer).
 */
import { isPlainObject } from '../state/json-value.js'
import { BLOB_WINDOW_BYTES } from './constants.js'
import { BlobProtocolError } from './errors.js'
import { isDigest } from './ref.js'

export interface BlobRequest {
  readonly digest: string
  readonly offset: number
  /** Bytes wanted from `offset` (the server sends fewer only at the end of the blob). */
  readonly length: number
}

export type BlobHeader =
  | { readonly ok: true; readonly size: number }
  | { readonly ok: false; readonly error: { readonly name: string; readonly message: string } }

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeFrame(value: BlobRequest | BlobHeader): Uint8Array {
  return encoder.encode(JSON.stringify(value))
}

function parse(bytes: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(bytes))
  } catch (err) {
    throw new BlobProtocolError(`${what}: not JSON (${(err as Error).message})`)
  }
  if (!isPlainObject(value)) throw new BlobProtocolError(`${what}: expected an object`)
  return value
}

export function decodeRequest(bytes: Uint8Array): BlobRequest {
  const f = parse(bytes, 'blob request')
  if (!isDigest(f.digest))
    throw new BlobProtocolError('blob request: digest must be 64 lower-case hex digits')
  const offset = f.offset ?? 0
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0)
    throw new BlobProtocolError('blob request: offset must be an integer ≥ 0')
  const length = f.length
  if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 1 || length > BLOB_WINDOW_BYTES)
    throw new BlobProtocolError(`blob request: length must be an integer from 1 to ${BLOB_WINDOW_BYTES}`)
  return { digest: f.digest, offset, length }
}

export function decodeHeader(bytes: Uint8Array): BlobHeader {
  const f = parse(bytes, 'blob header')
  if (f.ok === true) {
    if (typeof f.size !== 'number' || !Number.isSafeInteger(f.size) || f.size < 0)
      throw new BlobProtocolError('blob header: size must be an integer ≥ 0')
    return { ok: true, size: f.size }
  }
  const error = isPlainObject(f.error) ? f.error : {}
  const name = typeof error.name === 'string' ? error.name.slice(0, 64) : 'Error'
  const message = typeof error.message === 'string' ? error.message.slice(0, 1024) : 'refused'
  return { ok: false, error: { name, message } }
}
