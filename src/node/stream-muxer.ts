import { yamux } from '@chainsafe/libp2p-yamux'
import { coalescingMuxers } from './frame-coalescing.js'

/**
 * Streams a peer may open on a new connection before this side has finished upgrading it.
 *
 * Why not yamux's default of 10: such "early" streams are buffered until the listener's upgrade
 * attaches its stream handler, and past the limit yamux aborts the whole connection — every RPC
 * session and call on it. identify alone takes one; a node that opens its RPC sessions, DHT
 * queries and gossip streams right after dialling a busy listener crosses ten, and a burst of
 * calls then fails instead of queueing. 64 still bounds what a hostile dialer can make us buffer
 * (a stream object each; their data stays within yamux's per-stream window).
 */
export const MAX_EARLY_STREAMS = 64

/**
 * The stream muxer of every Horus host (nodes, CLI and SDK clients): yamux whose frames of one
 * event-loop turn reach the connection, and noise, as one write (`frame-coalescing.ts`).
 */
export function horusYamux(): ReturnType<typeof yamux> {
  const factory = yamux({ maxEarlyStreams: MAX_EARLY_STREAMS })
  return () => coalescingMuxers(factory())
}
