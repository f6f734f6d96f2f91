// One pass of one component's roll: observe the servers, let the component's pure planner decide,
// act at most once. Everything it needs is read from the cluster each pass, so a roller restarted
// mid-roll carries on where the old one stopped. A server that does not answer, or a failed act,
// becomes a Waiting phase with the error as the reason: this never throws for those.
import { planKafkaRoll } from './plan-kafka.js';
import { planRedisRoll } from './plan-redis.js';
import { planZooKeeperRoll } from './plan-zookeeper.js';
import { countCurrent, podsNotSettled } from './pods.js';
import type { RollComponent, RollDecision, RollObserver, RollPod, RollStep } from './types.js';

function errMsg(e: unknown): string {
  if (e && typeof e === 'object' && 'errors' in e && Array.isArray((e as { errors: unknown[] }).errors)) {
    const inner = (e as { errors: unknown[] }).errors.map(errMsg).join('; ');
    if (inner) return inner;
  }
  return e instanceof Error ? e.message : String(e);
}

const NAMES: Record<RollComponent, string> = { zookeeper: 'ZooKeeper', kafka: 'Kafka', redis: 'Redis' };

async function decide(component: RollComponent, pods: RollPod[], expected: number, observer: RollObserver): Promise<RollDecision> {
  switch (component) {
    case 'zookeeper':
      return planZooKeeperRoll(pods, expected, await observer.zookeeper(pods));
    case 'kafka':
      return planKafkaRoll(pods, expected, await observer.kafka(pods));
    case 'redis':
      return planRedisRoll(pods, expected, await observer.redis(pods));
  }
}

export const rollStep: RollStep = async (component, pods, expectedPods, observer, target) => {
  const base = { component, updated: countCurrent(pods), total: Math.max(expectedPods, pods.length) };
  // Waiting for Kubernetes (a pod missing, terminating, not ready) needs no server's answer.
  const gate = podsNotSettled(pods, expectedPods);
  if (gate) return { ...base, phase: 'Waiting', ...(gate.pod ? { pod: gate.pod } : {}), reason: gate.reason };

  let decision: RollDecision;
  try {
    decision = await decide(component, pods, expectedPods, observer);
  } catch (e) {
    return { ...base, phase: 'Waiting', reason: `could not observe ${NAMES[component]}: ${errMsg(e)}` };
  }
  switch (decision.action) {
    case 'done':
      return { ...base, phase: 'Done' };
    case 'wait':
      return { ...base, phase: 'Waiting', ...(decision.pod ? { pod: decision.pod } : {}), reason: decision.reason };
    case 'restart':
      try {
        await target.restart(component, decision.pod);
      } catch (e) {
        return { ...base, phase: 'Waiting', pod: decision.pod, reason: `restarting ${decision.pod} failed: ${errMsg(e)}` };
      }
      return { ...base, phase: 'Rolling', pod: decision.pod, reason: decision.reason };
    case 'failover':
      try {
        await observer.redisFailover(pods, decision.pod, decision.to);
      } catch (e) {
        return { ...base, phase: 'Waiting', pod: decision.pod, reason: `failover of ${decision.pod} to ${decision.to} failed: ${errMsg(e)}` };
      }
      return { ...base, phase: 'Rolling', pod: decision.pod, reason: decision.reason };
  }
};
