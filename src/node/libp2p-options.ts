import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { type GossipSub, gossipsub } from '@libp2p/gossipsub'
import { type Identify, identify } from '@libp2p/identify'
import type { ComponentLogger, PrivateKey } from '@libp2p/interface'
import { type KadDHT, kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { type Ping, ping } from '@libp2p/ping'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import type { Datastore } from 'interface-datastore'
import type { Libp2pOptions } from 'libp2p'
import { EVENTS_TOPIC } from '../protocols/events/constants.js'
import { fastMessageId } from '../protocols/gossip/fast-msg-id.js'
import { jobTopicScoreParams, jobTopicsScoreParams } from '../protocols/jobs/gossip-scoring.js'
import { LIVENESS_TOPIC } from '../protocols/liveness/constants.js'
import { STATE_TOPIC } from '../protocols/state/sync/constants.js'
import type { NodeConfig } from './config/types.js'
import { BUILTIN_CAPABILITIES, DHT_PROTOCOL, LOOPBACK_IPS, LOOPBACK_NETWORKS } from './constants.js'

/** The libp2p services every Horus node runs; roles add their own on top. */
// A type alias, not an interface: libp2p's ServiceMap constraint needs an implicit index signature.
export type MeshServices = {
  identify: Identify
  ping: Ping
  dht: KadDHT
  pubsub: GossipSub
}

export interface MeshOptionsInit {
  config: NodeConfig
  privateKey: PrivateKey
  datastore: Datastore
  logger: ComponentLogger
  swarmKey?: Uint8Array
}

/** Assembles the libp2p init object from a validated node config. */
export function meshLibp2pOptions(init: MeshOptionsInit): Libp2pOptions<MeshServices> {
  const { config } = init
  const peerDiscovery: Libp2pOptions['peerDiscovery'] = []
  if (config.bootstrap.length > 0) peerDiscovery.push(bootstrap({ list: config.bootstrap, timeout: 0 }))
  if (config.mdns) peerDiscovery.push(mdns())

  const options: Libp2pOptions<MeshServices> = {
    // HorusNode.start() starts libp2p after the trust layer, so a node never serves before it
    // can verify.
    start: false,
    privateKey: init.privateKey,
    datastore: init.datastore,
    logger: init.logger,
    addresses: {
      listen: config.listen,
      ...(config.announce.length > 0 ? { announce: config.announce } : {}),
    },
    transports: [tcp(), webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: {
      maxConnections: config.maxConnections,
      dialTimeout: config.dialTimeoutMs,
      // The per-IP inbound rate limit (5/s) protects against remote floods; processes on this host
      // (CLI calls, local nodes of a demo or test mesh) are exempt.
      allow: LOOPBACK_NETWORKS,
    },
    // Horus judges peer liveness itself (the liveness service). libp2p's monitor would abort the
    // whole connection - every RPC session on it - on one failed probe, and a probe fails on a
    // busy event loop: its 5 s floor expires, or it collides with the DHT's own ping stream
    // (one outbound ping stream per connection). Keep it for RTT only.
    connectionMonitor: { abortConnectionOnPingFailure: false },
    peerDiscovery,
    services: {
      identify: identify(),
      // The DHT, the connection monitor and callers all ping; one stream each per connection
      // (libp2p's default is one in total, and a second ping then fails outright).
      ping: ping({ maxOutboundStreams: 4, maxInboundStreams: 4 }),
      dht: kadDHT({
        protocol: DHT_PROTOCOL,
        clientMode: false,
        // The default mapper drops loopback and private addresses, which would make a LAN or
        // test mesh invisible to itself; a Horus mesh is private by protocol id instead.
        peerInfoMapper: passthroughMapper,
        allowQueryWithZeroPeers: true,
      }),
      pubsub: gossipsub({
        globalSignaturePolicy: 'StrictSign',
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        // Duplicate copies are dropped before their signature is verified (see fast-msg-id.ts).
        fastMsgIdFn: fastMessageId,
        // Gossipsub penalises many peers behind one IP (a Sybil defence). Several nodes on one
        // host are normal for a loopback mesh (tests, the demo), so loopback is exempt.
        // Invalid jobs on the job topics, and strangers' or role-less writes on the Horus topics
        // (rejected by their validators), lower the sending peer's score.
        scoreParams: {
          IPColocationFactorWhitelist: new Set(LOOPBACK_IPS),
          topics: {
            ...jobTopicsScoreParams(BUILTIN_CAPABILITIES),
            [LIVENESS_TOPIC]: jobTopicScoreParams(),
            [STATE_TOPIC]: jobTopicScoreParams(),
            [EVENTS_TOPIC]: jobTopicScoreParams(),
          },
        },
      }),
    },
  }
  if (init.swarmKey !== undefined) options.connectionProtector = preSharedKey({ psk: init.swarmKey })
  return options
}
