/**
 * RFC 8785 (JSON Canonicalization Scheme) through the `canonicalize` package: sorted keys by UTF-16
 * code units, ECMAScript number formatting, minimal string escaping. Every signed byte in Horus
 * comes from here.
 */
import canonicalize from 'canonicalize'
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
