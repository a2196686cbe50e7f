/**
 * What the scale bench's controller and its worker processes (`scale-worker.ts`) say to each other
 * over the fork IPC channel (advanced serialization: NaN and undefined survive). Each request
 * carries an id and gets one reply with that id; arrivals of bench-topic messages are pushed.
 */

/** One node for a worker to create: its index in the mesh, data dir (identity inside) and bootstrap. */
export interface NodeSpec {
  index: number
  dir: string
  bootstrap: string[]
}

export interface WorkerOps {
  /** The data dirs of every node the worker will host: it removes them if the controller goes away. */
  adopt: { args: { dirs: string[] }; result: null }
  /** Creates the nodes (all at once); `awaitJoin`: replies only once each heard a peer (or its join deadline passed). */
  start: {
    args: { nodes: NodeSpec[]; trust: unknown; awaitJoin: boolean }
    result: { index: number; addr: string; peerId: string }[]
  }
  /** RSS and open file descriptors of the worker process (after a GC when exposed). */
  footprint: { args: Record<string, never>; result: { rss: number; fds: number } }
  /** Waits for every node's join (bounded by the join deadline from its start). */
  joins: { args: Record<string, never>; result: { joinMs: number[]; notJoined: number } }
  /** Peers in each node's liveness view. */
  views: { args: Record<string, never>; result: number[] }
  /** Starts an idle window: counters are taken now. */
  idleBegin: { args: Record<string, never>; result: null }
  /** Ends it: what the worker's nodes did since idleBegin, and their connections now. */
  idleEnd: {
    args: Record<string, never>
    result: { heartbeats: number; bytesRead: number; cpuMs: number; seconds: number; connections: number[] }
  }
  /** Subscribes every node to the bench topic; arrivals are then pushed as `ArrivalEvent`s. */
  gossipSubscribe: { args: Record<string, never>; result: null }
  /** How many of the worker's nodes have no ready mesh on the bench topic yet. */
  gossipNotReady: { args: Record<string, never>; result: number }
  /** Node `index` publishes message `seq`; the send time on the shared clock (see `sharedClockMs`). */
  gossipPublish: { args: { index: number; seq: number }; result: number }
  gossipUnsubscribe: { args: Record<string, never>; result: null }
  provide: { args: { index: number; cid: string }; result: number }
  find: {
    args: { index: number; cid: string; provider: string }
    result: { findMs: number; queried: number; hops: number }
  }
  /** Stops every node (in bounded batches); the worker exits after replying. */
  stop: { args: Record<string, never>; result: { late: number } }
}

export type OpName = keyof WorkerOps

export interface Request<K extends OpName = OpName> {
  id: number
  op: K
  args: WorkerOps[K]['args']
}

export type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string }

/** A bench-topic message `seq` reached one of the worker's nodes at `at` (shared clock). */
export interface ArrivalEvent {
  arrival: { seq: number; at: number }
}

/**
 * Milliseconds on a clock every process of the host shares (the wall clock at this process's time
 * origin plus the monotonic time since), so a send time in one worker and an arrival in another
 * can be subtracted.
 */
export function sharedClockMs(): number {
  return performance.timeOrigin + performance.now()
}
