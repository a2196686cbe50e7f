/**
 * Why a node could not be reached, in words that say what to do. The case users hit most: the
 * node runs a private mesh (a pnet swarm key) and the client has no key, or another one. The TCP
 * connection then opens, but the handshake fails — libp2p reports an encryption failure, a framing
 * error ("Message length too long") or just a timeout, none of which mentions swarm keys.
 */

/** Errors in a failed dial's chain that mean "the connection opened but the handshake failed". */
const HANDSHAKE_FAILURE = /EncryptionFailedError|InvalidCryptoExchangeError|UnexpectedPeerError/
const HANDSHAKE_MESSAGE = /Message length( length)? too long|unexpected end of input/

/** One line: why the dial failed, with advice when the cause is probably a swarm-key mismatch. */
export function explainDialFailure(err: unknown, withSwarmKey: boolean): string {
  const chain = causes(err)
  // A node in a private mesh resets a connection whose first bytes are not encrypted with its key.
  const handshake = chain.some(
    (e) =>
      HANDSHAKE_FAILURE.test(e.name) ||
      HANDSHAKE_MESSAGE.test(e.message) ||
      (withSwarmKey && (e as { code?: unknown }).code === 'ECONNRESET'),
  )
  if (handshake) {
    return withSwarmKey
      ? 'the connection opened but the handshake failed: the node is probably not in this private mesh ' +
          '(it has no swarm key, or another one)'
      : 'the connection opened but the handshake failed: the node is probably a private mesh; give its ' +
          'swarm key (horus --swarm-key FILE or HORUS_SWARM_KEY; SDK option swarmKey)'
  }
  // A node in a private mesh answers a key-less client with random bytes that libp2p may wait on
  // until the dial times out: a timeout is the usual sign, though not a certain one.
  if (chain.some((e) => e.name === 'TimeoutError' || /aborted due to timeout/.test(e.message))) {
    return withSwarmKey
      ? 'no answer in time (if the node is not in this private mesh — no swarm key, or another one — ' +
          'the handshake cannot complete)'
      : 'no answer in time (if the node runs a private mesh, give its swarm key: horus --swarm-key FILE ' +
          'or HORUS_SWARM_KEY; SDK option swarmKey)'
  }
  const first = chain.at(-1) ?? chain[0]
  return first === undefined ? String(err) : (first.message.split('\n')[0] ?? first.name)
}

/** The error, its causes and (for AggregateError) the errors it groups, outermost first. */
function causes(err: unknown, depth = 0): Error[] {
  if (!(err instanceof Error) || depth > 6) return []
  const nested = err instanceof AggregateError ? err.errors.flatMap((e) => causes(e, depth + 1)) : []
  return [err, ...nested, ...causes(err.cause, depth + 1)]
}
