/**
 * The datastore libp2p gets: the node's on-disk one, except libp2p's peer store (`/peers/…`), which
 * lives in memory.
 *
 * Why: libp2p reads and rewrites a peer's record on every stream opened or accepted (it merges the
 * negotiated protocol into the record, and stamps it updated even when nothing changed), on every
 * identify and on every address a DHT answer names: at c = 10 coordinators that was ~170 LevelDB
 * operations per workflow run, and a LevelDB get and put per ping while idle (BENCHMARKS.md,
 * "Streams, the peer store and the idle floor").
 *
 * What persisting it bought, and what stands in for it: after a restart libp2p would remember
 * peers' addresses, protocols and tags. Horus rejoins the mesh from its own known-peers list
 * (`known-peers.ts`, on disk, written from identify) and its bootstrap list; tags are set again
 * at start (bootstrap peers) or on connect (gossipsub, the DHT's closest peers); protocols and
 * addresses come back with identify on the first connection; the DHT routing table refills from
 * the connections the node makes. DHT records and provider records stay on disk.
 *
 * In memory it is bounded (`BoundedMemoryDatastore`): on disk a stranger reconnecting with fresh
 * keys grew the disk; in memory, unbounded, it would grow the heap until the node died.
 */
import type { Logger } from '@libp2p/interface'
import { MountDatastore } from 'datastore-core'
import { type Datastore, Key } from 'interface-datastore'
import { BoundedMemoryDatastore, type MemoryBounds } from './bounded-memory-datastore.js'
import { PEER_STORE_MAX_BYTES, PEER_STORE_MAX_PEERS } from './constants.js'

/** libp2p's peer store namespace (`@libp2p/peer-store`: `/peers/<peer id as base32 CID>`). */
export const PEER_STORE_PREFIX = new Key('/peers')

export function libp2pDatastore(
  disk: Datastore,
  bounds: MemoryBounds = { maxEntries: PEER_STORE_MAX_PEERS, maxBytes: PEER_STORE_MAX_BYTES },
): { datastore: Datastore; peers: BoundedMemoryDatastore } {
  const peers = new BoundedMemoryDatastore(bounds)
  const datastore = new MountDatastore([
    { prefix: PEER_STORE_PREFIX, datastore: peers },
    { prefix: new Key('/'), datastore: disk },
  ])
  return { datastore, peers }
}

/**
 * Deletes the peer records an earlier version kept on disk: nothing reads them any more (the
 * peer store's reads go to memory), and a query of the peer store would still merge them in.
 */
export async function dropPersistedPeerStore(disk: Datastore, log: Logger): Promise<void> {
  const keys: Key[] = []
  for await (const key of disk.queryKeys({ prefix: `${PEER_STORE_PREFIX}/` })) keys.push(key)
  if (keys.length === 0) return
  const batch = disk.batch()
  for (const key of keys) batch.delete(key)
  await batch.commit()
  log('dropped %d peer store record(s) an earlier version kept on disk', keys.length)
}
