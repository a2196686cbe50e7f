/**
 * RFC 8785 (JSON Canonicalization Scheme) through the `canonicalize` package: sorted keys by UTF-16
 * code units, ECMAScript number formatting, minimal string escaping — or, for a value whose members
 * are already in that order, JSON.stringify, which then writes the same bytes. Every signed byte in
 * Horus comes from here.
 */
import canonicalize from 'canonicalize'
import { memberJsonSize } from '../../core/turn-batch.js'
import { NotCanonicalJsonError } from './errors.js'

const encoder = new TextEncoder()

declare global {
  interface String {
    /** ES2024, in V8 since 11.1 (Node 20): false when the string holds a lone surrogate. */
    isWellFormed(): boolean
  }
}

/** Deeper than this, `canonicalize` decides (and finds a cycle, if that is why). */
const MAX_ORDERED_DEPTH = 64

export function canonicalJson(value: unknown): string {
  // Most values signed or verified here are already in canonical order: what JSON.parse makes of a
  // canonical text, and what createJob and createResult build. JSON.stringify writes those as
  // canonicalize would, several times faster. The check reads each member once and JSON.stringify
  // again: plain data only (a getter or Proxy that answers differently the second time could make
  // the text unsorted — bytes a caller signs that its peers refuse, never bytes they accept wrongly,
  // since every verifier works on what JSON.parse made).
  if (inCanonicalOrder(value, 0)) return JSON.stringify(value)
  let text: string | undefined
  try {
    text = canonicalize(value)
  } catch (err) {
    throw new NotCanonicalJsonError(`value has no canonical JSON form: ${(err as Error).message}`, {
      cause: err,
    })
  }
  if (text === undefined) throw new NotCanonicalJsonError(`value has no JSON form: ${typeof value}`)
  return text
}

/**
 * Whether `JSON.stringify(value)` is exactly `canonicalize(value)`: plain JSON data only (null,
 * booleans, finite numbers, well-formed strings, arrays, objects of Object's prototype or none),
 * every object's own keys already in ascending UTF-16 order — the order canonicalize sorts them
 * into — and no key or string with a lone surrogate. canonicalize writes every primitive with
 * JSON.stringify, so on such a tree the two agree byte for byte; anything else (an unsorted or
 * integer-like key order, `undefined`, a function, a Date, NaN) is canonicalize's to write or refuse.
 */
function inCanonicalOrder(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
      return value.isWellFormed()
    case 'number':
      return Number.isFinite(value)
    case 'boolean':
      return true
    case 'object':
      break
    default:
      return false
  }
  if (value === null) return true
  // Both serialisers would call a toJSON (an own member or a polluted prototype's): canonicalize's to do.
  if (depth >= MAX_ORDERED_DEPTH || typeof (value as { toJSON?: unknown }).toJSON === 'function') return false
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!inCanonicalOrder(value[i], depth + 1)) return false
    return true
  }
  const prototype = Object.getPrototypeOf(value)
  if (prototype !== Object.prototype && prototype !== null) return false
  const record = value as Record<string, unknown>
  const keys = Object.keys(record)
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string
    if (i > 0 && !((keys[i - 1] as string) < key)) return false
    if (!key.isWellFormed() || !inCanonicalOrder(record[key], depth + 1)) return false
  }
  return true
}

export function canonicalBytes(value: unknown): Uint8Array {
  return encoder.encode(canonicalJson(value))
}

export function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8')
}

export function utf8(text: string): Uint8Array {
  return encoder.encode(text)
}

/**
 * The UTF-8 bytes of a document about to be signed or verified, then dropped: Buffer's encoder
 * costs ~0.7 µs where TextEncoder costs ~3 µs for the sub-kilobyte documents every job and result
 * has several of. Short ones share Buffer's pool, so this is not for bytes anyone keeps.
 */
export function signedDocumentBytes(text: string): Uint8Array {
  return Buffer.from(text, 'utf8')
}

/**
 * The UTF-8 length of an object's JSON given the canonical JSON `rest` of its members other than
 * `name`, and `name`'s value (left out when JSON leaves it out). For a parsed object, whose
 * members JSON writes back as they were, this is exactly the length of its JSON.
 */
export function lengthWithMember(rest: string, name: string, value: unknown): number {
  const restBytes = utf8Length(rest)
  const json = value === undefined ? undefined : JSON.stringify(value)
  return json === undefined ? restBytes : restBytes + memberJsonSize(name, utf8Length(json), restBytes)
}

/** An object that is not an array or bytes: what may be a JSON object. */
export function isObjectRecord(input: unknown): input is Record<string, unknown> {
  return (
    typeof input === 'object' && input !== null && !Array.isArray(input) && !(input instanceof Uint8Array)
  )
}
