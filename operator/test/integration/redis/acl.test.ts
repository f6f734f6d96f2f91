// Redis with the ACL users the operator renders (users.acl + auth.conf from the same functions the
// ACL Secret is built with), against real redis-server 7.0 processes on 127.0.1.x: the
// orchestrator forms and scales the cluster as the admin user, replicas sync as the replication
// user, and each role can do what it needs and nothing it must not.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { randomRedisCredentials, startRedisNodes, type RedisNodeHandle, type StartRedisNodesOptions } from '../../../../hack/local/redis.js';
import { makeRootDir, sleep } from '../../../../hack/local/procs.js';
import { createRedisOrchestrator } from '../../../src/redis/index.js';
import { parseInfo } from '../../../src/redis/parse.js';
import type { RedisCredentials } from '../../../src/render/config/redis-acl.js';
import { REDIS_MEMBER_PASSWORD_FILE } from '../../../src/render/redis.js';
import { redisReadinessCommand } from '../../../src/render/config/redis-probe.js';
import { HOT_SET_KEY, INVALIDATION_CHANNEL, REDIS_USERS, type RedisRole } from '../../../../packages/contract/src/index.js';
import { clusterInfo, cond, drive, IP_PREFIX, placement, requireRedisServer, startWriter, verifyKeys, withConn } from './helpers.js';

jest.setTimeout(240_000);
requireRedisServer();

// Random, as the operator generates them.
const creds: RedisCredentials = randomRedisCredentials();
const as = (role: RedisRole) => ({ username: REDIS_USERS[role], password: creds[role] });
const admin = as('operator');

let nodes: RedisNodeHandle[] = [];
let rootDir = '';
const clients: Array<{ disconnect(): void }> = [];

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
  if (rootDir) await rm(rootDir, { recursive: true, force: true });
});

const seeds = () => nodes.map((n) => ({ host: n.host, port: n.port }));

/** An ioredis Cluster client as `role` (app/distribution: no INFO / CLUSTER INFO ready checks). */
function clusterAs(role: RedisRole): Cluster {
  const readyCheck = role === 'operator' || role === 'producer';
  const c = new Cluster(seeds(), {
    redisOptions: { ...as(role), connectTimeout: 3000, enableReadyCheck: readyCheck },
    enableReadyCheck: readyCheck,
    scaleReads: 'master',
    maxRedirections: 16,
    clusterRetryStrategy: () => null,
  });
  c.on('error', () => undefined);
  clients.push(c);
  return c;
}

/** The error a command fails with ('' when it succeeds). */
async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return '';
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

beforeAll(async () => {
  rootDir = await makeRootDir('redis-acl');
  const opts: StartRedisNodesOptions = { count: 6, ipPrefix: IP_PREFIX, rootDir, nodes: 3, clusterNodeTimeoutMs: 2000, acl: creds };
  nodes = await startRedisNodes(opts);
  const orch = createRedisOrchestrator();
  const r = await drive(orch, { masters: 3, replicasPerMaster: 1, ...admin }, nodes, opts);
  expect(r.converged).toBe(true);
  (globalThis as { aclOpts?: StartRedisNodesOptions }).aclOpts = opts;
});

describe('cluster with ACL users', () => {
  test('the admin user forms it; replicas sync with the replication user (master_link_status:up)', async () => {
    for (const n of nodes) expect((await clusterInfo(n, admin)).cluster_state).toBe('ok');
    const p = await placement(nodes, admin);
    expect(p).toHaveLength(3);
    for (const m of p) {
      expect(m.replicas).toHaveLength(1);
      const info = await withConn(m.replicas[0], admin, async (c) => parseInfo(String(await c.call('INFO', 'replication'))));
      expect(info.master_link_status).toBe('up');
    }
    // The masters saw their replica authenticate as the replication user.
    const master = p[0].master;
    const list = await withConn(master, admin, async (c) => String(await c.call('CLIENT', 'LIST')));
    expect(list).toMatch(new RegExp(`flags=S .*user=${REDIS_USERS.replication} `));
  });

  test('the orchestrator without the admin password is refused', async () => {
    const orch = createRedisOrchestrator();
    const noAuth = await orch.reconcile({ masters: 3, replicasPerMaster: 1 }, nodes.map((n) => n.member()), nodes.length);
    expect(noAuth.converged).toBe(false);
    expect(cond(noAuth, 'MembershipHealthy')?.message).toMatch(/NOAUTH|unreachable/);
    const wrong = await orch.reconcile({ masters: 3, replicasPerMaster: 1, ...as('app') }, nodes.map((n) => n.member()), nodes.length);
    expect(wrong.converged).toBe(false);
  });

  test('scale 3 -> 4 masters under writes as the admin user: slots move (MIGRATE AUTH2), no write lost', async () => {
    const opts = (globalThis as { aclOpts?: StartRedisNodesOptions }).aclOpts!;
    const w = startWriter(seeds(), admin);
    await sleep(500);
    const orch = createRedisOrchestrator();
    const r = await drive(orch, { masters: 4, replicasPerMaster: 1, ...admin }, nodes, opts);
    await sleep(300);
    await w.stop();
    expect(r.converged).toBe(true);
    expect(nodes).toHaveLength(8);
    expect(r.events.filter((e) => e.reason === 'SlotsMoved').length).toBeGreaterThanOrEqual(1);
    expect(w.acked.size).toBeGreaterThan(50);
    expect(await verifyKeys(seeds(), w.acked, admin)).toEqual([]);
    for (const m of await placement(nodes, admin)) {
      const info = await withConn(m.replicas[0], admin, async (c) => parseInfo(String(await c.call('INFO', 'replication'))));
      expect(info.master_link_status).toBe('up');
    }
  });
});

describe('what each role may do', () => {
  const product = 'product_info_4242';
  const shop = 'shop_info_7';

  test('no auth and the default user are refused', async () => {
    const n = nodes[0];
    // A fresh connection per command: nothing authenticated carries over.
    const anon = async (...args: string[]) => {
      const c = new Redis({ host: n.host, port: n.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false });
      try {
        return await refusal(c.call(args[0], ...args.slice(1)));
      } finally {
        c.disconnect();
      }
    };
    expect(await anon('PING')).toMatch(/NOAUTH/);
    expect(await anon('FLUSHALL')).toMatch(/NOAUTH/);
    expect(await anon('CONFIG', 'SET', 'maxmemory', '1mb')).toMatch(/NOAUTH/);
    expect(await anon('AUTH', 'default', 'x')).toMatch(/WRONGPASS/);
    expect(await anon('AUTH', 'default', creds.operator)).toMatch(/WRONGPASS/);
    expect(await anon('AUTH', creds.operator)).toMatch(/WRONGPASS/);
    expect(await anon('AUTH', REDIS_USERS.producer, 'not-the-password')).toMatch(/WRONGPASS/);
    expect(await anon('AUTH', REDIS_USERS.producer, creds.producer)).toBe('');
  });

  test('producer: its keys, scripts, PUBLISH, WAIT, the hot set; never FLUSHALL, CONFIG SET, CLUSTER RESET or other keys', async () => {
    const p = clusterAs('producer');
    expect(await p.set(product, '{"_v":1}')).toBe('OK');
    expect(await p.set(shop, '{"_v":1}', 'PX', 60_000)).toBe('OK');
    expect(await p.get(product)).toBe('{"_v":1}');
    expect(await p.set(`cachetier:fill:${product}`, 't', 'PX', 5000, 'NX')).toBe('OK');
    expect(await p.exists(`cachetier:fill:${product}`)).toBe(1);
    // Scripts run with the caller's rights: GET/SET/PUBLISH on its key and channel work...
    const cas = `local cur = redis.call('GET', KEYS[1]); redis.call('SET', KEYS[1], ARGV[1]); redis.call('PUBLISH', ARGV[2], KEYS[1]); return 1`;
    expect(await p.eval(cas, 1, product, '{"_v":2}', INVALIDATION_CHANNEL)).toBe(1);
    // ...and a script cannot do more than the user.
    expect(await refusal(p.eval(`return redis.call('FLUSHALL')`, 1, product))).toMatch(/NOPERM|can't run this command|can't access|permission/i);
    expect(await refusal(p.eval(`return redis.call('SET', 'other', '1')`, 1, product))).toMatch(/NOPERM|can't run this command|can't access|permission/i);
    expect(await p.publish(INVALIDATION_CHANNEL, product)).toBeGreaterThanOrEqual(0);
    expect(await p.zadd(HOT_SET_KEY, Date.now() + 60_000, '4242')).toBeGreaterThanOrEqual(0);
    expect(await p.zremrangebyscore(HOT_SET_KEY, '-inf', '(0')).toBe(0);
    for (const m of p.nodes('master')) expect(typeof (await m.call('WAIT', 1, 1000))).toBe('number');
    expect(await refusal(p.set('some_other_key', 'x'))).toMatch(/NOPERM/);
    expect(await refusal(p.publish('other-channel', 'x'))).toMatch(/NOPERM/);
    const node = p.nodes('master')[0];
    expect(await refusal(node.call('FLUSHALL'))).toMatch(/NOPERM/);
    expect(await refusal(node.call('FLUSHDB'))).toMatch(/NOPERM/);
    expect(await refusal(node.call('CONFIG', 'SET', 'maxmemory', '1mb'))).toMatch(/NOPERM/);
    expect(await refusal(node.call('CLUSTER', 'RESET'))).toMatch(/NOPERM/);
    expect(await refusal(node.call('CLUSTER', 'FORGET', 'x'))).toMatch(/NOPERM/);
    expect(await refusal(node.call('KEYS', '*'))).toMatch(/NOPERM/);
    expect(await refusal(node.call('ACL', 'LIST'))).toMatch(/NOPERM/);
    expect(await refusal(node.call('SHUTDOWN'))).toMatch(/NOPERM/);
  });

  test('app layer: GET, PTTL and the invalidation channel, read-only', async () => {
    const a = clusterAs('app');
    expect(await a.get(product)).toBe('{"_v":2}');
    expect(await a.pttl(shop)).toBeGreaterThan(0);
    expect(await refusal(a.set(product, 'x'))).toMatch(/NOPERM/);
    expect(await refusal(a.del(product))).toMatch(/NOPERM/);
    expect(await refusal(a.get(HOT_SET_KEY))).toMatch(/NOPERM/);
    expect(await refusal(a.eval(`return 1`, 1, product))).toMatch(/NOPERM/);
    expect(await refusal(a.publish(INVALIDATION_CHANNEL, 'x'))).toMatch(/NOPERM/);
    const node = a.nodes('master')[0];
    expect(await refusal(node.call('FLUSHALL'))).toMatch(/NOPERM/);
    expect(await refusal(node.call('CONFIG', 'GET', 'maxmemory'))).toMatch(/NOPERM/);
    expect(Array.isArray(await node.call('CLUSTER', 'SLOTS'))).toBe(true);
    // SUBSCRIBE: the invalidation channel only; it receives the producer's PUBLISH.
    const n = nodes[0];
    const sub = new Redis({ host: n.host, port: n.port, ...as('app'), maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false });
    clients.push(sub);
    expect(await refusal(sub.subscribe('other-channel'))).toMatch(/NOPERM/);
    const got = new Promise<string>((resolve) => sub.on('message', (_c: string, m: string) => resolve(m)));
    await sub.subscribe(INVALIDATION_CHANNEL);
    const p = clusterAs('producer');
    await p.publish(INVALIDATION_CHANNEL, product);
    expect(await got).toBe(product);
  });

  test('distribution layer: the hot set only', async () => {
    const d = clusterAs('distribution');
    const hot = (await d.zrangebyscore(HOT_SET_KEY, Date.now(), '+inf', 'WITHSCORES')) as string[];
    expect(hot[0]).toBe('4242');
    expect(await refusal(d.get(product))).toMatch(/NOPERM/);
    expect(await refusal(d.zadd(HOT_SET_KEY, 1, 'x'))).toMatch(/NOPERM/);
    expect(await refusal(d.nodes('master')[0].call('FLUSHALL'))).toMatch(/NOPERM/);
  });

  test('monitoring user (redis_exporter): server statistics, no key, nothing that writes', async () => {
    const n = nodes[0];
    const m = new Redis({ host: n.host, port: n.port, ...as('monitoring'), maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false });
    clients.push(m);
    expect(await m.info('replication')).toMatch(/^# Replication/);
    expect(String(await m.call('CLUSTER', 'INFO'))).toMatch(/cluster_state:ok/);
    expect(await m.call('CONFIG', 'GET', 'maxmemory')).toHaveLength(2);
    expect(await refusal(m.get(product))).toMatch(/NOPERM/);
    expect(await refusal(m.call('CONFIG', 'SET', 'maxmemory', '1'))).toMatch(/NOPERM/);
    expect(await refusal(m.call('FLUSHALL'))).toMatch(/NOPERM/);
    expect(await refusal(m.subscribe(INVALIDATION_CHANNEL))).toMatch(/NOPERM/);
  });

  test('member user (the readiness probe and preStop hook): cluster state and CLUSTER FAILOVER, no key, nothing else that writes', async () => {
    const n = nodes[0];
    const m = new Redis({ host: n.host, port: n.port, ...as('member'), maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false });
    clients.push(m);
    expect(await m.ping()).toBe('PONG');
    expect(await m.info('replication')).toMatch(/^# Replication/);
    expect(String(await m.call('CLUSTER', 'INFO'))).toMatch(/cluster_state:ok/);
    expect(String(await m.call('CLUSTER', 'NODES'))).toMatch(/myself/);
    // Allowed, and refused by Redis itself here (a master cannot fail over): not an ACL refusal.
    expect(await refusal(m.call('CLUSTER', 'FAILOVER'))).not.toMatch(/NOPERM/);
    expect(await refusal(m.get(product))).toMatch(/NOPERM/);
    expect(await refusal(m.call('CLUSTER', 'FORGET', 'x'))).toMatch(/NOPERM/);
    expect(await refusal(m.call('CONFIG', 'SET', 'maxmemory', '1'))).toMatch(/NOPERM/);
    expect(await refusal(m.call('FLUSHALL'))).toMatch(/NOPERM/);
  });

  test('replication user: replication only', async () => {
    const n = nodes[0];
    const r = new Redis({ host: n.host, port: n.port, ...as('replication'), maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false });
    clients.push(r);
    expect(await r.ping()).toBe('PONG');
    expect(await refusal(r.get(product))).toMatch(/NOPERM/);
    expect(await refusal(r.call('FLUSHALL'))).toMatch(/NOPERM/);
  });

  test('the readiness probe (member user, password from a file into REDISCLI_AUTH) passes on a member of the formed cluster, fails with a wrong password', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'redis-probe-'));
    try {
      const file = path.join(dir, REDIS_MEMBER_PASSWORD_FILE);
      const n = nodes[0];
      const [sh, flag, script] = redisReadinessCommand({ user: REDIS_USERS.member, passwordFile: file, host: n.host, port: n.port });
      writeFileSync(file, creds.member);
      await promisify(execFile)(sh, [flag, script]);
      writeFileSync(file, 'wrong');
      await expect(promisify(execFile)(sh, [flag, script])).rejects.toBeTruthy();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
