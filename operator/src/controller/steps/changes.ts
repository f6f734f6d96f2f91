// Step 6, changes flowing: once the producer and the topics are ready, ask every ready producer
// pod how its Kafka consumers are doing (ProducerProbe, operator/src/producer/probe.ts). Its one
// condition becomes ChangesFlowing.
import type { ResolvedCacheTier } from '../../api/types.js';
import type { KubeClient } from '../../runtime/kube.js';
import { describeError } from '../../runtime/kube.js';
import type { ConditionUpdate, ProducerProbe } from '../../orchestration/types.js';
import { selectorLabels } from '../../render/common.js';
import { PRODUCER_HTTP_PORT } from '../../../../packages/contract/src/index.js';
import { CHANGES_CONDITION, changesFlowingCondition } from '../conditions.js';

export async function checkChangesFlowing(
  kube: KubeClient,
  probe: ProducerProbe,
  tier: ResolvedCacheTier,
  ready: { producer: boolean; topics: boolean },
): Promise<ConditionUpdate> {
  const type = CHANGES_CONDITION;
  if (!ready.producer) return { type, status: 'Unknown', reason: 'WaitingForProducer', message: 'waiting for the producer to be ready' };
  if (!ready.topics) return { type, status: 'Unknown', reason: 'WaitingForTopics', message: 'waiting for the topics' };
  let pods;
  try {
    pods = await kube.listPods(tier.metadata.namespace, selectorLabels(tier, 'producer'));
  } catch (err) {
    return { type, status: 'Unknown', reason: 'ReadFailed', message: `list producer pods: ${describeError(err)}` };
  }
  const targets = pods
    .filter((p) => p.ready && p.podIP && !p.deleting)
    .map((p) => ({ pod: p.name, host: p.podIP as string, port: PRODUCER_HTTP_PORT }))
    .sort((a, b) => a.pod.localeCompare(b.pod));
  return changesFlowingCondition(await probe.health(targets));
}
