/**
 * Gossipsub's fast message id: the key of its cache of messages already seen, looked up *before*
 * the signature is verified. Without it every duplicate copy a peer receives (each message arrives
 * about once per mesh peer, ~6 times) costs an Ed25519 verification before gossipsub notices it
 * has seen it — a third of an idle node's main thread at 20 nodes.
 *
 * Under StrictSign the message id is the publisher's key and sequence number, so the fast id is
 * the same pair, read from the raw frame without decoding the key. It cannot be poisoned: gossipsub
 * files a fast id only after the message passed signature verification, so a forged copy carrying
 * a real message's (from, seqno) is verified and rejected when it comes first, and dropped as a
 * duplicate when it comes after.
 */
import type { RPC } from '@libp2p/gossipsub/message'

export function fastMessageId(message: RPC.Message): string {
  const { from, seqno } = message
  // Unsigned: an id no valid message has, so the look-up misses and gossipsub rejects it the slow
  // way (an invalid message is never filed under its fast id).
  if (from === undefined || seqno === undefined) return ''
  return `${Buffer.from(from.buffer, from.byteOffset, from.byteLength).toString('base64')}/${Buffer.from(seqno.buffer, seqno.byteOffset, seqno.byteLength).toString('base64')}`
}
