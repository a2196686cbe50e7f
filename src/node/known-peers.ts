import type { Connection, IdentifyResult, Libp2p, Logger } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { type Datastore, Key } from 'interface-datastore'
import { KNOWN_PEER_MAX_AGE_MS, RECONNECT_MAX_PEERS } from './constants.js'

const PREFIX = '/horus/mesh/known-peers'

interface KnownPeer {
  peerId: string
  addrs: string[]
  seenAt: number
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * The peers this node was connected to, with the addresses they listen on, kept in the node's
 * datastore. libp2p's own peer store drops an address whose "observed" time it did not record
 * (identify can overwrite the one a dial set), so after a restart it sometimes knows a peer but
 * no address for it; this list is what a restarted node rejoins the mesh from.
 */
export class KnownPeers {
  constructor(
    private readonly datastore: Datastore,
    private readonly log: Logger,
  ) {}

  /** Records a peer's listen addresses (from identify). */
  async remember(peerId: string, addrs: string[]): Promise<void> {
    const dialable = addrs.filter((a) => !a.includes('/p2p-circuit'))
    if (dialable.length === 0) return
    const record: KnownPeer = { peerId, addrs: dialable, seenAt: Date.now() }
    await this.datastore.put(new Key(`${PREFIX}/${peerId}`), encoder.encode(JSON.stringify(record)))
  }

  /** Most recently seen first; entries older than the maximum age are deleted. */
  async list(limit = RECONNECT_MAX_PEERS): Promise<KnownPeer[]> {
    const now = Date.now()
    const peers: KnownPeer[] = []
    for await (const { key, value } of this.datastore.query({ prefix: PREFIX })) {
      const record = parse(value)
      if (record === undefined || now - record.seenAt > KNOWN_PEER_MAX_AGE_MS) {
        await this.datastore.delete(key)
        continue
      }
      peers.push(record)
    }
    return peers.sort((a, b) => b.seenAt - a.seenAt).slice(0, limit)
  }

  /**
   * Keeps the list up to date while the node runs: an outbound connection's address is one the
   * peer listens on (recorded at once), and identify later gives all of them. Returns the unsubscribe.
   */
  follow(libp2p: Libp2p): () => void {
    const save = (peerId: string, addrs: string[]): void => {
      this.remember(peerId, addrs).catch((err: Error) => {
        this.log('could not remember peer %s: %s', peerId, err.message)
      })
    }
    const onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
      save(
        evt.detail.peerId.toString(),
        evt.detail.listenAddrs.map((a) => a.toString()),
      )
    }
    const onOpen = (evt: CustomEvent<Connection>): void => {
      const conn = evt.detail
      if (conn.direction === 'outbound') save(conn.remotePeer.toString(), [conn.remoteAddr.toString()])
    }
    libp2p.addEventListener('peer:identify', onIdentify)
    libp2p.addEventListener('connection:open', onOpen)
    return () => {
      libp2p.removeEventListener('peer:identify', onIdentify)
      libp2p.removeEventListener('connection:open', onOpen)
    }
  }
}

function parse(value: Uint8Array): KnownPeer | undefined {
  try {
    const record = JSON.parse(decoder.decode(value)) as KnownPeer
    if (
      typeof record.peerId !== 'string' ||
      !Array.isArray(record.addrs) ||
      typeof record.seenAt !== 'number'
    ) {
      return undefined
    }
    for (const a of record.addrs) multiaddr(a)
    return record
  } catch {
    return undefined
  }
}
