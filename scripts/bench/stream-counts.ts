/**
 * What one node opens, for the benchmarks: streams by protocol (counted where they are opened, so
 * summed over every node each stream counts once), connections it dialled, and datastore reads and
 * writes by key namespace (`/peers` is libp2p's peer store). Counted by wrapping the node's own
 * connections' `newStream` and its datastore's methods; the libraries are untouched.
 */
import type { Connection } from '@libp2p/interface'
import type { HorusNode } from '../../src/node/node.js'

export type Counts = Map<string, number>

const wrapped = Symbol('horus-bench-stream-counts')

export class StreamCounts {
  /** Streams opened by this node, by protocol. */
  readonly streams: Counts = new Map()
  /** Outbound connections, by the remote peer's kind ("all" only, for now). */
  connections = 0
  /** Datastore operations, `get /peers` style keys. */
  readonly datastore: Counts = new Map()
  /** With `callers`: streams by protocol and the first Horus frame of the stack that opened them. */
  readonly callers: Counts | undefined

  constructor(node: HorusNode, options: { callers?: boolean } = {}) {
    if (options.callers === true) this.callers = new Map()
    const watch = (conn: Connection): void => {
      const target = conn as Connection & { [wrapped]?: true }
      if (target[wrapped] === true) return
      target[wrapped] = true
      const open = conn.newStream.bind(conn)
      target.newStream = async (protocols, options) => {
        const stream = await open(protocols, options)
        bump(this.streams, stream.protocol ?? String(protocols))
        if (this.callers !== undefined) {
          bump(this.callers, `${stream.protocol} ${caller(new Error().stack)}`)
          // Why a stream ended: a session reopened per run shows here (who closed it, with what).
          stream.addEventListener('close', (evt) => {
            const { local, error } = evt as Event & { local?: boolean; error?: Error }
            bump(
              this.callers as Counts,
              `${stream.protocol} closed ${local === true ? 'here' : 'there'}: ${error?.message.slice(0, 60) ?? 'cleanly'}`,
            )
          })
        }
        return stream
      }
    }
    for (const conn of node.libp2p.getConnections()) watch(conn)
    node.libp2p.addEventListener('connection:open', (evt) => {
      if (evt.detail.direction === 'outbound') this.connections++
      watch(evt.detail)
    })
    const store = node.datastore as unknown as Record<
      string,
      (key: { toString(): string }, ...rest: unknown[]) => unknown
    >
    for (const op of ['get', 'put', 'has', 'delete'] as const) {
      const original = store[op]?.bind(node.datastore)
      if (original === undefined) continue
      store[op] = (key, ...rest) => {
        bump(this.datastore, `${op} ${key.toString().split('/').slice(0, 3).join('/')}`)
        return original(key, ...rest)
      }
    }
  }

  snapshot(): { streams: Counts; connections: number; datastore: Counts; callers: Counts } {
    return {
      streams: new Map(this.streams),
      connections: this.connections,
      datastore: new Map(this.datastore),
      callers: new Map(this.callers),
    }
  }
}

/**
 * Who opened a stream: the first frame of ours in the stack (not the RPC client's own), else the
 * last library frame (the outermost: a DHT query's or gossipsub's own timer), else the last frame.
 */
function caller(stack: string | undefined): string {
  const frames = (stack ?? '').split('\n').slice(2)
  const ours = frames.find((f) => /\/dist\/src\//.test(f) && !/node_modules|\/protocols\/rpc\//.test(f))
  const frame = ours ?? frames.filter((f) => /node_modules/.test(f)).at(-1) ?? frames.at(-1)
  return (
    frame
      ?.trim()
      .replace(/^at (async )?/, '')
      .replace(/\(?file:\/\/.*\/(dist|node_modules)\//, '')
      .replace(/\)$/, '') ?? 'unknown'
  )
}

function bump(counts: Counts, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1)
}

/** `after - before` summed over nodes, divided by `per`, largest first: "proto 3.2, other 1.0". */
export function countsDelta(before: Counts[], after: Counts[], per: number): [string, number][] {
  const total = new Map<string, number>()
  after.forEach((counts, i) => {
    for (const [key, n] of counts) total.set(key, (total.get(key) ?? 0) + n - (before[i]?.get(key) ?? 0))
  })
  return [...total]
    .map(([key, n]): [string, number] => [key, n / per])
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
}

export function formatCounts(counts: [string, number][]): string {
  return counts.map(([key, n]) => `${key} ${n.toFixed(2)}`).join(', ')
}
