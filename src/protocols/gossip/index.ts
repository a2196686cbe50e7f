export { type TopicPubSub, ValidatedTopic, type ValidatedTopicInit } from './validated-topic.js'
