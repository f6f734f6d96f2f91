// Which Kafka broker (broker id = pod ordinal) to restart next, if any. Only while every broker is
// registered, a controller is elected and no partition is under-replicated (so the broker
// restarted last has rejoined and caught up before the next one goes); never one whose restart
// would leave a partition it is in sync for with fewer in-sync replicas than min.insync.replicas
// (acks=all producers would fail). Other brokers first (lowest ordinal), the controller last:
// it moves once, not once per broker.
import { byOrdinal, podsNotSettled } from './pods.js';
import type { KafkaClusterState, KafkaPartitionState, RollDecision, RollPod } from './types.js';

const tp = (p: KafkaPartitionState) => `${p.topic}-${p.partition}`;

export function planKafkaRoll(pods: RollPod[], expected: number, state: KafkaClusterState): RollDecision {
  const gate = podsNotSettled(pods, expected);
  if (gate) return gate;
  const sorted = [...pods].sort(byOrdinal);
  const registered = new Set(state.brokers);

  const unregistered = sorted.find((p) => !registered.has(p.ordinal));
  if (unregistered) {
    return { action: 'wait', pod: unregistered.pod, reason: `broker ${unregistered.ordinal} (${unregistered.pod}) is not registered` };
  }
  if (state.controller === null) return { action: 'wait', reason: 'no active Kafka controller' };
  const urp = state.partitions.filter((p) => p.isr.length < p.replicas.length);
  if (urp.length) {
    const first = urp[0];
    return {
      action: 'wait',
      reason:
        `${urp.length} partition${urp.length === 1 ? ' is' : 's are'} under-replicated ` +
        `(${tp(first)}: ISR [${first.isr.join(',')}] of replicas [${first.replicas.join(',')}])`,
    };
  }

  const stale = sorted.filter((p) => !p.current);
  if (!stale.length) return { action: 'done' };
  const controllerPod = sorted.find((p) => p.ordinal === state.controller);
  const others = stale.filter((p) => p.ordinal !== state.controller);
  // The controller only once every other broker runs the new revision.
  const candidates = others.length ? others : stale;
  let refused: Extract<RollDecision, { action: 'wait' }> | undefined;
  for (const p of candidates) {
    // A partition with no more replicas than its min.insync.replicas (one broker, RF 1; or RF 2
    // with min ISR 2) cannot stay writable through any restart of its brokers: waiting would stop
    // the roll forever, so such partitions never block it, and the reason names them.
    const unavoidable = state.partitions.filter((part) => part.isr.includes(p.ordinal) && part.replicas.length <= part.minIsr);
    const blocked = state.partitions.find((part) => part.isr.includes(p.ordinal) && part.isr.length - 1 < part.minIsr && part.replicas.length > part.minIsr);
    if (!blocked) {
      const isController = p.ordinal === state.controller;
      const offline = unavoidable.length
        ? `; ${unavoidable.length} partition${unavoidable.length === 1 ? ' has' : 's have'} no more replicas than min.insync.replicas ` +
          `(${tp(unavoidable[0])}) and cannot take acks=all writes while it restarts`
        : '';
      return {
        action: 'restart',
        pod: p.pod,
        reason:
          (isController
            ? `controller broker ${p.ordinal} (${p.pod}) goes last: every other broker runs the new revision and every partition is fully in sync`
            : `broker ${p.ordinal} (${p.pod}) runs an old revision; every partition is fully in sync` +
              (controllerPod ? ` (controller: broker ${state.controller})` : '')) + offline,
      };
    }
    refused ??= {
      action: 'wait',
      pod: p.pod,
      reason:
        `restarting broker ${p.ordinal} (${p.pod}) would leave ${tp(blocked)} with ${blocked.isr.length - 1} in-sync ` +
        `replicas, below its min.insync.replicas ${blocked.minIsr}`,
    };
  }
  return refused!;
}
