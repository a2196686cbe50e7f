/**
 * The presence budget. Every node heartbeats, and every heartbeat reaches every node, so at a fixed
 * interval each node would receive (and verify) N heartbeats per interval: cost per node growing as
 * N. Instead each node spaces its heartbeats by the size of the mesh it sees, so the mesh as a
 * whole sends about `budgetPerSecond` heartbeats a second whatever its size, and each node receives
 * that many: flat in N. The price is slower loss detection in a large mesh (missed × interval);
 * coordinator takeover never waits longer than the owner's lease (see the state README). Each
 * heartbeat announces the interval until the next, so receivers always judge a peer by the
 * interval it is actually using.
 */
export interface IntervalInput {
  /** Peers this node hears now. */
  peers: number
  budgetPerSecond: number
  /** The interval of a small mesh. */
  minMs: number
  maxMs: number
}

export function heartbeatInterval(input: IntervalInput): number {
  const wanted = Math.ceil(((input.peers + 1) / input.budgetPerSecond) * 1000)
  return Math.min(input.maxMs, Math.max(input.minMs, wanted))
}
