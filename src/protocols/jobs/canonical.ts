/**
 * RFC 8785 (JSON Canonicalization Scheme) through the `canonicalize` package: sorted keys by UTF-16
 * code units, ECMAScript number formatting, minimal string escaping. Every signed byte in Horus
 * comes from here.
 */
import canonicalize from 'canonicalize'
import { memberJsonSize } from '../../core/turn-batch.js'
import { NotCanonicalJsonError } from './errors.js'

const encoder = new TextEncoder()

export function canonicalJson(value: unknown): string {
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
