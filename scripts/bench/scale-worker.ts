/**
 * One worker process of the scale bench (forked by `scale-procs.ts`): it hosts some of the mesh's
 * nodes and answers the controller's requests over IPC (`scale-ipc.ts`). It owns no decision: what
 * to start, when to measure and what the figures mean are the controller's.
 *
 * If the controller goes away (the IPC channel closes: it crashed or was killed), the worker removes
 * its nodes' data dirs and exits at once, so no orphan process or dir outlives a bench.
 */
import '../../src/node/polyfills.js'
import { rmSync } from 'node:fs'
import { CID } from 'multiformats/cid'
import type { HorusNode } from '../../src/node/node.js'
import {
  BENCH_TOPIC,
  benchMessage,
  findProvider,
  openFds,
  provideRecord,
  STOP_BATCH_MS,
  socketBytesRead,
  startBenchNode,
  watchBenchTopic,
  within,
} from './scale.js'
import {
  type ArrivalEvent,
  type NodeSpec,
  type OpName,
  type Reply,
  type Request,
  sharedClockMs,
  type WorkerOps,
} from './scale-ipc.js'
import { elapsedMs } from './table.js'

const nodes = new Map<number, HorusNode>()
const dirs: string[] = []
const joins: Promise<void>[] = []
const joinMs: number[] = []
let notJoined = 0
let watches: { meshReady(): boolean }[] = []
let idleFrom: { heartbeats: number; bytes: number; cpu: NodeJS.CpuUsage; t: bigint } | undefined

function send(message: Reply | ArrivalEvent): void {
  process.send?.(message)
}

function node(index: number): HorusNode {
  const found = nodes.get(index)
  if (found === undefined) throw new Error(`node ${index} is not in worker ${process.pid}`)
  return found
}

function heartbeats(): number {
  let total = 0
  for (const n of nodes.values()) total += n.liveness.stats().accepted
  return total
}

/** Creates one node; its join (first peer heard) is awaited in the background unless it has no bootstrap. */
async function startOne(spec: NodeSpec, trust: unknown): Promise<Promise<void>> {
  const { node: created, joined } = await startBenchNode(spec.index, spec.dir, spec.bootstrap, trust)
  nodes.set(spec.index, created)
  if (spec.bootstrap.length === 0) return Promise.resolve()
  const counted = joined.then((ms) => {
    if (ms === undefined) notJoined++
    else joinMs.push(ms)
  })
  joins.push(counted)
  return counted
}

type Handlers = { [K in OpName]: (args: WorkerOps[K]['args']) => Promise<WorkerOps[K]['result']> }

const handlers: Handlers = {
  adopt: async ({ dirs: adopted }) => {
    dirs.push(...adopted)
    return null
  },
  start: async ({ nodes: specs, trust, awaitJoin }) => {
    const joined = await Promise.all(specs.map((spec) => startOne(spec, trust)))
    if (awaitJoin) await Promise.all(joined)
    return specs.map((spec) => ({
      index: spec.index,
      addr: node(spec.index).multiaddrs()[0] as string,
      peerId: node(spec.index).libp2p.peerId.toString(),
    }))
  },
  footprint: async () => {
    global.gc?.()
    return { rss: process.memoryUsage().rss, fds: openFds() }
  },
  joins: async () => {
    await Promise.all(joins)
    return { joinMs, notJoined }
  },
  views: async () => [...nodes.values()].map((n) => n.liveness.alive().length),
  idleBegin: async () => {
    idleFrom = {
      heartbeats: heartbeats(),
      bytes: socketBytesRead(),
      cpu: process.cpuUsage(),
      t: process.hrtime.bigint(),
    }
    return null
  },
  idleEnd: async () => {
    if (idleFrom === undefined) throw new Error('idleEnd without idleBegin')
    const cpu = process.cpuUsage(idleFrom.cpu)
    return {
      heartbeats: heartbeats() - idleFrom.heartbeats,
      bytesRead: Math.max(0, socketBytesRead() - idleFrom.bytes),
      cpuMs: (cpu.user + cpu.system) / 1000,
      seconds: elapsedMs(idleFrom.t) / 1000,
      connections: [...nodes.values()].map((n) => n.libp2p.getConnections().length),
    }
  },
  gossipSubscribe: async () => {
    watches = [...nodes.values()].map((n) =>
      watchBenchTopic(n, (seq) => send({ arrival: { seq, at: sharedClockMs() } })),
    )
    return null
  },
  gossipNotReady: async () => watches.filter((w) => !w.meshReady()).length,
  gossipPublish: async ({ index, seq }) => {
    const sent = sharedClockMs()
    await node(index).libp2p.services.pubsub.publish(BENCH_TOPIC, benchMessage(seq))
    return sent
  },
  gossipUnsubscribe: async () => {
    for (const n of nodes.values()) n.libp2p.services.pubsub.unsubscribe(BENCH_TOPIC)
    return null
  },
  provide: async ({ index, cid }) => provideRecord(node(index), CID.parse(cid)),
  find: async ({ index, cid, provider }) => findProvider(node(index), CID.parse(cid), provider),
  stop: async () => {
    // Parallel batches, each bounded: a starved worker must still exit.
    const all = [...nodes.values()]
    let late = 0
    for (let i = 0; i < all.length; i += 50) {
      const batch = all.slice(i, i + 50)
      if (!(await within(Promise.allSettled(batch.map((n) => n.stop())), STOP_BATCH_MS))) late += batch.length
    }
    return { late }
  },
}

process.on('message', (message: Request) => {
  const handle = handlers[message.op] as (args: unknown) => Promise<unknown>
  handle(message.args).then(
    (result) => {
      send({ id: message.id, ok: true, result })
      if (message.op === 'stop') process.disconnect()
    },
    (err: unknown) => send({ id: message.id, ok: false, error: (err as Error).message ?? String(err) }),
  )
})

// The channel closes after `stop` (the controller removes the dirs) or when the controller is gone
// (then nobody else will): either way, remove them and exit without waiting for anything.
process.on('disconnect', () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  process.exit(0)
})
