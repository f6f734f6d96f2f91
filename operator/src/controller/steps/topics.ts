// Step 5, topics: once Kafka is ready, create or check the tier's three topics through the topic
// manager (operator/src/kafka). Its one condition becomes TopicsReady.
import type { ResolvedCacheTier } from '../../api/types.js';
import { describeError } from '../../runtime/kube.js';
import type { ConditionUpdate, OrchestrationEvent, TopicManager, TopicReconcileResult } from '../../orchestration/types.js';
import { kafkaBrokerAddresses } from '../../render/names.js';
import { TOPICS_CONDITION } from '../conditions.js';

export interface TopicsStepOutcome {
  result?: TopicReconcileResult;
  condition: ConditionUpdate;
  events: OrchestrationEvent[];
}

export async function reconcileTopics(
  topics: TopicManager,
  tier: ResolvedCacheTier,
  kafkaReady: boolean,
  kafkaReplicas: number,
): Promise<TopicsStepOutcome> {
  if (!kafkaReady || kafkaReplicas <= 0) {
    return { condition: { type: TOPICS_CONDITION, status: 'Unknown', reason: 'WaitingForKafka', message: 'waiting for Kafka to be ready' }, events: [] };
  }
  const t = tier.spec.kafka.topics;
  try {
    const result = await topics.reconcile(kafkaBrokerAddresses(tier, kafkaReplicas), [t.cacheMessage, t.accessLog, t.deadLetter]);
    return { result, condition: { ...result.condition, type: TOPICS_CONDITION }, events: [...result.events] };
  } catch (err) {
    const msg = describeError(err);
    return {
      condition: { type: TOPICS_CONDITION, status: 'Unknown', reason: 'TopicManagerError', message: msg },
      events: [{ type: 'Warning', reason: 'TopicReconcileFailed', message: msg }],
    };
  }
}
