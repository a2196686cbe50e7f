import { noise } from '@chainsafe/libp2p-noise'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { preSharedKey } from '@libp2p/pnet'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p, type Libp2pOptions } from 'libp2p'
import { corkedTcp } from '../node/corked-tcp.js'
import { horusYamux } from '../node/stream-muxer.js'

export interface ClientHostInit {
  /** The client's identity; an ephemeral key when absent. */
  privateKey?: PrivateKey
  /** Swarm key bytes, to reach a private mesh. */
  swarmKey?: Uint8Array
}

/**
 * A dial-only libp2p host for clients (CLI, SDK): it listens on nothing and runs no DHT or
 * gossip, so it joins no mesh by itself; it only opens authenticated RPC streams to nodes.
 */
export async function createClientHost(init: ClientHostInit = {}): Promise<Libp2p> {
  const options: Libp2pOptions = {
    addresses: { listen: [] },
    // The circuit transport reaches nodes behind NAT at their `/p2p-circuit` addresses.
    transports: [corkedTcp(), webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [horusYamux()],
    services: { identify: identify() },
  }
  if (init.privateKey !== undefined) options.privateKey = init.privateKey
  if (init.swarmKey !== undefined) options.connectionProtector = preSharedKey({ psk: init.swarmKey })
  return createLibp2p(options)
}
