/**
 * Why a relay reservation failed, in words an operator acts on. libp2p reports a refusal as
 * `reservation failed with status <STATUS>` (the relay's answer), wrapped in the transport
 * manager's listen error.
 */
const STATUS_WORDS: Record<string, string> = {
  PERMISSION_DENIED:
    "the relay refused: this node's key is not in the relay's trust policy (relay.service.allow: trusted on the relay)",
  RESERVATION_REFUSED: 'the relay is full (its relay.service.maxReservations is reached)',
  RESOURCE_LIMIT_EXCEEDED: 'the relay is out of resources',
}

export function describeReservationError(err: Error): string {
  const text = err.message
  const status = /reservation failed with status (\w+)/.exec(text)?.[1]
  if (status !== undefined) return STATUS_WORDS[status] ?? `the relay refused (${status})`
  if (/UnsupportedProtocol|protocol selection failed|could not negotiate/i.test(text))
    return 'the peer does not offer the relay service'
  if (/previously invalid/.test(text))
    return 'libp2p gave up on this relay after a failed dial (restart the node to try it again)'
  // The transport manager's message lists each address; keep the reason, not the preamble.
  const reason =
    text
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
      .at(-1) ?? text
  return reason
}
