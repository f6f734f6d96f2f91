// Local Redis Cluster harness for the integration tier and the reshard benchmark: real
// redis-server processes (Debian 7.0) started with the operator's own redis.conf renderer, bound
// to 127.0.x.y addresses, each tagged with a simulated Kubernetes node name. The cluster itself
// is formed by the operator's orchestration code (operator/src/redis), never by redis-cli.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { DEFAULT_SPEC } from '../../operator/src/api/defaults.js';
import type { RedisSpec } from '../../operator/src/api/types.js';
import type { RedisMember } from '../../operator/src/orchestration/types.js';
import { createRedisOrchestrator, type RedisOrchestratorOptions } from '../../operator/src/redis/index.js';
import { renderRedisConf } from '../../operator/src/render/config/redis.js';
import { REDIS_ACL_FILE, REDIS_AUTH_CONF_FILE, REDIS_ROLES, type RedisCredentials } from '../../operator/src/render/config/redis-acl.js';
import { generatePassword } from '../../operator/src/controller/steps/redis-auth.js';
import { redisAclFiles } from '../../operator/src/render/redis.js';
import { REDIS_USERS } from '../../packages/contract/src/index.js';
import { startProcess, waitFor, waitForPort, type ManagedProcess } from './procs.js';

export const DEFAULT_LOCAL_REDIS_PORT = 7000;

/** Fixed per-role passwords for the local tiers (the operator generates random ones). */
export const TEST_REDIS_CREDENTIALS: RedisCredentials = {
  operator: 'test-operator-pw',
  replication: 'test-replication-pw',
  producer: 'test-producer-pw',
  app: 'test-app-pw',
  distribution: 'test-distribution-pw',
  monitoring: 'test-monitoring-pw',
  member: 'test-member-pw',
};

/** Random per-role passwords, as the operator generates them into <tier>-redis-passwords. */
export function randomRedisCredentials(): RedisCredentials {
  return Object.fromEntries(REDIS_ROLES.map((r) => [r, generatePassword()])) as RedisCredentials;
}

/** The admin user (what the operator authenticates as) with the test password. */
export function adminAuth(creds: RedisCredentials = TEST_REDIS_CREDENTIALS): { username: string; password: string } {
  return { username: REDIS_USERS.operator, password: creds.operator };
}

export interface StartRedisNodesOptions {
  count: number;
  /** First three octets, e.g. "127.0.1". Each member gets its own address in that /24. */
  ipPrefix: string;
  port?: number;
  /** requirepass + masterauth for the `default` user (no ACL users). */
  password?: string;
  /** ACL users exactly as the operator renders them (users.acl + auth.conf); wins over password. */
  acl?: RedisCredentials;
  rootDir: string;
  spec?: Partial<RedisSpec>;
  /** Simulated Kubernetes nodes the members are spread over, round-robin by ordinal (default 3). */
  nodes?: number;
  /** Explicit simulated node name per ordinal (wins over `nodes`). */
  nodeNames?: string[];
  /** First ordinal (default 0): lets a test add members 6, 7, ... later like a StatefulSet. */
  firstOrdinal?: number;
  /** Pod name prefix: members are "<podPrefix>-<ordinal>" (default "redis"). */
  podPrefix?: string;
  clusterNodeTimeoutMs?: number;
}

export interface RedisNodeHandle {
  ordinal: number;
  pod: string;
  host: string;
  port: number;
  dir: string;
  /** Simulated Kubernetes node name. */
  nodeName: string;
  pid: number;
  proc: ManagedProcess;
  /** The member as the reconciler would pass it to the orchestrator. */
  member(): RedisMember;
  alive(): boolean;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Restarts on the same data dir (nodes.conf keeps the node ID), optionally on a new address / node. */
  restart(newHost?: string, newNodeName?: string): Promise<void>;
  stop(): Promise<void>;
}

// Fresh addresses per prefix so a restarted member really gets a new IP (.10 .. .250).
const nextOctet = new Map<string, number>();
export function allocateHost(ipPrefix: string): string {
  const n = nextOctet.get(ipPrefix) ?? 10;
  nextOctet.set(ipPrefix, n >= 250 ? 10 : n + 1);
  return `${ipPrefix}.${n}`;
}

function resolveSpec(spec?: Partial<RedisSpec>): RedisSpec {
  return { ...DEFAULT_SPEC.redis, ...spec, config: { ...DEFAULT_SPEC.redis.config, ...(spec?.config ?? {}) } };
}

async function launch(
  name: string,
  host: string,
  port: number,
  dir: string,
  logDir: string,
  spec: RedisSpec,
  password: string | undefined,
  clusterNodeTimeoutMs: number | undefined,
  creds?: RedisCredentials,
): Promise<ManagedProcess> {
  let acl: { aclFile: string; authConf: string } | undefined;
  if (creds) {
    // The files of the ACL Secret a pod mounts, rendered by the same function.
    const files = redisAclFiles(creds);
    acl = { aclFile: path.join(dir, REDIS_ACL_FILE), authConf: path.join(dir, REDIS_AUTH_CONF_FILE) };
    writeFileSync(acl.aclFile, files[REDIS_ACL_FILE], { mode: 0o600 });
    writeFileSync(acl.authConf, files[REDIS_AUTH_CONF_FILE], { mode: 0o600 });
  }
  const conf = renderRedisConf(spec, { port, bind: host, dir, announceIp: host, password: acl ? undefined : password, clusterNodeTimeoutMs, acl });
  const confFile = path.join(dir, 'redis.conf');
  writeFileSync(confFile, conf);
  const proc = startProcess(name, 'redis-server', [confFile], { logDir });
  await waitForPort(host, port, 30_000, proc);
  // The port opens before the AOF is loaded; PING answers LOADING until then.
  const auth = creds ? adminAuth(creds) : { password };
  const c = new Redis({ host, port, ...auth, lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000, retryStrategy: () => null });
  try {
    await waitFor(`${name} ready`, async () => (await c.ping()) === 'PONG', 30_000, 100);
  } finally {
    c.disconnect();
  }
  return proc;
}

export async function startRedisNode(opts: StartRedisNodesOptions, ordinal: number): Promise<RedisNodeHandle> {
  const spec = resolveSpec(opts.spec);
  const port = opts.port ?? DEFAULT_LOCAL_REDIS_PORT;
  const simNodes = opts.nodes ?? 3;
  const podPrefix = opts.podPrefix ?? 'redis';
  const pod = `${podPrefix}-${ordinal}`;
  const dir = path.join(opts.rootDir, pod);
  mkdirSync(dir, { recursive: true });
  const logDir = path.join(opts.rootDir, 'logs');
  const handle: RedisNodeHandle = {
    ordinal,
    pod,
    host: allocateHost(opts.ipPrefix),
    port,
    dir,
    nodeName: opts.nodeNames?.[ordinal] ?? `node-${ordinal % Math.max(1, simNodes)}`,
    pid: 0,
    proc: undefined as unknown as ManagedProcess,
    member() {
      return { pod: handle.pod, ordinal: handle.ordinal, host: handle.host, port: handle.port, node: handle.nodeName };
    },
    alive() {
      return handle.proc.child.exitCode === null && handle.proc.child.signalCode === null;
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      await handle.proc.kill(signal, 5000);
    },
    async restart(newHost?: string, newNodeName?: string) {
      if (handle.alive()) await handle.proc.kill('SIGTERM', 10_000);
      if (newHost) handle.host = newHost;
      if (newNodeName) handle.nodeName = newNodeName;
      handle.proc = await launch(pod, handle.host, port, dir, logDir, spec, opts.password, opts.clusterNodeTimeoutMs, opts.acl);
      handle.pid = handle.proc.pid;
    },
    async stop() {
      await handle.proc.kill('SIGTERM', 10_000);
    },
  };
  handle.proc = await launch(pod, handle.host, port, dir, logDir, spec, opts.password, opts.clusterNodeTimeoutMs, opts.acl);
  handle.pid = handle.proc.pid;
  return handle;
}

/** Starts `count` empty cluster-enabled members (ordinals firstOrdinal..firstOrdinal+count-1). */
export async function startRedisNodes(opts: StartRedisNodesOptions): Promise<RedisNodeHandle[]> {
  const first = opts.firstOrdinal ?? 0;
  const out: RedisNodeHandle[] = [];
  try {
    // Sequential address allocation, parallel start.
    const starts = Array.from({ length: opts.count }, (_, i) => startRedisNode(opts, first + i));
    const settled = await Promise.allSettled(starts);
    for (const s of settled) if (s.status === 'fulfilled') out.push(s.value);
    const failed = settled.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failed) throw failed.reason;
    return out.sort((a, b) => a.ordinal - b.ordinal);
  } catch (e) {
    await Promise.all(out.map((n) => n.stop().catch(() => undefined)));
    throw e;
  }
}

export interface StartRedisClusterOptions {
  masters: number;
  replicasPerMaster: number;
  ipPrefix: string;
  password?: string;
  /** ACL users as the operator renders them; the orchestrator authenticates as the admin user. */
  acl?: RedisCredentials;
  rootDir: string;
  port?: number;
  nodes?: number;
  spec?: Partial<RedisSpec>;
  orchestrator?: RedisOrchestratorOptions;
  /** Bound on reconcile passes until converged (default 20). */
  maxPasses?: number;
  /** Keep reconciling past maxPasses until this long has passed (90 s). */
  convergeTimeoutMs?: number;
}

export interface LocalRedisCluster {
  nodes: RedisNodeHandle[];
  /** "host:port" of every member: ioredis Cluster startup nodes. */
  seeds: string[];
  members(): RedisMember[];
  stop(): Promise<void>;
}

/** Starts masters*(1+replicasPerMaster) members and forms the cluster with the operator's orchestrator. */
export async function startRedisCluster(opts: StartRedisClusterOptions): Promise<LocalRedisCluster> {
  const count = opts.masters * (1 + opts.replicasPerMaster);
  const nodes = await startRedisNodes({
    count,
    ipPrefix: opts.ipPrefix,
    port: opts.port,
    password: opts.password,
    acl: opts.acl,
    rootDir: opts.rootDir,
    nodes: opts.nodes,
    spec: opts.spec,
  });
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
  };
  const members = () => nodes.map((n) => n.member());
  try {
    const orch = createRedisOrchestrator(opts.orchestrator ?? {});
    const auth = opts.acl ? adminAuth(opts.acl) : { password: opts.password };
    const desired = { masters: opts.masters, replicasPerMaster: opts.replicasPerMaster, ...auth };
    let last = '';
    // Bounded by passes AND time: a replica's first sync can take seconds on a loaded machine, and
    // a pass count alone turned that into a flaky start.
    const deadline = Date.now() + (opts.convergeTimeoutMs ?? 90_000);
    for (let pass = 0; pass < (opts.maxPasses ?? 20) || Date.now() < deadline; pass++) {
      const r = await orch.reconcile(desired, members(), count);
      if (r.converged) {
        return { nodes, seeds: nodes.map((n) => `${n.host}:${n.port}`), members, stop };
      }
      last = JSON.stringify(r.conditions);
      await new Promise((res) => setTimeout(res, 200));
    }
    throw new Error(`cluster did not converge: ${last}`);
  } catch (e) {
    await stop();
    throw e;
  }
}
