/**
 * The SDK's libp2p host: like the CLI's dial-only host (`host.ts`), plus a Kademlia DHT in client
 * mode. It serves nothing and stores nothing for others; it only asks the mesh's DHT where a peer
 * listens. That is needed because a node's `node.peers` reports the addresses of its connections,
 * and a connection a peer opened to it carries that peer's ephemeral port, not its listen address.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import type { Identify } from '@libp2p/identify'
import { identify } from '@libp2p/identify'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { type KadDHT, kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { peerIdFromString } from '@libp2p/peer-id'
import { type Ping, ping } from '@libp2p/ping'
import { preSharedKey } from '@libp2p/pnet'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p, type Libp2pOptions } from 'libp2p'
import { DHT_PROTOCOL } from '../node/constants.js'
import { corkedTcp } from '../node/corked-tcp.js'
import { horusYamux } from '../node/stream-muxer.js'

export interface SdkHostInit {
  privateKey: PrivateKey
  swarmKey?: Uint8Array
}

export type SdkServices = { identify: Identify; ping: Ping; dht: KadDHT }

export async function createSdkHost(init: SdkHostInit): Promise<Libp2p<SdkServices>> {
  const options: Libp2pOptions<SdkServices> = {
    privateKey: init.privateKey,
    addresses: { listen: [] },
    // The circuit transport reaches nodes behind NAT at their `/p2p-circuit` addresses.
    transports: [corkedTcp(), webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [horusYamux()],
    // Off, as on the nodes (src/node/libp2p-options.ts): a ping that misses its 5 s deadline because
    // the node or this process is busy — a supervisor verifying a burst of thousands of jobs — must
    // not abort the connection and every call and subscription on it, and an RTT is all it would
    // give otherwise. A dead node is noticed by the calls' deadlines.
    connectionMonitor: { enabled: false },
    services: {
      identify: identify(),
      ping: ping(),
      // Same protocol and mapper as the nodes (see src/node/libp2p-options.ts): loopback and LAN
      // addresses are real addresses in a Horus mesh.
      dht: kadDHT({ protocol: DHT_PROTOCOL, clientMode: true, peerInfoMapper: passthroughMapper }),
    },
  }
  if (init.swarmKey !== undefined) options.connectionProtector = preSharedKey({ psk: init.swarmKey })
  return createLibp2p(options)
}

/**
 * The addresses the mesh's DHT knows for `peerId`, asked of the network (the local peer store
 * holds only what this host already tried).
 */
export async function findPeerAddrs(
  host: Libp2p<SdkServices>,
  peerId: string,
  signal: AbortSignal,
): Promise<string[]> {
  // Nobody to ask: the DHT would only wait for peers until the signal fires.
  if (host.getPeers().length === 0) return []
  const addrs = new Set<string>()
  for await (const event of host.services.dht.findPeer(peerIdFromString(peerId), {
    signal,
    useCache: false,
  })) {
    if (event.name === 'FINAL_PEER') for (const ma of event.peer.multiaddrs) addrs.add(ma.toString())
    if (addrs.size > 0) break
  }
  return [...addrs]
}
