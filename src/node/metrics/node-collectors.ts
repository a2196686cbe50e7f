/** What every node reports: its peers and connections, live members by role, the job verifier, liveness gossip. */
import type { Libp2p } from '@libp2p/interface'
import { Gauge, type Registry } from 'prom-client'
import type { TopicStats } from '../../protocols/gossip/index.js'
import type { JobVerifier } from '../../protocols/jobs/verifier.js'
import type { LivenessService } from '../../protocols/liveness/index.js'
import { METRIC_PREFIX } from './constants.js'
import { pulledCounter, pulledGauge, type Sample, samplesOf } from './pulled.js'

export interface NodeMetricSources {
  peerId: string
  version: string
  libp2p: Pick<Libp2p, 'getPeers' | 'getConnections'>
  liveness: Pick<LivenessService, 'alive'>
  verifier: Pick<JobVerifier, 'stats'>
  /** Every validated gossip topic this node runs (liveness, and the roles' topics). */
  topics(): TopicStats[]
  /** The runner's load, when this node runs jobs. */
  load(): { running: number; capacity: number }
  uptimeMs(): number
}

export function nodeCollectors(registry: Registry, sources: NodeMetricSources): void {
  const info = new Gauge({
    name: `${METRIC_PREFIX}node_info`,
    help: 'Always 1; labels say which node and version this is.',
    labelNames: ['peer_id', 'version'],
    registers: [registry],
  })
  info.set({ peer_id: sources.peerId, version: sources.version }, 1)
  pulledGauge({
    registry,
    name: `${METRIC_PREFIX}node_uptime_seconds`,
    help: 'Seconds since the node started.',
    read: () => [[{}, sources.uptimeMs() / 1000]],
  })
  pulledGauge({
    registry,
    name: `${METRIC_PREFIX}peers`,
    help: 'Peers this node has a connection to.',
    read: () => [[{}, sources.libp2p.getPeers().length]],
  })
  pulledGauge({
    registry,
    name: `${METRIC_PREFIX}connections`,
    help: 'Open libp2p connections, by direction.',
    labelNames: ['direction'],
    read: () => {
      const counts = { inbound: 0, outbound: 0 }
      for (const connection of sources.libp2p.getConnections()) counts[connection.direction]++
      return samplesOf('direction', counts)
    },
  })
  pulledGauge({
    registry,
    name: `${METRIC_PREFIX}live_members`,
    help: 'Members heard alive on the liveness topic (trusted by this node), by role.',
    labelNames: ['role'],
    read: () => {
      const counts = new Map<string, number>()
      for (const peer of sources.liveness.alive())
        for (const role of peer.roles) counts.set(role, (counts.get(role) ?? 0) + 1)
      return samplesOf('role', counts)
    },
  })
  pulledCounter({
    registry,
    name: `${METRIC_PREFIX}job_verifier_accepted_total`,
    help: 'Signed jobs the verifier accepted, by mode (verify: before execution; check: gossip and previews).',
    labelNames: ['mode'],
    read: () => {
      const stats = sources.verifier.stats()
      return samplesOf('mode', { verify: stats.accepted, check: stats.checked })
    },
  })
  pulledCounter({
    registry,
    name: `${METRIC_PREFIX}job_verifier_rejections_total`,
    help: 'Signed jobs the verifier refused, by reason (bad_signature, replayed, expired, untrusted…).',
    labelNames: ['reason'],
    read: () => samplesOf('reason', sources.verifier.stats().rejected),
  })
  gossipCollectors(registry, sources.topics)
  pulledGauge({
    registry,
    name: `${METRIC_PREFIX}runner_jobs_running`,
    help: 'Jobs this node is executing as a runner.',
    read: () => [[{}, sources.load().running]],
  })
  pulledGauge({
    registry,
    name: `${METRIC_PREFIX}runner_capacity`,
    help: 'Jobs this node may execute at once as a runner (0 without the runner role).',
    read: () => [[{}, sources.load().capacity]],
  })
}

function gossipCollectors(registry: Registry, topics: () => TopicStats[]): void {
  const byReason = (pick: (stats: TopicStats) => Record<string, number>) => (): Sample[] =>
    topics().flatMap((stats) => samplesOf('reason', pick(stats), { topic: stats.topic }))
  pulledCounter({
    registry,
    name: `${METRIC_PREFIX}gossip_published_total`,
    help: 'Gossip messages this node published (each signed once), by topic.',
    labelNames: ['topic'],
    read: () => topics().map((stats) => [{ topic: stats.topic }, stats.published] as const),
  })
  pulledCounter({
    registry,
    name: `${METRIC_PREFIX}gossip_accepted_total`,
    help: 'Gossip messages delivered after validation, by topic.',
    labelNames: ['topic'],
    read: () => topics().map((stats) => [{ topic: stats.topic }, stats.accepted] as const),
  })
  pulledCounter({
    registry,
    name: `${METRIC_PREFIX}gossip_rejections_total`,
    help: 'Gossip messages rejected (the sending peer is penalised), by topic and reason.',
    labelNames: ['topic', 'reason'],
    read: byReason((stats) => stats.rejected),
  })
  pulledCounter({
    registry,
    name: `${METRIC_PREFIX}gossip_ignored_total`,
    help: 'Gossip messages dropped without penalty (relayed from an unknown publisher, stale…), by topic and reason.',
    labelNames: ['topic', 'reason'],
    read: byReason((stats) => stats.ignored),
  })
}
