// redis.conf for a Redis Cluster member.
import type { RedisSpec } from '../../api/types.js';
import { assertSingleLineConfig } from './lines.js';

export interface RedisConfigInput {
  port: number;
  bind: string;
  /** The data volume: nodes.conf and the AOF live here so identity survives restarts. */
  dir: string;
  /** Address announced to the cluster; omitted in the pod (passed as --cluster-announce-ip $(POD_IP)). */
  announceIp?: string;
  /** Harness-only `requirepass` + `masterauth` (the `default` user); pods use `acl` instead. */
  password?: string;
  /**
   * ACL users: `aclfile` (renderRedisAclFile) and a file with masteruser/masterauth
   * (renderRedisAuthConf) to `include`. In pods both come from a Secret volume.
   */
  acl?: { aclFile: string; authConf: string };
  clusterNodeTimeoutMs?: number;
}

export const REDIS_CLUSTER_CONFIG_FILE = 'nodes.conf';

export const REDIS_RESERVED_KEYS = [
  'port',
  'bind',
  'dir',
  'cluster-enabled',
  'cluster-config-file',
  'cluster-announce-ip',
  'requirepass',
  'masterauth',
  'masteruser',
  'aclfile',
  'include',
  'user',
  'appendonly',
];

export function renderRedisConf(spec: RedisSpec, input: RedisConfigInput): string {
  const base: Record<string, string> = {
    'cluster-node-timeout': String(input.clusterNodeTimeoutMs ?? 5000),
    // A cache keeps serving the slots it has while another shard fails over.
    'cluster-require-full-coverage': 'no',
    'cluster-allow-reads-when-down': 'yes',
    // Replicas are added and moved by the operator, never by the cluster itself.
    'cluster-migration-barrier': '1',
    'cluster-allow-replica-migration': 'no',
    appendfsync: 'everysec',
    'aof-use-rdb-preamble': 'yes',
    maxmemory: spec.maxmemory,
    'maxmemory-policy': spec.maxmemoryPolicy,
    'protected-mode': 'no',
    'tcp-keepalive': '60',
  };
  assertSingleLineConfig('spec.redis.config', spec.config);
  for (const [k, v] of Object.entries(spec.config)) {
    if (!REDIS_RESERVED_KEYS.includes(k)) base[k] = v;
  }
  const lines = [
    '# Rendered by the CacheTier operator; edit spec.redis.config instead.',
    `port ${input.port}`,
    `bind ${input.bind}`,
    `dir ${input.dir}`,
    'cluster-enabled yes',
    `cluster-config-file ${REDIS_CLUSTER_CONFIG_FILE}`,
    'appendonly yes',
  ];
  if (input.announceIp) lines.push(`cluster-announce-ip ${input.announceIp}`);
  if (input.password !== undefined) {
    lines.push(`requirepass ${input.password}`, `masterauth ${input.password}`);
  }
  for (const k of Object.keys(base).sort()) lines.push(`${k} ${base[k]}`);
  if (input.acl) lines.push(`aclfile ${input.acl.aclFile}`, `include ${input.acl.authConf}`);
  return lines.join('\n') + '\n';
}
