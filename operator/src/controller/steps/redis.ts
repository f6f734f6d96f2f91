// Step 2, orchestrate Redis: one call into the Redis orchestrator (operator/src/redis, behind
// orchestration/types.ts). It decides the StatefulSet's replicas: grow first, shrink only after a
// verified drain. When it cannot be called (StatefulSet unreadable, no password, no pod running),
// the reason becomes the Redis conditions' status instead.
import type { RedisMigrationStatus, ResolvedCacheTier } from '../../api/types.js';
import { migrationStatus } from '../status.js';
import { describeError } from '../../runtime/kube.js';
import type { ConditionUpdate, MigrationProgress, OrchestrationEvent, RedisOrchestrator, RedisReconcileResult } from '../../orchestration/types.js';
import { redisSpecMembers, childName } from '../../render/names.js';
import type { Logger } from '../../log.js';
import type { RedisObservation } from './observe.js';

export interface RedisStepOutcome {
  /** The orchestrator's answer; undefined when it was not called or failed. */
  result?: RedisReconcileResult;
  /** Why there is no result: applied to every orchestration condition (type is a placeholder). */
  problem?: ConditionUpdate;
  /** Replicas to render for the Redis StatefulSet. */
  replicas: number;
  events: OrchestrationEvent[];
}

export async function orchestrateRedis(
  orchestrator: RedisOrchestrator,
  tier: ResolvedCacheTier,
  obs: RedisObservation,
  log: Logger,
  onProgress?: (p: MigrationProgress) => void,
): Promise<RedisStepOutcome> {
  const shape = tier.spec.redis;
  const want = redisSpecMembers(tier);
  // The StatefulSet follows the spec upward even when no pod runs; it never shrinks without
  // the orchestration's word.
  const out: RedisStepOutcome = { replicas: Math.max(obs.currentReplicas, want), events: [] };
  const problem = (reason: string, message: string): RedisStepOutcome => ({
    ...out,
    problem: { type: 'SlotsCovered', status: 'Unknown', reason, message },
  });
  if (obs.statefulSetError) return problem('ReadFailed', `StatefulSet ${childName(tier, 'redis')}: ${obs.statefulSetError}`);
  if (obs.passwordProblem) return problem('PasswordUnavailable', obs.passwordProblem);
  if (obs.members.length === 0) return problem('PodsNotRunning', `${obs.members.length}/${out.replicas} Redis pods running`);
  try {
    const result = await orchestrator.reconcile(
      {
        masters: shape.masters,
        replicasPerMaster: shape.replicasPerMaster,
        ...(obs.rolling ? { holdMasterPlacement: true } : {}),
        username: obs.username,
        password: obs.password,
      },
      obs.members,
      obs.currentReplicas || want,
      onProgress,
    );
    return { result, replicas: result.statefulSetReplicas, events: [...result.events] };
  } catch (err) {
    const msg = describeError(err);
    log.warn({ err: msg }, 'Redis orchestration failed');
    return { ...problem('OrchestrationError', msg), events: [{ type: 'Warning', reason: 'RedisOrchestrationFailed', message: msg }] };
  }
}

/**
 * Writes status.redis.migration while slots move, so `kubectl get cachetier` shows a reshard as
 * it happens: at most once per `everyMs`, one write at a time, the last report always written
 * (flush). Failures are logged, never fatal: the pass's own status write follows.
 */
export function migrationStatusWriter(
  write: (migration: RedisMigrationStatus) => Promise<void>,
  now: () => Date,
  log: Logger,
  everyMs = 2000,
): { onProgress: (p: MigrationProgress) => void; flush: () => Promise<void> } {
  let startedAt: string | undefined;
  let latest: MigrationProgress | undefined;
  let written: MigrationProgress | undefined;
  let lastWrite = 0;
  let inFlight: Promise<void> | undefined;
  const writeLatest = async (): Promise<void> => {
    while (latest && latest !== written) {
      const p = latest;
      written = p;
      lastWrite = now().getTime();
      await write(migrationStatus(p, startedAt!, now().toISOString())).catch((err: unknown) => {
        log.warn({ err: describeError(err) }, 'writing status.redis.migration failed');
      });
    }
  };
  return {
    onProgress(p) {
      startedAt ??= now().toISOString();
      latest = p;
      if (inFlight || now().getTime() - lastWrite < everyMs) return;
      inFlight = writeLatest().finally(() => (inFlight = undefined));
    },
    async flush() {
      await inFlight;
      await writeLatest();
    },
  };
}
