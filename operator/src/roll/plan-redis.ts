// PLACEHOLDER, replaced at merge by the Redis planner built on its own branch (same signature).
// It exists so driver.ts compiles here; it never acts.
import type { RedisRollState, RollDecision, RollPod } from './types.js';

export function planRedisRoll(_pods: RollPod[], _expected: number, _state: RedisRollState): RollDecision {
  return { action: 'wait', reason: 'redis roll planner not built' };
}
