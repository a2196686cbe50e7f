import type { ComponentLogger, ConnectionGater, Libp2p, Logger } from '@libp2p/interface'
import type { SpanExporter } from '@opentelemetry/sdk-trace'
import type { LevelDatastore } from 'datastore-level'
import { createLibp2p } from 'libp2p'
import { createLogger } from '../core/logger.js'
import { mountDashboard } from '../gateway-dashboard/index.js'
import type { BlobService } from '../protocols/blob/index.js'
import { DhtAdvertiser } from '../protocols/capabilities/advertiser.js'
import { roleCid } from '../protocols/capabilities/keys.js'
import type { Heartbeat } from '../protocols/liveness/heartbeat.js'
import { MAX_HEARTBEAT_ADDR_LENGTH, MAX_HEARTBEAT_ADDRS } from '../protocols/liveness/heartbeat.js'
import { LivenessService } from '../protocols/liveness/service.js'
import type { NodeHealth, NodeInfoSource, PeerSummary } from '../protocols/rpc/node-methods.js'
import { nodeMethods } from '../protocols/rpc/node-methods.js'
import { MethodRegistry } from '../protocols/rpc/registry.js'
import { RpcServer } from '../protocols/rpc/server.js'
import { createNodeBlobs } from './blobs.js'
import type { NodeConfig, Role } from './config/types.js'
import { ConnectionTrimmer } from './connection-trimmer.js'
import { DEFAULT_CONNECTION_FLOOR, DEFAULT_TARGET_CONNECTIONS } from './constants.js'
import { type DatastoreRecovery, datastoreCheck, openDatastore } from './datastore.js'
import { reidentifyEarlyConnections } from './early-connections.js'
import { HttpGateway } from './gateway/http-gateway.js'
import { HeardAddrs } from './heard-addrs.js'
import { type Identity, loadOrCreateIdentity } from './identity.js'
import { dropPersistedPeerStore, libp2pDatastore } from './libp2p-datastore.js'
import { type MeshServices, meshLibp2pOptions } from './libp2p-options.js'
import { fromLibp2pListenError } from './listen-error.js'
import { MeshKeeper, type MeshStatus } from './mesh-keeper.js'
import { meshMethods } from './mesh-methods.js'
import { METRICS_PATH, metricsRoute, NodeMetrics } from './metrics/index.js'
import { type NodeNatStatus, natMethods, nodeNatStatus, reachabilityCheck } from './nat/node-nat.js'
import { connectedPeers, isTrustedPeer, trustName } from './peer-views.js'
import { trustAuthorizer } from './rpc-access.js'
import { heldSigningKey } from './signing-key.js'
import { readSwarmKey } from './swarm-key.js'
import { NodeTracing } from './telemetry/node-tracing.js'
import { NodeTrust } from './trust.js'
import { trustMethods } from './trust-methods.js'
import { VERSION } from './version.js'

export type MeshLibp2p = Libp2p<MeshServices>

export interface CreateNodeOptions {
  /** Start the node before returning. @default true */
  start?: boolean
  /** Logger for this node; tests give each node a prefix. @default createLogger() */
  logger?: ComponentLogger
  /**
   * Trace this node and export each span, as it ends, to this exporter (an `InMemorySpanExporter`
   * in tests) — whatever the config's `telemetry.tracing` says.
   */
  spanExporter?: SpanExporter
  /**
   * Connection rules added to the node's own (a test's network partition, an operator's deny
   * list): a dial or connection either set denies is denied.
   */
  connectionGater?: ConnectionGater
}

/**
 * One Horus process: a libp2p host with the mesh services, its identity and its datastore. Roles
 * are attached in later layers; here they are recorded and reported.
 */
export class HorusNode {
  readonly config: NodeConfig
  readonly identity: Identity
  readonly libp2p: MeshLibp2p
  readonly datastore: LevelDatastore
  readonly logger: ComponentLogger
  private readonly log: Logger
  /** Keeps the node in the mesh (bootstrap and known peers redialled); `mesh:alone` / `mesh:joined`. */
  readonly keeper: MeshKeeper
  /** Closes idle connections beyond a target, so a node's connections stay in the tens. */
  readonly trimmer: ConnectionTrimmer
  /** Who else is alive, from heartbeats on `horus/v1/liveness`. */
  readonly liveness: LivenessService
  private readonly heardAddrs: HeardAddrs
  /** Keeps this node's role and capability provider records in the DHT. */
  readonly advertiser: DhtAdvertiser
  /** Trust policy, replay cache, job verifier and this node's signer. */
  readonly trust: NodeTrust
  /** Every RPC method this node serves; roles add theirs before `start()`. */
  readonly rpc: MethodRegistry
  readonly rpcServer: RpcServer
  /** The HTTP gateway, when configured. */
  readonly gateway: HttpGateway | undefined
  /** Prometheus metrics of the node and its roles (`GET /metrics` on the gateway). */
  readonly metrics: NodeMetrics
  /** Large step outputs: stored here, fetched from peers (`/horus/blob/1.0.0`). */
  readonly blobs: BlobService
  /** OpenTelemetry tracing; undefined when off (`telemetry.tracing` not set). */
  readonly tracing: NodeTracing | undefined
  private readonly capabilities = new Set<string>()
  private loadProvider: () => Heartbeat['load'] = () => ({ running: 0, capacity: 0 })
  private startedAt = 0
  /** The datastore was found corrupted at start and repaired or replaced (health says so). */
  private readonly datastoreRecovery: DatastoreRecovery | undefined
  /** Connections opened while libp2p started, identified again once it has (early-connections.ts). */
  private reidentifying: Promise<void> | undefined
  private earlyConnections: AbortController | undefined
  private running = false

  private constructor(init: {
    config: NodeConfig
    identity: Identity
    libp2p: MeshLibp2p
    datastore: LevelDatastore
    datastoreRecovery?: DatastoreRecovery | undefined
    logger: ComponentLogger
    trust: NodeTrust
    spanExporter?: SpanExporter | undefined
  }) {
    this.datastoreRecovery = init.datastoreRecovery
    this.config = init.config
    this.identity = init.identity
    this.libp2p = init.libp2p
    this.datastore = init.datastore
    this.logger = init.logger
    this.log = init.logger.forComponent('horus:node')
    this.keeper = new MeshKeeper(
      init.libp2p,
      init.datastore,
      init.logger.forComponent('horus:mesh-keeper'),
      // Relay peers are kept connected like bootstrap peers: behind NAT they are the way in.
      [...new Set([...init.config.bootstrap, ...init.config.relay.peers])],
      (peerId) => this.liveness.get(peerId) !== undefined,
      {
        floor: Math.min(DEFAULT_CONNECTION_FLOOR, init.config.maxConnections),
        peers: () => this.liveness.alive(),
      },
    )
    // Bootstrap and relay peers are never trimmed: they are how a node rejoins, or is reached at all.
    const bootstrapPeers = new Set(
      [...init.config.bootstrap, ...init.config.relay.peers].flatMap(
        (addr) => addr.match(/\/p2p\/([^/]+)$/)?.slice(1) ?? [],
      ),
    )
    this.trimmer = new ConnectionTrimmer({
      libp2p: init.libp2p,
      pubsub: init.libp2p.services.pubsub,
      log: init.logger.forComponent('horus:trimmer'),
      target: Math.min(DEFAULT_TARGET_CONNECTIONS, init.config.maxConnections),
      keep: () => bootstrapPeers,
    })
    this.liveness = new LivenessService({
      pubsub: init.libp2p.services.pubsub,
      peerId: init.libp2p.peerId,
      log: init.logger.forComponent('horus:liveness'),
      policy: () => this.trust.policy,
      status: () => ({
        roles: [...this.config.roles],
        capabilities: [...this.capabilities],
        load: this.loadProvider(),
        addrs: this.announcedAddrs(),
      }),
    })
    // Where a peer heard listens goes to the peer store, so calls to it can dial.
    this.heardAddrs = new HeardAddrs({
      libp2p: init.libp2p,
      alive: () => this.liveness.alive(),
      log: this.log,
    })
    this.liveness.addEventListener('peer:alive', (evt) => this.heardAddrs.heard(evt.detail))
    this.trust = init.trust
    this.rpc = new MethodRegistry({
      info: { title: `Horus node ${init.libp2p.peerId.toString()}`, version: VERSION },
      authorize: trustAuthorizer(
        () => this.trust.policy,
        () => this.rpc,
      ),
    })
    const nameOf = (peerId: string): string | undefined => trustName(this.trust.policy, peerId)
    this.rpc.add(
      ...nodeMethods(this.infoSource()),
      ...meshMethods(init.libp2p, this.liveness, () => this.trust.policy, nameOf),
      ...trustMethods(() => this.trust.policy),
      ...natMethods(() => this.natStatus()),
    )
    this.rpcServer = new RpcServer({ registrar: init.libp2p, logger: init.logger }, { registry: this.rpc })
    const gw = init.config.gateway
    this.gateway =
      gw === undefined
        ? undefined
        : new HttpGateway({
            registry: this.rpc,
            listen: gw.listen,
            ...(gw.token === undefined ? {} : { token: gw.token }),
            caller: {
              publicKeyHex: init.identity.publicKeyHex,
              ...(gw.grant === undefined ? {} : { grant: gw.grant }),
            },
            health: () => this.health(),
            logger: init.logger,
          })
    this.metrics = new NodeMetrics({
      peerId: init.libp2p.peerId.toString(),
      version: VERSION,
      libp2p: init.libp2p,
      liveness: this.liveness,
      verifier: this.trust.verifier,
      topics: () => [this.liveness.stats()],
      load: () => this.loadProvider(),
      uptimeMs: () => this.uptimeMs,
      rpc: this.rpc,
    })
    if (this.gateway !== undefined) {
      mountDashboard(this.gateway, { registry: this.rpc })
      this.gateway.route('GET', METRICS_PATH, metricsRoute(this.metrics))
    }
    this.advertiser = new DhtAdvertiser(init.libp2p, init.logger.forComponent('horus:advertiser'))
    this.blobs = createNodeBlobs({ ...init, policy: () => this.trust.policy })
    const tracingConfig = init.config.telemetry?.tracing
    this.tracing =
      tracingConfig === undefined && init.spanExporter === undefined
        ? undefined
        : new NodeTracing({
            peerId: init.libp2p.peerId.toString(),
            version: VERSION,
            ...(tracingConfig === undefined ? {} : { config: tracingConfig }),
            ...(init.spanExporter === undefined ? {} : { exporter: init.spanExporter }),
          })
  }

  /** Announces a capability in heartbeats (runners call this for each kind they serve). */
  addCapability(name: string): void {
    this.capabilities.add(name)
  }

  /** Where heartbeats read the current load from (the runner's executor). */
  setLoadProvider(provider: () => Heartbeat['load']): void {
    this.loadProvider = provider
  }

  static async create(config: NodeConfig, options: CreateNodeOptions = {}): Promise<HorusNode> {
    const logger = options.logger ?? createLogger()
    const identity = await loadOrCreateIdentity(config.dataDir)
    const swarmKey = config.swarmKeyFile === undefined ? undefined : await readSwarmKey(config.swarmKeyFile)
    const { datastore, recovery } = await openDatastore(config.dataDir, logger.forComponent('horus:node'))
    try {
      // Before libp2p: its connection gater and relay choice consult the trust policy.
      const trust = new NodeTrust({ config, identity, datastore, logger })
      await dropPersistedPeerStore(datastore, logger.forComponent('horus:node'))
      const libp2p = await createLibp2p(
        meshLibp2pOptions({
          config,
          privateKey: heldSigningKey(identity.privateKey),
          // The peer store in memory, everything else on disk (libp2p-datastore.ts).
          datastore: libp2pDatastore(datastore).datastore,
          logger,
          trusted: (peer) => isTrustedPeer(trust.policy, peer.toString()),
          ...(swarmKey === undefined ? {} : { swarmKey }),
          ...(options.connectionGater === undefined ? {} : { connectionGater: options.connectionGater }),
        }),
      )
      const node = new HorusNode({
        config,
        identity,
        libp2p,
        datastore,
        datastoreRecovery: recovery,
        logger,
        trust,
        spanExporter: options.spanExporter,
      })
      if (options.start ?? true) await node.start()
      return node
    } catch (err) {
      if (datastore.db.status === 'open') await datastore.close()
      throw err
    }
  }

  get peerId(): string {
    return this.libp2p.peerId.toString()
  }

  get dataDir(): string {
    return this.config.dataDir
  }

  get roles(): readonly Role[] {
    return this.config.roles
  }

  get isRunning(): boolean {
    return this.running
  }

  /** Milliseconds since `start()`. */
  get uptimeMs(): number {
    return this.running ? Date.now() - this.startedAt : 0
  }

  async start(): Promise<void> {
    if (this.running) return
    try {
      await this.trust.start()
      this.keeper.follow()
      // Before libp2p, so the trimmer sees every gossip mesh graft from the first one.
      this.trimmer.start()
      try {
        await this.libp2p.start()
      } catch (err) {
        throw fromLibp2pListenError(err)
      }
      this.startedAt = Date.now()
      this.running = true
      // In the background: a node starts even when an early peer is slow to answer.
      this.earlyConnections = new AbortController()
      this.reidentifying = reidentifyEarlyConnections(this.libp2p, this.log, this.earlyConnections.signal)
      await this.rpcServer.start()
      await this.blobs.start()
      await this.gateway?.start()
      await this.keeper.start()
      this.liveness.start()
      this.heardAddrs.start()
      this.advertiser.start()
      for (const role of this.config.roles) this.advertiser.add(await roleCid(role))
    } catch (err) {
      // Release what did start (sockets, the trust-file watcher) so a failed start leaves nothing.
      this.running = true
      await this.stop().catch((stopErr: unknown) =>
        this.log.error('cleanup after a failed start - %e', stopErr),
      )
      throw err
    }
    this.log('started %p with roles [%s]', this.libp2p.peerId, this.config.roles.join(','))
    if (this.gateway !== undefined) this.log('gateway %s: %s', this.gateway.url, this.gatewayIdentity())
  }

  /** Who HTTP callers act as, in words: said at start-up, so nobody mistakes the gateway for a superuser. */
  gatewayIdentity(): string {
    const grant = this.config.gateway?.grant
    const scope =
      grant === undefined
        ? 'every role and capability its trust entry (self) holds; set gateway.grant to narrow it'
        : `restricted by gateway.grant to roles ${grant.roles.join(', ')} and capabilities ${grant.capabilities.join(', ') || 'none'}`
    return `HTTP callers act as this node's key ${this.peerId}, ${scope}`
  }

  /** Stops libp2p and closes the datastore; after this the process holds no handles of ours. */
  async stop(): Promise<void> {
    if (!this.running) {
      await this.closeDatastore()
      return
    }
    this.running = false
    this.earlyConnections?.abort()
    await this.reidentifying
    this.liveness.stop()
    this.heardAddrs.stop()
    this.trimmer.stop()
    await this.advertiser.stop()
    await this.keeper.stop()
    await this.gateway?.stop()
    await this.blobs.stop()
    await this.rpcServer.stop()
    await this.libp2p.stop()
    await this.trust.stop()
    // Spans still buffered go out now; an unreachable collector costs its export timeout, once.
    await this.tracing
      ?.shutdown()
      .catch((err: unknown) => this.log.error('exporting the last spans failed - %e', err))
    await this.closeDatastore()
    this.log('stopped')
  }

  /** Health of the parts every node has; roles add their own checks in later layers. */
  health(): NodeHealth {
    const mesh = this.keeper.status()
    const reachability = reachabilityCheck(this.natStatus(), this.uptimeMs)
    const checks: Record<string, string> = {
      libp2p: this.libp2p.status === 'started' ? 'ok' : this.libp2p.status,
      datastore:
        this.datastore.db.status !== 'open'
          ? this.datastore.db.status
          : this.datastoreRecovery === undefined
            ? 'ok'
            : datastoreCheck(this.datastoreRecovery),
      peers: this.libp2p.getPeers().length > 0 ? 'ok' : aloneMessage(mesh, Date.now()),
      reachability: reachability.text,
    }
    // A node meant to join others (it has bootstrap peers) and connected to none is not healthy;
    // the first node of a mesh, with nobody to join, is. So is a node behind NAT that holds no
    // reservation on the relays it has: nobody outside its network can reach it.
    const alone = checks.peers !== 'ok' && mesh.bootstrap.length > 0
    const degraded = checks.libp2p !== 'ok' || checks.datastore !== 'ok' || alone || reachability.degraded
    return { status: degraded ? 'degraded' : 'ok', checks }
  }

  /** Reachability, relay reservations and this node's relay service (`node.nat`). */
  natStatus(): NodeNatStatus {
    return nodeNatStatus(this.libp2p.services.nat, this.libp2p.services.relay, this.config.relay)
  }

  /** The peers this node is connected to, as `node.peers` reports them. */
  connectedPeers(): Promise<PeerSummary[]> {
    return connectedPeers(this.libp2p, {
      name: (peerId) => trustName(this.trust.policy, peerId),
      roles: (peerId) => this.liveness.get(peerId)?.roles,
    })
  }

  private infoSource(): NodeInfoSource {
    const startedAt = (): number => this.startedAt
    return {
      peerId: this.peerId,
      publicKeyHex: this.identity.publicKeyHex,
      roles: this.config.roles,
      version: VERSION,
      get startedAt() {
        return startedAt()
      },
      getMultiaddrs: () => this.multiaddrs(),
      getPeers: () => this.connectedPeers(),
      health: () => this.health(),
    }
  }

  /** Full dialable addresses, each ending in `/p2p/<peer id>`. */
  multiaddrs(): string[] {
    return this.libp2p.getMultiaddrs().map((ma) => ma.toString())
  }

  /** What heartbeats carry: listen addresses without the `/p2p/<self>` suffix (see `Heartbeat.addrs`). */
  private announcedAddrs(): string[] {
    const suffix = `/p2p/${this.libp2p.peerId.toString()}`
    return this.libp2p
      .getMultiaddrs()
      .map((ma) => {
        const text = ma.toString()
        return text.endsWith(suffix) ? text.slice(0, -suffix.length) : text
      })
      .filter((text) => text.length <= MAX_HEARTBEAT_ADDR_LENGTH)
      .slice(0, MAX_HEARTBEAT_ADDRS)
  }

  private async closeDatastore(): Promise<void> {
    if (this.datastore.db.status === 'open') await this.datastore.close()
  }
}

/** `alone for 12 s; bootstrap 12D3…: 3 failed dials, next in 4 s` — what `node.health` says. */
function aloneMessage(mesh: MeshStatus, now: number): string {
  const since = mesh.aloneSince === undefined ? '' : ` for ${Math.round((now - mesh.aloneSince) / 1000)} s`
  if (mesh.bootstrap.length === 0) return `alone${since}: no peer connected and no bootstrap peer configured`
  const peers = mesh.bootstrap.map((peer) => {
    const next =
      peer.nextAttemptAt === undefined
        ? ''
        : `, next in ${Math.max(0, Math.round((peer.nextAttemptAt - now) / 1000))} s`
    return `${peer.peerId}: ${peer.failures} failed dial(s)${next}`
  })
  return `alone${since}: retrying bootstrap peers (${peers.join('; ')})`
}

/** Creates (and by default starts) a node from a validated config. */
export async function createNode(config: NodeConfig, options: CreateNodeOptions = {}): Promise<HorusNode> {
  return HorusNode.create(config, options)
}
