// Redis Cluster orchestration. The reconciler only calls createRedisOrchestrator();
// everything else here is exported for tests, the local harness and the reshard benchmark.
import type { RedisOrchestrator } from '../orchestration/types.js';
import { Orchestrator, type RedisOrchestratorOptions } from './orchestrator.js';

export type { RedisOrchestratorOptions } from './orchestrator.js';
export { Orchestrator } from './orchestrator.js';
export { RedisRollObserver, type RedisRollObserverOptions } from './roll.js';
export { HookAbort, MIGRATION_STEPS, type MigrationStep, type MigrationHooks } from './migrate.js';

export function createRedisOrchestrator(opts: RedisOrchestratorOptions = {}): RedisOrchestrator & Orchestrator {
  return new Orchestrator(opts);
}
