/**
 * gossipsub only scores topics that have parameters, so the job topics need their own. Job traffic
 * is sparse and bursty: mesh-delivery (P3) penalties would punish honest peers for quiet periods,
 * so they are off; what matters is P4, invalid deliveries, weighted so a few rejected jobs take a
 * peer below the default graylist threshold (-80) and decaying so an honest peer that once
 * forwarded a job that expired in flight recovers within a minute. The liveness, state and events
 * topics use the same parameters: there a rejected message is a stranger publishing directly or a
 * key writing what its role does not allow.
 */
import { createTopicScoreParams, type TopicScoreParams } from '@libp2p/gossipsub/score'
import { jobTopic } from './topics.js'

/** P4 weight: 3 invalid jobs → 3² × -10 = -90, below the default graylist threshold of -80. */
export const JOB_TOPIC_INVALID_WEIGHT = -10
/** P4 decay per decay interval (1 s by default): the counter halves in ~7 s. */
export const JOB_TOPIC_INVALID_DECAY = 0.9

export function jobTopicScoreParams(): TopicScoreParams {
  return createTopicScoreParams({
    topicWeight: 1,
    timeInMeshWeight: 0.01,
    timeInMeshQuantum: 1000,
    timeInMeshCap: 100,
    firstMessageDeliveriesWeight: 0.5,
    firstMessageDeliveriesDecay: 0.9,
    firstMessageDeliveriesCap: 20,
    meshMessageDeliveriesWeight: 0,
    meshFailurePenaltyWeight: 0,
    invalidMessageDeliveriesWeight: JOB_TOPIC_INVALID_WEIGHT,
    invalidMessageDeliveriesDecay: JOB_TOPIC_INVALID_DECAY,
  })
}

/** `scoreParams.topics` entries for the job topics of `capabilities`, to spread into gossipsub's init. */
export function jobTopicsScoreParams(capabilities: Iterable<string>): Record<string, TopicScoreParams> {
  const topics: Record<string, TopicScoreParams> = {}
  for (const capability of capabilities) topics[jobTopic(capability)] = jobTopicScoreParams()
  return topics
}
