import { noise } from '@chainsafe/libp2p-noise'
import { autoNAT } from '@libp2p/autonat'
import { bootstrap } from '@libp2p/bootstrap'
import { type CircuitRelayService, circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { type GossipSub, gossipsub } from '@libp2p/gossipsub'
import { type Identify, type IdentifyPush, identify, identifyPush } from '@libp2p/identify'
import type { ComponentLogger, ConnectionGater, PeerId, PrivateKey } from '@libp2p/interface'
import { type KadDHT, kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { type Ping, ping } from '@libp2p/ping'
import { preSharedKey } from '@libp2p/pnet'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import type { Datastore } from 'interface-datastore'
import type { Libp2pOptions } from 'libp2p'
import { EVENTS_TOPIC } from '../protocols/events/constants.js'
import { fastMessageId } from '../protocols/gossip/fast-msg-id.js'
import { jobTopicScoreParams, jobTopicsScoreParams } from '../protocols/jobs/gossip-scoring.js'
import { LIVENESS_TOPIC } from '../protocols/liveness/constants.js'
import { STATE_TOPIC } from '../protocols/state/sync/constants.js'
import type { NodeConfig, RelayServiceConfig } from './config/types.js'
import {
  BOOTSTRAP_APP_SCORE,
  BUILTIN_CAPABILITIES,
  DHT_PROTOCOL,
  LOOPBACK_IPS,
  LOOPBACK_NETWORKS,
  RELAY_MAX_DURATION_MS,
} from './constants.js'
import { corkedTcp } from './corked-tcp.js'
import { peerIdOf } from './nat/circuit-addrs.js'
import { type NatService, natService, ownRelays, relayGater } from './nat/index.js'
import { horusYamux } from './stream-muxer.js'
// Side effect: noise's frame decoder stops building a stack trace per TCP chunk received.
import './length-prefix-fast-path.js'

/** The libp2p services every Horus node runs; roles add their own on top. */
// A type alias, not an interface: libp2p's ServiceMap constraint needs an implicit index signature.
export type MeshServices = {
  identify: Identify
  identifyPush: IdentifyPush
  ping: Ping
  dht: KadDHT
  pubsub: GossipSub
  autoNAT: unknown
  dcutr: unknown
  nat: NatService
  /** Present when the node serves as a relay (`relay.service`). */
  relay?: CircuitRelayService
}

export interface MeshOptionsInit {
  config: NodeConfig
  privateKey: PrivateKey
  datastore: Datastore
  logger: ComponentLogger
  swarmKey?: Uint8Array
  /** Whether a key is in the node's trust policy now: who may use its relay and be its relay. */
  trusted: (peer: PeerId) => boolean
  /** Rules added to the node's own connection gater (`CreateNodeOptions.connectionGater`). */
  connectionGater?: ConnectionGater
}

/** Assembles the libp2p init object from a validated node config. */
export function meshLibp2pOptions(init: MeshOptionsInit): Libp2pOptions<MeshServices> {
  const { config } = init
  const peerDiscovery: Libp2pOptions['peerDiscovery'] = []
  if (config.bootstrap.length > 0) peerDiscovery.push(bootstrap({ list: config.bootstrap, timeout: 0 }))
  if (config.mdns) peerDiscovery.push(mdns())
  const named = [...config.bootstrap, ...config.relay.peers].flatMap((a) => peerIdOf(multiaddr(a)) ?? [])
  const isOwnRelay = ownRelays(named, init.trusted)
  const bootstrapPeers = new Set(config.bootstrap.flatMap((a) => peerIdOf(multiaddr(a)) ?? []))
  const relayService = config.relay.service

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
    // The circuit transport dials `/p2p-circuit` addresses and, when the NAT service asks, listens
    // through a relay; WebSockets stays for browsers.
    transports: [corkedTcp(), webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [horusYamux()],
    connectionManager: {
      maxConnections: config.maxConnections,
      dialTimeout: config.dialTimeoutMs,
      // The per-IP inbound rate limit (5/s) protects against remote floods; processes on this host
      // (CLI calls, local nodes of a demo or test mesh) are exempt.
      allow: LOOPBACK_NETWORKS,
    },
    // Off. libp2p's monitor opens a ping stream on every connection every 10 s (each one a stream
    // negotiation on both sides); it would abort the whole connection - every RPC session on it -
    // on one failed probe, and a probe fails on a busy event loop, so it only measured an RTT that
    // nothing reads. Horus judges peers by its liveness service (heartbeats), a dead connection by
    // TCP and yamux's own keep-alive (a ping frame every 30 s, no stream), and a dead callee by the
    // call's deadline (src/protocols/state/README.md, "Failure detection").
    connectionMonitor: { enabled: false },
    connectionGater: eitherDenies(
      relayGater({
        trusted: init.trusted,
        isOwnRelay,
        log: init.logger.forComponent('horus:nat'),
        ...(relayService === undefined ? {} : { serviceAllow: relayService.allow }),
      }),
      init.connectionGater,
    ),
    peerDiscovery,
    services: {
      identify: identify(),
      // Tells connected peers at once when this node's addresses change (a relay reservation
      // gained or lost), so they dial it where it can be reached.
      identifyPush: identifyPush(),
      // The DHT and callers (the supervisor probing a silent runner, the bench) ping; one stream each per connection
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
        // A bootstrap peer connected to every newcomer keeps a dozen in its mesh and prunes the
        // rest; with peer exchange its prune names other mesh peers, and the newcomer connects to
        // them. Without it a node that has only its bootstrap peers stays outside every mesh and
        // hears no heartbeat (6 of 50 nodes heard no peer within 60 s in the scale bench), so its
        // connection floor, which dials peers it hears, has nobody to dial. PX is believed only
        // from the configured bootstrap peers: their app score lifts them to gossipsub's
        // acceptPXThreshold, which no other peer reaches.
        doPX: true,
        // A mesh's worth (gossipsub's D), not libp2p's 16: every newcomer is pruned by its
        // bootstrap peers while a mesh starts, and each PX peer is a dial and a handshake.
        prunePeers: 6,
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
          appSpecificScore: (peer) => (bootstrapPeers.has(peer) ? BOOTSTRAP_APP_SCORE : 0),
          IPColocationFactorWhitelist: new Set(LOOPBACK_IPS),
          topics: {
            ...jobTopicsScoreParams(BUILTIN_CAPABILITIES),
            [LIVENESS_TOPIC]: jobTopicScoreParams(),
            [STATE_TOPIC]: jobTopicScoreParams(),
            [EVENTS_TOPIC]: jobTopicScoreParams(),
          },
        },
      }),
      autoNAT: autoNAT(),
      dcutr: dcutr(),
      nat: natService({
        reserve: config.relay.reserve,
        maxRelays: config.relay.maxRelays,
        relayPeers: config.relay.peers.flatMap((a) => peerIdOf(multiaddr(a)) ?? []),
        bootstrapPeers: config.bootstrap.flatMap((a) => peerIdOf(multiaddr(a)) ?? []),
        trusted: init.trusted,
        isOwnRelay,
      }),
      ...(relayService === undefined ? {} : { relay: relayServer(relayService) }),
    },
  }
  if (init.swarmKey !== undefined) options.connectionProtector = preSharedKey({ psk: init.swarmKey })
  return options
}

/**
 * libp2p's relay server for `relay.service`. With limits (by default 1 h and 128 MiB per relayed
 * connection, where libp2p's own would cut each after 2 min or 128 KiB — a job's dispatch mid-way)
 * the connection is a "limited" one in libp2p's terms: Horus RPC, which carries job dispatch,
 * anti-entropy and client calls, runs over it (`runOnLimitedConnection`) until a limit is hit;
 * gossip and the DHT reach the node through the relay's own connections instead. With
 * `limits: none` a relayed connection is unlimited and every protocol runs over it.
 */
function relayServer(service: RelayServiceConfig): ReturnType<typeof circuitRelayServer> {
  const limits = service.limits
  return circuitRelayServer({
    reservations: {
      maxReservations: service.maxReservations,
      reservationTtl: service.reservationTtlMs,
      applyDefaultLimit: limits !== undefined,
      defaultDurationLimit: limits?.durationMs ?? RELAY_MAX_DURATION_MS,
      defaultDataLimit: BigInt(limits?.dataBytes ?? Number.MAX_SAFE_INTEGER),
    },
  })
}

/** A gater that denies what either `a` or `b` denies (`b` is optional); libp2p awaits every rule. */
export function eitherDenies(a: ConnectionGater, b: ConnectionGater | undefined): ConnectionGater {
  if (b === undefined) return a
  type Rule = (...args: unknown[]) => Promise<boolean> | boolean
  const rules = (gater: ConnectionGater): Record<string, Rule | undefined> =>
    gater as unknown as Record<string, Rule | undefined>
  const out: Record<string, Rule> = {}
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const first = rules(a)[key]
    const second = rules(b)[key]
    out[key] = async (...args) =>
      (first !== undefined && (await first.apply(a, args))) ||
      (second !== undefined && (await second.apply(b, args)))
  }
  return out as unknown as ConnectionGater
}
