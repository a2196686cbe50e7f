export { trustedPublisher } from './trusted-publisher.js'
export {
  type DropReason,
  type PublisherVerdict,
  type TopicPubSub,
  type TopicStats,
  ValidatedTopic,
  type ValidatedTopicInit,
} from './validated-topic.js'
