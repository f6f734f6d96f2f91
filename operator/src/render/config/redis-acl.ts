// Redis ACL users, one per role (Redis 7.0 ACL file syntax), and the replica's credentials. The
// `default` user is off: every connection must AUTH as one of these users. Passwords are stored as
// SHA-256 hashes (`#<hex>`), so the ACL file never holds one in clear; only auth.conf holds the
// replication user's password, which a replica has to send to its master.
import { createHash } from 'node:crypto';
import {
  FILL_LOCK_PREFIX,
  HOT_SET_KEY,
  INVALIDATION_CHANNEL,
  KEY_PREFIX,
  REDIS_USERS,
  type RedisRole,
} from '../../../../packages/contract/src/index.js';

/** Every role, in the order the ACL file lists them. */
export const REDIS_ROLES: readonly RedisRole[] = ['operator', 'replication', 'producer', 'app', 'distribution', 'monitoring', 'member'];

/** A password per role. */
export type RedisCredentials = Record<RedisRole, string>;

export const REDIS_ACL_FILE = 'users.acl';
export const REDIS_AUTH_CONF_FILE = 'auth.conf';

/** Cluster topology reads every cluster client needs, and ASKING for slots being moved. */
const CLUSTER_CLIENT = ['+ping', '+cluster|slots', '+asking'];

const entryKeys = [`${KEY_PREFIX.product}*`, `${KEY_PREFIX.shop}*`];

/** Each role's rules, without its password. Exported for tests and the docs. */
export const REDIS_ACL_RULES: Record<RedisRole, string[]> = {
  operator: ['~*', '&*', '+@all'],
  // A replica sends PING, REPLCONF and PSYNC (SYNC from old replicas) to its master.
  replication: ['resetchannels', '-@all', '+ping', '+replconf', '+psync', '+sync'],
  // Reads and writes on its own keys only; scripts (the CAS and lock release) run with these same
  // rights. -@dangerous takes away FLUSHALL, KEYS, DEBUG, ...; INFO and CLUSTER INFO/NODES are what
  // ioredis's Cluster ready check and slot refresh send.
  producer: [
    ...entryKeys.map((k) => `~${k}`),
    `~${FILL_LOCK_PREFIX}*`,
    `~${HOT_SET_KEY}`,
    'resetchannels',
    `&${INVALIDATION_CHANNEL}`,
    '-@all',
    '+@read',
    '+@write',
    '-@dangerous',
    '+eval',
    '+evalsha',
    '+script|load',
    '+script|exists',
    '+publish',
    '+subscribe',
    '+unsubscribe',
    '+wait',
    '+info',
    '+cluster|info',
    '+cluster|nodes',
    ...CLUSTER_CLIENT,
  ],
  // GET + PTTL of cache entries (read-only key permission), the invalidation channel.
  app: [...entryKeys.map((k) => `%R~${k}`), 'resetchannels', `&${INVALIDATION_CHANNEL}`, '-@all', '+get', '+pttl', '+subscribe', '+unsubscribe', ...CLUSTER_CLIENT],
  // The hot set only, read-only.
  distribution: [`%R~${HOT_SET_KEY}`, 'resetchannels', '-@all', '+zrangebyscore', ...CLUSTER_CLIENT],
  // A member's readiness probe (PING, INFO, CLUSTER INFO) and its preStop hook, which asks its own
  // member for its role and replicas (CLUSTER NODES) and a replica to take over (CLUSTER FAILOVER,
  // the coordinated kind: nothing acknowledged is lost). No key, no channel.
  member: ['resetchannels', '-@all', '+ping', '+info', '+cluster|info', '+cluster|nodes', '+cluster|failover'],
  // What redis_exporter reads: server statistics only, no key, no channel, nothing that writes.
  monitoring: [
    'resetchannels',
    '-@all',
    '+ping',
    '+info',
    '+config|get',
    '+cluster|info',
    '+slowlog|get',
    '+slowlog|len',
    '+latency|latest',
    '+latency|histogram',
    '+client|list',
    '+dbsize',
    '+memory|stats',
    '+select',
  ],
};

/** redis_exporter's password file (-redis.password-file): its one target's URI -> the monitoring password. */
export function renderExporterPasswordFile(addr: string, creds: Pick<RedisCredentials, 'monitoring'>): string {
  return JSON.stringify({ [addr]: creds.monitoring });
}

export function sha256Hex(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

/** The ACL file (`aclfile`): `default` off, one user per role with its password's hash. */
export function renderRedisAclFile(creds: RedisCredentials): string {
  const lines = ['user default off resetpass resetkeys resetchannels -@all'];
  for (const role of REDIS_ROLES) {
    lines.push(['user', REDIS_USERS[role], 'on', `#${sha256Hex(creds[role])}`, ...REDIS_ACL_RULES[role]].join(' '));
  }
  return lines.join('\n') + '\n';
}

/** redis.conf lines a replica authenticates to its master with (included from the Secret). */
export function renderRedisAuthConf(creds: Pick<RedisCredentials, 'replication'>): string {
  if (!/^[\x21-\x7e]+$/.test(creds.replication) || creds.replication.includes('"')) {
    throw new Error('the replication password must be printable ASCII without spaces or quotes');
  }
  return `masteruser ${REDIS_USERS.replication}\nmasterauth ${creds.replication}\n`;
}
