import { CAPABILITY_PATTERN, JOB_TOPIC_PREFIX } from './constants.js'
import { InvalidJobError } from './errors.js'

/** The gossipsub topic on which jobs for `capability` are announced: `horus/v1/jobs/<capability>`. */
export function jobTopic(capability: string): string {
  if (!CAPABILITY_PATTERN.test(capability)) {
    throw new InvalidJobError(`not a capability name: ${JSON.stringify(capability)}`)
  }
  return `${JOB_TOPIC_PREFIX}${capability}`
}

/** The capability of a job topic, or undefined for any other topic. */
export function capabilityOfTopic(topic: string): string | undefined {
  if (!topic.startsWith(JOB_TOPIC_PREFIX)) return undefined
  const capability = topic.slice(JOB_TOPIC_PREFIX.length)
  return CAPABILITY_PATTERN.test(capability) ? capability : undefined
}
