/**
 * The presence budget. Every node heartbeats, and every heartbeat reaches every node, so at a fixed
 * interval each node would receive N heartbeats per interval (each copy of each one a gossip RPC
 * to decrypt, demux and decode): cost per node growing as N. A mesh of up to `fastMeshNodes`
 * heartbeats every `minMs` (loss noticed in seconds). Beyond, each node spaces its heartbeats by
 * the size of the mesh it sees, so the mesh as a whole sends about `budgetPerSecond` heartbeats a
 * second whatever its size, and each node receives that many: flat in N, until the interval
 * reaches `maxMs` (then the mesh-wide rate grows as N / maxMs again). The price is slower loss
 * detection in a large mesh (missed × interval); coordinator takeover never waits longer than the
 * owner's lease (see the state README). Each heartbeat announces the interval until the next, so
 * receivers always judge a peer by the interval it is actually using.
 */
export interface IntervalInput {
  /** Peers this node hears now. */
  peers: number
  budgetPerSecond: number
  /** Meshes of up to this many nodes (this one included) heartbeat every `minMs`. */
  fastMeshNodes: number
  /** The interval of a small mesh. */
  minMs: number
  maxMs: number
}

export function heartbeatInterval(input: IntervalInput): number {
  const nodes = input.peers + 1
  if (nodes <= input.fastMeshNodes) return input.minMs
  const wanted = Math.ceil((nodes / input.budgetPerSecond) * 1000)
  return Math.min(input.maxMs, Math.max(input.minMs, wanted))
}
