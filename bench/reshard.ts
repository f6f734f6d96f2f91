// `make bench-reshard`: the operator's Redis orchestration vs redis-cli on the same machine, same
// run, same data (BENCH_KEYS keys, default 1,000,000) on 127.0.5.x:
//   1. bootstrap of 3 masters + 3 replicas: ours vs `redis-cli --cluster create --cluster-replicas 1`
//   2. 3 -> 4 master rebalance: ours (MEET + batched, pipelined slot moves) vs
//      `redis-cli --cluster add-node` + `redis-cli --cluster rebalance --cluster-use-empty-masters`
//      at its defaults (10 keys per MIGRATE).
// Prints seconds, keys/s, keys_lost=<n>, the orchestrator's max RSS, and last `ratio=<redis-cli s / our s>`
// for the rebalance.
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import calculateSlot from 'cluster-key-slot';
import { Redis } from 'ioredis';
import { startRedisNode, startRedisNodes, type RedisNodeHandle, type StartRedisNodesOptions } from '../hack/local/redis.js';
import { makeRootDir } from '../hack/local/procs.js';
import { parseClusterNodes, parseInfo } from '../operator/src/redis/parse.js';

const run = promisify(execFile);
const KEYS = Number(process.env.BENCH_KEYS ?? 1_000_000);
const IP = process.env.BENCH_IP_PREFIX ?? '127.0.5';
const VALUE = JSON.stringify({ id: 0, name: 'iphone7', price: 5599, pictureList: 'a.jpg,b.jpg', color: 'red', size: '5.5', shopId: 300, _v: 1767261600000 });
const here = path.dirname(fileURLToPath(import.meta.url));
// Same server config for both tools. repl-diskless-sync-delay 0: otherwise both bootstraps are
// dominated by the master's 5 s wait before the first replica sync.
const nodeSpec = { maxmemory: '2gb', maxmemoryPolicy: 'noeviction', config: { save: '', 'repl-diskless-sync-delay': '0' } };

const all: RedisNodeHandle[] = [];
const roots: string[] = [];
async function cleanup() {
  await Promise.all(all.map((n) => n.stop().catch(() => undefined)));
  for (const r of roots) await rm(r, { recursive: true, force: true });
}

function key(i: number) {
  return `product_info_${i}`;
}

async function nodesOf(seed: RedisNodeHandle) {
  const r = new Redis({ host: seed.host, port: seed.port, lazyConnect: false });
  try {
    return parseClusterNodes(String(await r.call('CLUSTER', 'NODES')));
  } finally {
    r.disconnect();
  }
}

/** slot -> "host:port" of its master. */
async function slotMap(seed: RedisNodeHandle): Promise<string[]> {
  const map: string[] = new Array(16384).fill('');
  for (const n of await nodesOf(seed)) if (n.flags.has('master')) for (const s of n.slots) map[s] = `${n.host}:${n.port}`;
  return map;
}

async function forEachOwner(seed: RedisNodeHandle, fn: (r: Redis, keys: string[]) => Promise<void>) {
  const map = await slotMap(seed);
  const conns = new Map<string, Redis>();
  const get = (addr: string) => {
    let c = conns.get(addr);
    if (!c) {
      const [h, p] = addr.split(':');
      c = new Redis({ host: h, port: Number(p) });
      conns.set(addr, c);
    }
    return c;
  };
  try {
    const CH = 20_000;
    for (let base = 0; base < KEYS; base += CH) {
      const groups = new Map<string, string[]>();
      for (let i = base; i < Math.min(KEYS, base + CH); i++) {
        const k = key(i);
        const addr = map[calculateSlot(k)];
        const g = groups.get(addr) ?? [];
        g.push(k);
        groups.set(addr, g);
      }
      await Promise.all([...groups].map(([addr, ks]) => fn(get(addr), ks)));
    }
  } finally {
    for (const c of conns.values()) c.disconnect();
  }
}

async function load(seed: RedisNodeHandle) {
  await forEachOwner(seed, async (r, ks) => {
    const p = r.pipeline();
    for (const k of ks) p.set(k, VALUE);
    await p.exec();
  });
}

async function countLost(seed: RedisNodeHandle): Promise<number> {
  let lost = 0;
  await forEachOwner(seed, async (r, ks) => {
    const p = r.pipeline();
    for (const k of ks) p.exists(k);
    for (const [err, v] of (await p.exec()) ?? []) if (err || Number(v) !== 1) lost++;
  });
  return lost;
}

/** Polls every node (a fresh connection each time) until `check` holds on all of them. */
async function waitEveryNode(nodes: RedisNodeHandle[], failure: string, check: (r: Redis) => Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await Promise.all(
      nodes.map(async (n) => {
        const r = new Redis({ host: n.host, port: n.port });
        try {
          return await check(r);
        } finally {
          r.disconnect();
        }
      }),
    );
    if (ok.every(Boolean)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(failure);
}

function waitOk(nodes: RedisNodeHandle[]) {
  return waitEveryNode(nodes, 'cluster_state never became ok', async (r) => parseInfo(String(await r.call('CLUSTER', 'INFO'))).cluster_state === 'ok');
}

/** Every replica's link to its master is up (a bootstrap is done when replicas are in sync). */
function waitSynced(nodes: RedisNodeHandle[]) {
  return waitEveryNode(nodes, 'replicas never got in sync', async (r) => {
    const info = parseInfo(String(await r.call('INFO', 'replication')));
    return info.role !== 'slave' || info.master_link_status === 'up';
  });
}

async function fresh(count: number, port: number): Promise<{ nodes: RedisNodeHandle[]; opts: StartRedisNodesOptions }> {
  const rootDir = await makeRootDir('bench-reshard');
  roots.push(rootDir);
  const opts: StartRedisNodesOptions = { count, ipPrefix: IP, port, rootDir, nodes: 3, spec: nodeSpec };
  const nodes = await startRedisNodes(opts);
  all.push(...nodes);
  return { nodes, opts };
}

async function ours(masters: number, replicas: number, nodes: RedisNodeHandle[]) {
  const input = { masters, replicasPerMaster: replicas, members: nodes.map((n) => n.member()), migrateBatchKeys: Number(process.env.BENCH_BATCH ?? 1000) };
  const { stdout } = await run(process.execPath, [path.join(here, 'reshard-orch.js'), JSON.stringify(input)], { maxBuffer: 1 << 24 });
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as { seconds: number; converged: boolean; maxRssMb: number };
  if (!r.converged) throw new Error('our orchestrator did not converge');
  return r;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const fmt = (x: number) => x.toFixed(3);

async function main() {
  console.log(`bench-reshard: keys=${KEYS} on ${IP}.x, redis-server ${(await run('redis-server', ['--version'])).stdout.split(' ')[2]}`);

  // 1. Bootstrap, 6 empty members -> 3 masters + 3 replicas.
  const b1 = await fresh(6, 7500);
  const ob = await ours(3, 1, b1.nodes); // converged = cluster_state ok everywhere + replicas in sync
  await waitOk(b1.nodes);
  await waitSynced(b1.nodes);
  const b2 = await fresh(6, 7501);
  const cliBoot = await timed(async () => {
    await run('redis-cli', ['--cluster', 'create', ...b2.nodes.map((n) => `${n.host}:${n.port}`), '--cluster-replicas', '1', '--cluster-yes']);
    await waitOk(b2.nodes);
    await waitSynced(b2.nodes);
  });
  console.log(`bootstrap ours (6 members -> 3 masters + 3 replicas, replicas in sync): ${fmt(ob.seconds)} s (orchestrator max RSS ${ob.maxRssMb.toFixed(1)} MB)`);
  console.log(`bootstrap redis-cli --cluster create --cluster-replicas 1 (same end state): ${fmt(cliBoot)} s`);
  console.log(`bootstrap_ratio=${fmt(cliBoot / ob.seconds)}`);
  await Promise.all([...b1.nodes, ...b2.nodes].map((n) => n.stop()));

  // 2. Rebalance 3 -> 4 masters with KEYS keys (no replicas: same work for both tools).
  const r1 = await fresh(3, 7502);
  await ours(3, 0, r1.nodes);
  await load(r1.nodes[0]);
  const new1 = await startRedisNode(r1.opts, 3);
  all.push(new1);
  r1.nodes.push(new1);
  const orb = await ours(4, 0, r1.nodes);
  const lostOurs = await countLost(r1.nodes[0]);
  console.log(`rebalance ours 3->4: ${fmt(orb.seconds)} s, ${Math.round(KEYS / 4 / orb.seconds)} keys/s moved (~${KEYS / 4} keys), orchestrator max RSS ${orb.maxRssMb.toFixed(1)} MB, lost ${lostOurs}`);
  await Promise.all(r1.nodes.map((n) => n.stop()));

  const r2 = await fresh(3, 7503);
  await run('redis-cli', ['--cluster', 'create', ...r2.nodes.map((n) => `${n.host}:${n.port}`), '--cluster-yes']);
  await waitOk(r2.nodes);
  await load(r2.nodes[0]);
  const new2 = await startRedisNode(r2.opts, 3);
  all.push(new2);
  r2.nodes.push(new2);
  const seed = `${r2.nodes[0].host}:${r2.nodes[0].port}`;
  const cliReb = await timed(async () => {
    await run('redis-cli', ['--cluster', 'add-node', `${new2.host}:${new2.port}`, seed]);
    await waitOk(r2.nodes);
    // Every member must know the new one, or MIGRATE from it fails with "I don't know about node".
    const probe = new Redis({ host: new2.host, port: new2.port });
    const newId = String(await probe.call('CLUSTER', 'MYID'));
    probe.disconnect();
    await waitEveryNode(r2.nodes, 'the added node never became known to every member', async (r) =>
      String(await r.call('CLUSTER', 'NODES')).includes(newId),
    );
    // add-node returns before the new node is known everywhere; rebalance refuses until then.
    for (let i = 0; i < 200; i++) {
      const { stdout } = await run('redis-cli', ['--cluster', 'check', seed]).catch((e: { stdout: string }) => ({ stdout: e.stdout }));
      if (/All nodes agree about slots configuration/.test(stdout) && (stdout.match(/M: /g) ?? []).length >= 4) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await run('redis-cli', ['--cluster', 'rebalance', seed, '--cluster-use-empty-masters'], { maxBuffer: 1 << 26 });
    await waitOk(r2.nodes);
  });
  const lostCli = await countLost(r2.nodes[0]);
  console.log(`rebalance redis-cli 3->4: ${fmt(cliReb)} s, ${Math.round(KEYS / 4 / cliReb)} keys/s moved, lost ${lostCli}`);
  console.log(`orchestrator_max_rss_mb=${Math.max(ob.maxRssMb, orb.maxRssMb).toFixed(1)}`);
  console.log(`redis_cli_keys_lost=${lostCli}`);
  console.log(`keys_lost=${lostOurs}`);
  console.log(`ratio=${fmt(cliReb / orb.seconds)}`);
}

main()
  .then(cleanup)
  .catch(async (e) => {
    console.error(e);
    await cleanup();
    process.exit(1);
  });
