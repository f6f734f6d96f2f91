// Kafka topic management. OWNER: issue 4. The reconciler only calls createTopicManager().
import type { TopicManager } from '../orchestration/types.js';

export interface TopicManagerOptions {
  clientId?: string;
  timeoutMs?: number;
}

export function createTopicManager(_opts: TopicManagerOptions = {}): TopicManager {
  return {
    async reconcile(_brokers, topics) {
      return {
        topics: topics.map((t) => ({ name: t.name, partitions: 0, replicationFactor: 0, ready: false, message: 'pending' })),
        condition: { type: 'TopicsReady', status: 'Unknown', reason: 'NotImplemented', message: 'topic management pending' },
        events: [],
      };
    },
  };
}
