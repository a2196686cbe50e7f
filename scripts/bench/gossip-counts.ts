/**
 * Per-topic gossip counts of one node, for the benchmarks: messages it published, copies it
 * received (duplicates included: what arrives before gossipsub's seen-cache drops them), and
 * messages whose signature it verified (the unique ones that reached a topic validator). Counted by
 * wrapping the node's own gossipsub instance methods; the library itself is untouched.
 */
import type { GossipSub } from '@libp2p/gossipsub'

export interface TopicCounts {
  published: number
  received: number
}

type Wrapped = {
  publish: GossipSub['publish']
  handleReceivedMessage(from: unknown, message: { topic: string }): Promise<void>
}

export class GossipCounts {
  private readonly counts = new Map<string, TopicCounts>()

  constructor(pubsub: GossipSub) {
    const target = pubsub as unknown as Wrapped
    const publish = target.publish.bind(pubsub)
    const received = target.handleReceivedMessage.bind(pubsub)
    target.publish = async (topic, data) => {
      this.of(topic).published++
      return publish(topic, data)
    }
    target.handleReceivedMessage = async (from, message) => {
      this.of(message.topic).received++
      return received(from, message)
    }
  }

  of(topic: string): TopicCounts {
    let counts = this.counts.get(topic)
    if (counts === undefined) {
      counts = { published: 0, received: 0 }
      this.counts.set(topic, counts)
    }
    return counts
  }

  snapshot(): Map<string, TopicCounts> {
    return new Map([...this.counts].map(([topic, c]) => [topic, { ...c }]))
  }
}
