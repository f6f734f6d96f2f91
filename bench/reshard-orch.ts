// Child process for the reshard benchmark: runs the operator's orchestrator alone so its time and
// memory (max RSS) are measured without the data loader. Input: one JSON argument.
import { createRedisOrchestrator } from '../operator/src/redis/index.js';
import type { RedisMember } from '../operator/src/orchestration/types.js';

interface Input {
  masters: number;
  replicasPerMaster: number;
  members: RedisMember[];
  migrateBatchKeys?: number;
  migrateConcurrency?: number;
}

async function main() {
  const input = JSON.parse(process.argv[2]) as Input;
  const orch = createRedisOrchestrator({ migrateBatchKeys: input.migrateBatchKeys, migrateConcurrency: input.migrateConcurrency, budgetMs: 3_600_000 });
  const t0 = process.hrtime.bigint();
  let converged = false;
  let events = 0;
  for (let i = 0; i < 20 && !converged; i++) {
    const r = await orch.reconcile({ masters: input.masters, replicasPerMaster: input.replicasPerMaster }, input.members, input.members.length);
    converged = r.converged;
    events += r.events.length;
    if (!converged) await new Promise((res) => setTimeout(res, 100));
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(JSON.stringify({ seconds, converged, events, maxRssMb: process.resourceUsage().maxRSS / 1024 }) + '\n');
}

main().catch((e) => {
  process.stderr.write(String(e instanceof Error ? e.stack : e) + '\n');
  process.exit(1);
});
