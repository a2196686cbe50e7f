/**
 * Jobs announced on `horus/v1/jobs/<capability>` are claimed by exactly one live supervisor:
 * rendezvous (highest-random-weight) hashing of the job id over the supervisors in the liveness
 * cache plus this one. The claimant submits the job to itself; the others remember it until it
 * could no longer be taken over, and re-run the choice when a supervisor is lost. CLAIMS.md has
 * the rule and its guarantees.
 */
import { createHash } from 'node:crypto'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import type { Logger } from '@libp2p/interface'
import {
  capabilityOfTopic,
  createJobTopicValidator,
  type JobEnvelope,
  type JobVerifier,
  jobTopic,
} from '../../protocols/jobs/index.js'
import type { LivenessService, LivePeer } from '../../protocols/liveness/index.js'
import { MAX_WATCHED_ANNOUNCEMENTS, WATCH_ANNOUNCEMENT_MS } from './constants.js'

export interface GossipClaimsInit {
  pubsub: GossipSub
  liveness: LivenessService
  verifier: JobVerifier
  self: string
  log: Logger
  /** Capabilities whose topics are joined from the start; more are joined as runners announce them. */
  capabilities: readonly string[]
  submit(job: JobEnvelope): Promise<unknown>
}

interface Watched {
  job: JobEnvelope
  claimant: string
  until: number
}

/** The score of `peerId` for `jobId`: the first 8 bytes of sha256(jobId ‖ 0x00 ‖ peerId). */
export function rendezvousScore(jobId: string, peerId: string): bigint {
  return createHash('sha256').update(jobId).update('\0').update(peerId).digest().readBigUInt64BE(0)
}

/** The supervisor among `candidates` that claims `jobId` (ties, which need a hash collision, go to the lower id). */
export function claimant(jobId: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined
  let bestScore = -1n
  for (const peerId of candidates) {
    const score = rendezvousScore(jobId, peerId)
    if (score > bestScore || (score === bestScore && best !== undefined && peerId < best)) {
      best = peerId
      bestScore = score
    }
  }
  return best
}

export class GossipClaims {
  private readonly init: GossipClaimsInit
  private readonly topics = new Set<string>()
  private readonly watched = new Map<string, Watched>()

  constructor(init: GossipClaimsInit) {
    this.init = init
  }

  start(): void {
    for (const capability of this.init.capabilities) this.join(capability)
    for (const peer of this.init.liveness.alive()) this.joinAnnounced(peer)
    this.init.pubsub.addEventListener('message', this.onMessage)
    this.init.liveness.addEventListener('peer:alive', this.onAlive)
    this.init.liveness.addEventListener('peer:changed', this.onAlive)
    this.init.liveness.addEventListener('peer:lost', this.onLost)
  }

  stop(): void {
    this.init.pubsub.removeEventListener('message', this.onMessage)
    this.init.liveness.removeEventListener('peer:alive', this.onAlive)
    this.init.liveness.removeEventListener('peer:changed', this.onAlive)
    this.init.liveness.removeEventListener('peer:lost', this.onLost)
    for (const topic of this.topics) {
      this.init.pubsub.unsubscribe(topic)
      this.init.pubsub.topicValidators.delete(topic)
    }
    this.topics.clear()
    this.watched.clear()
  }

  /** The live supervisors a claim is decided among: this one and every one heard from. */
  supervisors(): string[] {
    const peers = this.init.liveness
      .alive()
      .filter((p) => p.roles.includes('supervisor'))
      .map((p) => p.peerId)
    return [this.init.self, ...peers]
  }

  /** Subscribes to the job topic of `capability` with the verifying validator. */
  join(capability: string): void {
    const topic = jobTopic(capability)
    if (this.topics.has(topic)) return
    this.topics.add(topic)
    this.init.pubsub.topicValidators.set(topic, createJobTopicValidator(this.init.verifier))
    this.init.pubsub.subscribe(topic)
  }

  private joinAnnounced(peer: LivePeer): void {
    if (!peer.roles.includes('runner')) return
    for (const capability of peer.capabilities) {
      try {
        this.join(capability)
      } catch {
        // A capability name that is not a topic name cannot be announced on gossip anyway.
      }
    }
  }

  private readonly onAlive = (evt: CustomEvent<LivePeer>): void => {
    this.joinAnnounced(evt.detail)
  }

  private readonly onMessage = (evt: CustomEvent<Message>): void => {
    const message = evt.detail
    if (!this.topics.has(message.topic) || capabilityOfTopic(message.topic) === undefined) return
    let job: JobEnvelope
    try {
      // The topic validator already verified it; parsing cannot fail on what it accepted.
      job = JSON.parse(new TextDecoder().decode(message.data)) as JobEnvelope
    } catch {
      return
    }
    const winner = claimant(job.id, this.supervisors())
    if (winner === this.init.self) {
      this.claim(job)
      return
    }
    if (winner === undefined) return
    this.watch({ job, claimant: winner, until: Math.min(job.expiresAt, Date.now() + WATCH_ANNOUNCEMENT_MS) })
  }

  private readonly onLost = (evt: CustomEvent<LivePeer>): void => {
    if (!evt.detail.roles.includes('supervisor')) return
    const lost = evt.detail.peerId
    const now = Date.now()
    const candidates = this.supervisors().filter((p) => p !== lost)
    for (const [id, entry] of this.watched) {
      if (entry.until <= now) {
        this.watched.delete(id)
        continue
      }
      if (entry.claimant !== lost) continue
      const next = claimant(id, candidates)
      if (next === this.init.self) {
        this.watched.delete(id)
        this.init.log('supervisor %s lost: taking over announced job %s', lost, id)
        this.claim(entry.job)
      } else if (next !== undefined) {
        entry.claimant = next
      }
    }
  }

  private watch(entry: Watched): void {
    if (this.watched.size >= MAX_WATCHED_ANNOUNCEMENTS) {
      const oldest = this.watched.keys().next().value
      if (oldest !== undefined) this.watched.delete(oldest)
    }
    this.watched.set(entry.job.id, entry)
  }

  private claim(job: JobEnvelope): void {
    this.init.submit(job).catch((err: Error) => {
      this.init.log('announced job %s not accepted: %s', job.id, err.message)
    })
  }
}
