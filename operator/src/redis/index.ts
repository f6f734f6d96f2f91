// Redis Cluster orchestration. OWNER: issue 3. The reconciler only calls createRedisOrchestrator().
import type { RedisOrchestrator } from '../orchestration/types.js';

export interface RedisOrchestratorOptions {
  /** Per-command and connect timeout. */
  timeoutMs?: number;
}

export function createRedisOrchestrator(_opts: RedisOrchestratorOptions = {}): RedisOrchestrator {
  return {
    async reconcile(desired, members, currentStatefulSetReplicas) {
      const want = desired.masters * (1 + desired.replicasPerMaster);
      return {
        members: [],
        readyMasters: 0,
        conditions: [
          { type: 'SlotsCovered', status: 'Unknown', reason: 'NotImplemented', message: `orchestration pending (${members.length} members seen)` },
        ],
        events: [],
        statefulSetReplicas: Math.max(want, currentStatefulSetReplicas),
        converged: false,
      };
    },
  };
}
