// The pod-level gate every planner applies first: a roll moves only when every pod of the
// StatefulSet exists, none is on its way out and all are Ready. Pure; the driver also runs it
// before observing, so a pass that must wait for Kubernetes asks no server anything.
import type { RollDecision, RollPod } from './types.js';

export function byOrdinal(a: RollPod, b: RollPod): number {
  return a.ordinal - b.ordinal;
}

/** "shop-kafka" from "shop-kafka-2": the StatefulSet's pod name prefix. */
function podBase(pods: RollPod[]): string | undefined {
  const m = pods.length ? /^(.*)-\d+$/.exec(pods[0].pod) : null;
  return m ? m[1] : undefined;
}

/** A wait decision when the pods are not settled (missing, terminating, not ready), else null. */
export function podsNotSettled(pods: RollPod[], expected: number): Extract<RollDecision, { action: 'wait' }> | null {
  const sorted = [...pods].sort(byOrdinal);
  const have = new Set(sorted.map((p) => p.ordinal));
  const missing = Array.from({ length: expected }, (_, i) => i).filter((i) => !have.has(i));
  if (missing.length || sorted.length < expected) {
    const base = podBase(sorted);
    const names = missing.map((i) => (base ? `${base}-${i}` : `ordinal ${i}`));
    const which = names.length ? names.join(', ') : `${expected - sorted.length} pod(s)`;
    return {
      action: 'wait',
      ...(names.length ? { pod: names[0] } : {}),
      reason: `${sorted.length} of ${expected} pods exist; waiting for ${which} to be created`,
    };
  }
  const terminating = sorted.find((p) => p.terminating);
  if (terminating) return { action: 'wait', pod: terminating.pod, reason: `${terminating.pod} is terminating` };
  const notReady = sorted.find((p) => !p.ready);
  if (notReady) return { action: 'wait', pod: notReady.pod, reason: `${notReady.pod} is not ready` };
  return null;
}

export function countCurrent(pods: RollPod[]): number {
  return pods.filter((p) => p.current).length;
}
