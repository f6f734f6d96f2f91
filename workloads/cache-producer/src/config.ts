// The producer's configuration: exactly the environment variables named in the contract package's
// PRODUCER_ENV (what the operator renders, plus the harness-only REDIS_PASSWORD, HTTP_HOST and
// DEBUG_LOCK_HISTORY). Nothing else is read, so what the operator ships is what runs. The Redis
// password is a file (REDIS_PASSWORD_FILE, a Secret volume), read by redisAuth at start.
import { readFileSync } from 'node:fs';
import { PRODUCER_ENV as E } from '../../../packages/contract/src/index.js';

export interface ProducerConfig {
  kafka: {
    brokers: string[];
    groupId: string;
    topicCacheMessage: string;
    topicAccessLog: string;
    topicDeadLetter: string;
  };
  zookeeperConnect: string;
  redis: { seeds: { host: string; port: number }[]; username?: string; passwordFile?: string; password?: string; waitReplicas: number };
  sources: { productInfoService: string; shopInfoService: string };
  lock: { enabled: boolean; timeoutMs: number; sessionTimeoutMs: number; root: string };
  localCache: { maxEntries: number; ttlSeconds: number };
  hot: { windowSeconds: number; topN: number; ttlSeconds: number; setKey: string };
  dataPath: { maxFutureSkewMs: number; recordTtlMs: number; readThroughTombstoneTtlMs: number; sourceRequestsPerSecond: number; sourceAttempts: number };
  invalidationChannel: string;
  http: { host: string; port: number; metricsPort: number };
  /** Keep recent lock-held intervals and serve them at /debug/locks (tests; never rendered). */
  debugLockHistory: boolean;
}

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`invalid cache-producer configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** Parses the environment; collects every problem and throws one ConfigError naming them all. */
export function parseConfig(env: Env): ProducerConfig {
  const problems: string[] = [];

  const str = (name: string, fallback?: string): string => {
    const v = env[name];
    if (v === undefined || v.trim() === '') {
      if (fallback !== undefined) return fallback;
      problems.push(`${name} is required`);
      return '';
    }
    return v.trim();
  };
  const int = (name: string, min: number, max: number, fallback?: number): number => {
    const raw = env[name];
    if ((raw === undefined || raw.trim() === '') && fallback !== undefined) return fallback;
    const s = str(name);
    if (s === '') return 0;
    if (!/^\d+$/.test(s)) {
      problems.push(`${name} must be a non-negative integer, got ${JSON.stringify(s)}`);
      return 0;
    }
    const n = Number(s);
    if (n < min || n > max) problems.push(`${name} must be between ${min} and ${max}, got ${n}`);
    return n;
  };
  const bool = (name: string, fallback?: boolean): boolean => {
    const s = str(name, fallback === undefined ? undefined : String(fallback));
    if (s === 'true') return true;
    if (s === 'false') return false;
    if (s !== '') problems.push(`${name} must be "true" or "false", got ${JSON.stringify(s)}`);
    return false;
  };
  const hostPorts = (name: string): { host: string; port: number }[] => {
    const s = str(name);
    if (s === '') return [];
    const out: { host: string; port: number }[] = [];
    for (const part of s.split(',').map((p) => p.trim()).filter(Boolean)) {
      const m = /^(.+):(\d{1,5})$/.exec(part);
      if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
        problems.push(`${name}: ${JSON.stringify(part)} is not host:port`);
        continue;
      }
      out.push({ host: m[1].replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) });
    }
    if (out.length === 0 && problems.every((p) => !p.startsWith(name))) problems.push(`${name} lists no host:port`);
    return out;
  };
  const url = (name: string): string => {
    const s = str(name);
    if (s === '') return '';
    try {
      const u = new URL(s);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http');
    } catch {
      problems.push(`${name} must be an http(s) URL, got ${JSON.stringify(s)}`);
    }
    return s.replace(/\/+$/, '');
  };

  const brokers = hostPorts(E.kafkaBrokers).map((h) => `${h.host}:${h.port}`);
  const zk = str(E.zookeeperConnect);
  if (zk !== '' && !/^[^,\s]+:\d+(,[^,\s]+:\d+)*(\/[\w/.-]*)?$/.test(zk)) {
    problems.push(`ZOOKEEPER_CONNECT must be host:port[,host:port...][/chroot], got ${JSON.stringify(zk)}`);
  }
  const lockRoot = str(E.lockRoot);
  if (lockRoot !== '' && !/^(\/[\w.-]+)+$/.test(lockRoot)) {
    problems.push(`LOCK_ROOT must be an absolute znode path, got ${JSON.stringify(lockRoot)}`);
  }
  const password = env[E.redisPassword];
  // Both rendered, so both required: the producer never connects without an ACL user.
  const username = str(E.redisUsername);
  const passwordFile = str(E.redisPasswordFile);

  const cfg: ProducerConfig = {
    kafka: {
      brokers,
      groupId: str(E.kafkaGroupId),
      topicCacheMessage: str(E.topicCacheMessage),
      topicAccessLog: str(E.topicAccessLog),
      topicDeadLetter: str(E.topicDeadLetter),
    },
    zookeeperConnect: zk,
    redis: {
      seeds: hostPorts(E.redisSeeds),
      waitReplicas: int(E.redisWaitReplicas, 0, 1),
      ...(username ? { username } : {}),
      ...(passwordFile ? { passwordFile } : {}),
      ...(password !== undefined && password !== '' ? { password } : {}),
    },
    sources: {
      productInfoService: url(E.sourceProductInfoUrl),
      shopInfoService: url(E.sourceShopInfoUrl),
    },
    lock: {
      enabled: bool(E.lockEnabled),
      timeoutMs: int(E.lockTimeoutMs, 1, 600_000),
      sessionTimeoutMs: int(E.lockSessionTimeoutMs, 1000, 600_000),
      root: lockRoot,
    },
    localCache: {
      maxEntries: int(E.localCacheMaxEntries, 1, 10_000_000),
      ttlSeconds: int(E.localCacheTtlSeconds, 1, 30 * 86400),
    },
    hot: {
      windowSeconds: int(E.hotWindowSeconds, 1, 86400),
      topN: int(E.hotTopN, 1, 100_000),
      ttlSeconds: int(E.hotTtlSeconds, 1, 86400),
      setKey: str(E.hotSetKey),
    },
    dataPath: {
      maxFutureSkewMs: int(E.maxFutureSkewSeconds, 0, 86400) * 1000,
      recordTtlMs: int(E.recordTtlSeconds, 60, 30 * 86400) * 1000,
      readThroughTombstoneTtlMs: int(E.readThroughTombstoneTtlSeconds, 1, 3600) * 1000,
      sourceRequestsPerSecond: int(E.sourceRequestsPerSecond, 1, 100_000),
      sourceAttempts: int(E.sourceAttempts, 1, 100),
    },
    invalidationChannel: str(E.invalidationChannel),
    http: { host: str(E.httpHost, '0.0.0.0'), port: int(E.httpPort, 1, 65535), metricsPort: int(E.metricsPort, 1, 65535) },
    debugLockHistory: bool(E.debugLockHistory, false),
  };
  if (cfg.http.port > 0 && cfg.http.port === cfg.http.metricsPort) problems.push(`${E.metricsPort} must differ from ${E.httpPort} (/metrics is not served on the data port)`);
  if (problems.length > 0) throw new ConfigError(problems);
  return cfg;
}

/** The Redis ACL user and its password (from passwordFile when set; one trailing newline dropped). */
export function redisAuth(cfg: ProducerConfig['redis'], read: (file: string) => string = (f) => readFileSync(f, 'utf8')): { username?: string; password?: string } {
  const password = cfg.passwordFile ? read(cfg.passwordFile).replace(/\r?\n$/, '') : cfg.password;
  return { ...(cfg.username ? { username: cfg.username } : {}), ...(password ? { password } : {}) };
}
