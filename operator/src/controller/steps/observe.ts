// Step 1, observe: what the Redis orchestration needs to know before anything is applied — the
// live Redis StatefulSet (its replicas), the running Redis pods and every Redis role's password
// (steps/redis-auth.ts creates the operator-owned passwords Secret the first time).
import type { ResolvedCacheTier } from '../../api/types.js';
import type { KObject, KubeClient, PodInfo } from '../../runtime/kube.js';
import { describeError } from '../../runtime/kube.js';
import type { RedisMember } from '../../orchestration/types.js';
import { selectorLabels } from '../../render/common.js';
import { childName } from '../../render/names.js';
import { REDIS_PORT, REDIS_USERS } from '../../../../packages/contract/src/index.js';
import type { RedisCredentials } from '../../render/config/redis-acl.js';
import { observeRedisAuth } from './redis-auth.js';

export interface RedisObservation {
  /** The live StatefulSet; undefined when it does not exist yet (or could not be read). */
  statefulSet?: KObject;
  /** Set when the StatefulSet could not be read: without its replicas no grow/shrink is safe. */
  statefulSetError?: string;
  /** spec.replicas of the live StatefulSet (0 when absent). */
  currentReplicas: number;
  pods: PodInfo[];
  /** `pods` is the API's answer (false: listing them failed, `pods` is empty). */
  podsListed: boolean;
  /** Running pods with an IP, in ordinal order: what the orchestrator works on. */
  members: RedisMember[];
  /** The admin ACL user and its password: what the orchestrator authenticates with. */
  username?: string;
  password?: string;
  passwordProblem?: string;
  /** Every role's password, for rendering the ACL Secret; undefined when passwordProblem is set. */
  credentials?: RedisCredentials;
  /** Some Redis pod runs an older revision than the StatefulSet's updateRevision (a roll is due or under way). */
  rolling: boolean;
  /** Failures that fail the pass (it is retried), e.g. listing pods. */
  errors: string[];
}

export function podOrdinal(pod: string): number {
  const m = /-(\d+)$/.exec(pod);
  return m ? Number(m[1]) : -1;
}

export function redisMembersFromPods(pods: PodInfo[]): RedisMember[] {
  return pods
    .filter((p) => p.phase === 'Running' && p.podIP && !p.deleting && podOrdinal(p.name) >= 0)
    .map((p) => ({ pod: p.name, ordinal: podOrdinal(p.name), host: p.podIP as string, port: REDIS_PORT, node: p.nodeName ?? '' }))
    .sort((a, b) => a.ordinal - b.ordinal);
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

export async function observeRedis(kube: KubeClient, tier: ResolvedCacheTier): Promise<RedisObservation> {
  const { namespace } = tier.metadata;
  const obs: RedisObservation = { currentReplicas: 0, pods: [], podsListed: false, members: [], rolling: false, errors: [] };
  try {
    obs.statefulSet = await kube.get({ apiVersion: 'apps/v1', kind: 'StatefulSet', namespace, name: childName(tier, 'redis') });
  } catch (err) {
    obs.statefulSetError = describeError(err);
  }
  obs.currentReplicas = num((obs.statefulSet?.spec as { replicas?: unknown } | undefined)?.replicas);
  try {
    obs.pods = await kube.listPods(namespace, selectorLabels(tier, 'redis'));
    obs.podsListed = true;
  } catch (err) {
    obs.errors.push(`list Redis pods: ${describeError(err)}`);
  }
  obs.members = redisMembersFromPods(obs.pods);
  const revision = (obs.statefulSet?.status as { updateRevision?: unknown } | undefined)?.updateRevision;
  obs.rolling = typeof revision === 'string' && obs.pods.some((p) => !p.deleting && p.labels['controller-revision-hash'] !== revision);
  const auth = await observeRedisAuth(kube, tier);
  if (auth.credentials) {
    obs.credentials = auth.credentials;
    obs.username = REDIS_USERS.operator;
    obs.password = auth.credentials.operator;
  } else {
    obs.passwordProblem = auth.problem;
  }
  return obs;
}
