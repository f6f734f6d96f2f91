// OpenResty benchmark (make bench-openresty; not a test). One run, one machine, 127.0.5.x:
//   L1-hit path, access log on (a real Kafka broker; and the breaker's drop path) and off
//     vs  plain nginx `return 200` of the same body
//   L2 path (every request a new id, found in Redis)  vs  redis-benchmark GET, same concurrency,
//     same threads, no pipelining, values of the same size
//   L3 path (every request a new id, not in Redis: L2 miss + HTTP to a producer stand-in)
//   distribution -> app (two hops, L1 hit at the app)
//   the floor (bench/openresty-floor.lua): the least any OpenResty app layer does on the L1 and L2
//     paths, with the stock libraries, beside the same references
// Prints a side-by-side table; the LAST line is `l1_ratio=<L1 (real Kafka) rps / plain nginx rps>`.
// Env: BENCH_SECONDS (8), BENCH_CONNECTIONS (50), BENCH_THREADS (2), BENCH_WORKERS (2).
// Addresses: Redis 127.0.5.x:7600 (allocated by hack/local/redis.ts), producer stand-in .80,
// app .81 (Kafka) .84 (log off) .85 (Kafka unreachable), distribution .82, plain nginx .83, floor .86,
// ZooKeeper .151, Kafka .152 (the producer bench uses .131-.133/.141-.143).
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Cluster } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { kafkaJarsPresent, startKafkaCluster, type KafkaCluster } from '../hack/local/kafka.js';
import { startZooKeeperEnsemble, type ZooKeeperEnsemble } from '../hack/local/zookeeper.js';
import { OPENRESTY_LUA_SRC, REPO_ROOT, startOpenResty, type OpenRestyHandle } from '../hack/local/nginx.js';
import { loadLuaModules } from '../operator/src/render/config/nginx.js';
import { makeRootDir, startProcess, waitForPort, type ManagedProcess } from '../hack/local/procs.js';
import { startRedisCluster, type LocalRedisCluster } from '../hack/local/redis.js';
import http from 'node:http';

const run = promisify(execFile);
const IP = '127.0.5';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const THREADS = Number(process.env.BENCH_THREADS ?? 2);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 2);

interface WrkResult {
  rps: number;
  p50: string;
  p99: string;
  non2xx: number;
  errors: string;
}

// Products vary in length and content like a real catalog's. With same-shape bodies that differ
// only in their id digits the L2 row would measure LuaJIT's string interning, not the L2 path:
// OpenResty's LuaJIT hashes a string of 128+ bytes by its length and 3 bytes, and on a long
// collision chain by its first and last 8 bytes plus 8-byte windows of roughly its first half at
// offsets drawn per process (https://github.com/openresty/luajit2/issues/60), so such bodies share
// hashes and every new one walks the chain (2.5-16k req/s, changing from one worker process to
// the next). docs/benchmarks.md has the measurements; real catalogs of
// near-identical JSON carry the same risk, which the app layer limits by interning as few long
// strings per request as it can.
const NAMES = ['red', 'blue shoe', 'big green lamp', 'tiny', 'phone case x', 'ultra wide monitor 27'];
function productJson(id: number): string {
  return JSON.stringify({
    id,
    name: `${NAMES[id % NAMES.length]} ${(id * 7919) % 100003}`,
    price: ((id * 31) % 997) + 0.5,
    pictureList: 'a.jpg,b.jpg',
    specification: `spec ${'x'.repeat(id % 13)}`,
    service: 'service',
    color: 'red',
    size: '5.5',
    shopId: 1,
    modifiedTime: '2026-01-01 10:00:00',
    _v: 1767261600000 + (id % 1000),
  });
}
const SHOP = JSON.stringify({ id: 1, name: 'shop 1', level: 5, goodCommentRate: 0.99, modifiedTime: '2026-01-01 10:00:00', _v: 1767261600000 });

/** A minimal producer stand-in (the producer's HTTP contract), generating records for any id. */
async function startProducerStandIn(host: string, port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const m = /^\/(product|shop)\/(\d+)$/.exec(req.url ?? '');
    if (!m) return void res.writeHead(400).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(m[1] === 'shop' ? SHOP : productJson(Number(m[2])));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(port, host, () => r()));
  return server;
}

async function wrk(url: string, script?: string, seconds = SECONDS): Promise<WrkResult> {
  const args = [`-t${THREADS}`, `-c${CONNS}`, `-d${seconds}s`, '--latency', '--timeout', '5s'];
  if (script) args.push('-s', script);
  args.push(url);
  const { stdout } = await run('wrk', args, { timeout: (seconds + 30) * 1000, maxBuffer: 1 << 20 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0);
  const p50 = /\s50%\s+(\S+)/.exec(stdout)?.[1] ?? '?';
  const p99 = /\s99%\s+(\S+)/.exec(stdout)?.[1] ?? '?';
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
  const errors = /Socket errors:([^\n]*)/.exec(stdout)?.[1]?.trim() ?? 'none';
  return { rps, p50, p99, non2xx, errors };
}

/**
 * wrk script: every request a new productId, unique across threads, starting at `start`. The
 * requests are pre-generated in init() (wrk's docs: building requests in request() is costly, and
 * wrk shares the 2 CPUs with what it measures); past `perThread` they are formatted on the fly.
 */
function uniqueIdScript(dir: string, name: string, start: number, perThread: number, route = '/product'): string {
  const file = path.join(dir, `${name}.lua`);
  const req = (n: string) => `"GET ${route}?productId=" .. (${start} + ${n} * ${THREADS} + tid) .. "&shopId=1 HTTP/1.1\\r\\nHost: bench\\r\\n\\r\\n"`;
  writeFileSync(
    file,
    [
      'local nthreads = 0',
      'function setup(thread) thread:set("tid", nthreads); nthreads = nthreads + 1 end',
      'local reqs, n = {}, 0',
      `function init(args) for i = 1, ${perThread} do reqs[i] = ${req('i')} end end`,
      'function request()',
      '  n = n + 1',
      `  return reqs[n] or ${req('n')}`,
      'end',
      '',
    ].join('\n'),
  );
  return file;
}

/** CPU seconds (user + system) used so far by a process. */
function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

/**
 * redis-benchmark GET against the same cluster, same concurrency and threads as wrk, no
 * pipelining (-P 1, like one request per wrk connection at a time), 100k random keys first SET
 * with values of the L2 row's size (so GET returns a value of the same size, not nil).
 */
async function redisBenchmark(seed: string, valueBytes: number): Promise<{ rps: number; cmd: string }> {
  const [h, p] = seed.split(':');
  const n = Math.max(100_000, SECONDS * 50_000);
  const common = ['--cluster', '-h', h, '-p', p, '-c', String(CONNS), '--threads', String(THREADS), '-P', '1', '-r', '100000', '-q'];
  await run('redis-benchmark', [...common, '-n', '200000', '-t', 'set', '-d', String(valueBytes)], { timeout: 300_000 });
  const args = [...common, '-n', String(n), '-t', 'get'];
  const { stdout } = await run('redis-benchmark', args, { timeout: 300_000 });
  const m = /GET:\s+([\d.]+)\s+requests per second/.exec(stdout);
  return { rps: Number(m?.[1] ?? 0), cmd: `redis-benchmark ${args.join(' ')} (after SET -d ${valueBytes})` };
}

/** An nginx for the bench's references: `http` lines of its own, everything else fixed. */
async function benchNginx(root: string, name: string, host: string, port: number, http: string[], mainLines: string[] = []): Promise<ManagedProcess> {
  const prefix = path.join(root, name);
  mkdirSync(path.join(prefix, 'logs'), { recursive: true });
  const conf = [
    ...mainLines,
    `worker_processes ${WORKERS};`,
    `pid ${prefix}/nginx.pid;`,
    `error_log ${prefix}/logs/error.log warn;`,
    'events { worker_connections 4096; }',
    'http {',
    '  access_log off;',
    `  client_body_temp_path ${prefix}/cb; proxy_temp_path ${prefix}/px; fastcgi_temp_path ${prefix}/fc; uwsgi_temp_path ${prefix}/uw; scgi_temp_path ${prefix}/sc;`,
    '  keepalive_requests 100000;',
    ...http.map((l) => `  ${l}`),
    '}',
    '',
  ].join('\n');
  const confPath = path.join(prefix, 'nginx.conf');
  writeFileSync(confPath, conf);
  const p = startProcess(name, 'nginx', ['-p', prefix, '-c', confPath, '-e', `${prefix}/logs/error.log`, '-g', 'daemon off;'], { logDir: root });
  await waitForPort(host, port, 15_000, p);
  return p;
}

/** The reference: nginx's own `return 200` of the exact body the L1 path answers. */
function plainNginx(root: string, host: string, port: number, body: string): Promise<ManagedProcess> {
  return benchNginx(root, 'plain-nginx', host, port, [
    `server { listen ${host}:${port} backlog=4096 reuseport;`,
    `  location = /product { default_type application/json; return 200 '${body.replace(/'/g, "\\'")}'; }`,
    '}',
  ]);
}

/** The floor (bench/openresty-floor.lua): same modules and dict size as the app layer. */
function floorNginx(root: string, host: string, port: number, body: string, slots: [number, number, string, number][], dictSize: string): Promise<ManagedProcess> {
  const luaStr = (v: string) => JSON.stringify(v); // a JSON string is a valid Lua string literal here (ASCII JSON)
  const ranges = slots.map(([a, b, h, p]) => `{ ${a}, ${b}, ${luaStr(h)}, ${p} }`).join(', ');
  const bench = path.join(REPO_ROOT, 'bench');
  return benchNginx(
    root,
    'floor-nginx',
    host,
    port,
    [
      `lua_package_path '${bench}/?.lua;${OPENRESTY_LUA_SRC}/?.lua;;';`,
      `lua_shared_dict cache ${dictSize};`,
      `init_by_lua_block { require("openresty-floor").configure({ ${ranges} }, ${luaStr(body)}) }`,
      'init_worker_by_lua_block { require("openresty-floor").init_worker() }',
      `server { listen ${host}:${port} backlog=4096 reuseport;`,
      '  default_type application/json;',
      '  location = /l1 { content_by_lua_block { require("openresty-floor").l1() } }',
      '  location = /get { content_by_lua_block { require("openresty-floor").get() } }',
      '  location = /fill { content_by_lua_block { require("openresty-floor").fill() } }',
      '}',
    ],
    loadLuaModules(),
  );
}

async function main(): Promise<void> {
  if (!kafkaJarsPresent()) throw new Error('bench-openresty needs the Kafka jars for the access-log broker: run `make deps` (hack/deps.d/30-kafka.sh)');
  const root = await makeRootDir('bench-openresty');
  let cluster: LocalRedisCluster | undefined;
  let producer: http.Server | undefined;
  let plain: ManagedProcess | undefined;
  let floor: ManagedProcess | undefined;
  let zk: ZooKeeperEnsemble | undefined;
  let kafka: KafkaCluster | undefined;
  const nginxes: OpenRestyHandle[] = [];
  const results: [string, string, string, string][] = [];
  try {
    // the access log's broker: one real Kafka 3.9 (ZooKeeper mode), topic with 3 partitions
    zk = await startZooKeeperEnsemble({ ipPrefix: IP, rootDir: path.join(root, 'zk'), count: 1, firstHost: 151 });
    kafka = await startKafkaCluster({ ipPrefix: IP, rootDir: path.join(root, 'kafka'), zookeeperConnect: zk.connectString, count: 1, firstHost: 152 });
    const kafkaClient = new Kafka({ clientId: 'bench-openresty', brokers: kafka.brokers, logLevel: logLevel.NOTHING });
    const admin = kafkaClient.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'access-log', numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
    const brokerPid = kafka.nodes[0].proc?.pid ?? 0;

    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0, ipPrefix: IP, rootDir: path.join(root, 'redis'), port: 7600, nodes: 3 });
    producer = await startProducerStandIn(`${IP}.80`, 8080);
    const redisClient = new Cluster(
      cluster.seeds.map((s) => ({ host: s.split(':')[0], port: Number(s.split(':')[1]) })),
      { enableAutoPipelining: true },
    );
    // L2 data: enough distinct ids that no L2 run repeats one or runs out (the floor's bare GET
    // runs ~55k req/s here; an id past the data would be a cheaper 404)
    const l2Ids = Math.max(200_000, SECONDS * 75_000);
    await redisClient.set('shop_info_1', SHOP);
    await redisClient.set('product_info_1', productJson(1));
    for (let i = 0; i < l2Ids; i += 5000) {
      const batch: Promise<unknown>[] = [];
      for (let id = 1_000_000 + i; id < 1_000_000 + i + 5000; id++) batch.push(redisClient.set(`product_info_${id}`, productJson(id)));
      await Promise.all(batch);
    }
    const slots = (await redisClient.cluster('SLOTS')).map(([a, b, master]) => [a, b, master[0], master[1]] as [number, number, string, number]);
    redisClient.disconnect();

    const dictSize = '256m';
    // wrk is one client address sending 100k+ requests a second: exactly what the per-client flood
    // limits refuse, so they are off here (the rows measure the cache path, not the limiter).
    const noLimits = { limits: { requestsPerSecond: 0, connections: 0 } };
    const spec = {
      openresty: { upstreamTimeoutMs: 3000, l1: { ttlSeconds: 600, staleTtlSeconds: 60, lruSize: 10_000, sharedDictSize: dictSize }, distribution: noLimits, app: noLimits },
    };
    const appAt = async (last: number, kafkaBrokers: string[]) => {
      const h = await startOpenResty({
        redisPassword: null, // a cluster without ACL users: the floor and redis-benchmark use no AUTH
        layer: 'app',
        host: `${IP}.${last}`,
        port: 8080,
        rootDir: root,
        spec,
        input: { workerProcesses: WORKERS, redisSeeds: cluster!.seeds, producerUrl: `http://${IP}.80:8080`, kafkaBrokers, testEndpoints: false },
      });
      nginxes.push(h);
      return h;
    };
    const app = await appAt(81, kafka.brokers); // access log -> the real broker
    const appNoLog = await appAt(84, []); // access log off
    const appDrop = await appAt(85, [`${IP}.159:9092`]); // access log on, nothing listens: breaker drop path
    const dist = await startOpenResty({
      redisPassword: null, // a cluster without ACL users: the floor and redis-benchmark use no AUTH
      layer: 'distribution',
      host: `${IP}.82`,
      port: 8080,
      rootDir: root,
      spec,
      input: { workerProcesses: WORKERS, redisSeeds: cluster.seeds, appUpstream: { kind: 'static', servers: [`${app.host}:${app.port}`] }, testEndpoints: false },
    });
    nginxes.push(dist);

    const q = '/product?productId=1&shopId=1';
    const warm = await fetch(`${app.url}${q}`);
    const body = await warm.text();
    if (warm.status !== 200) throw new Error(`warm-up failed: ${warm.status} ${body}`);
    for (const a of [appNoLog, appDrop]) await (await fetch(`${a.url}${q}`)).text();
    plain = await plainNginx(root, `${IP}.83`, 8080, body);
    floor = await floorNginx(root, `${IP}.86`, 8080, body, slots, dictSize);
    const floorUrl = `http://${IP}.86:8080`;
    const floorBody = await (await fetch(`${floorUrl}/l1`)).text();
    if (floorBody !== body) throw new Error('the floor answers a different body than the app');
    // let the app's producer see the topic's partition leaders before measuring
    await new Promise((r) => setTimeout(r, 2000));

    const fmt = (r: WrkResult) => `${r.rps.toFixed(0).padStart(8)} req/s  p50 ${r.p50.padStart(8)}  p99 ${r.p99.padStart(8)}${r.non2xx ? `  non2xx ${r.non2xx}` : ''}${r.errors !== 'none' ? `  errors ${r.errors}` : ''}`;
    // warm-up, not counted: LuaJIT traces, the broker's JVM, connection pools
    for (const u of [`http://${IP}.83:8080${q}`, `${app.url}${q}`, `${appDrop.url}${q}`, `${appNoLog.url}${q}`, `${dist.url}${q}`, `${floorUrl}/l1`]) await wrk(u, undefined, 3);
    const loadBefore = os.loadavg();

    // The machine is shared: alternate the runs being compared and keep the median of 3 each, so
    // a burst of someone else's load doesn't land on one side only.
    const rows = { plain: [] as WrkResult[], kafka: [] as WrkResult[], drop: [] as WrkResult[], nolog: [] as WrkResult[], floor: [] as WrkResult[] };
    // The broker's CPU is read during the logged runs and during the plain-nginx runs: the
    // reference's spread (164-204k req/s here, against a steady 219-236k with nothing else
    // running) is not the broker's doing (1 % of a core in those runs), nor pending disk
    // writeback (a sync before every run did not change it); docs/benchmarks.md.
    const broker = { plain: { cpu: 0, seconds: 0 }, kafka: { cpu: 0, seconds: 0 } };
    const watchingBroker = async (use: { cpu: number; seconds: number }, url: string): Promise<WrkResult> => {
      const c0 = cpuSeconds(brokerPid);
      const t0 = Date.now();
      const r = await wrk(url);
      use.cpu += cpuSeconds(brokerPid) - c0;
      use.seconds += (Date.now() - t0) / 1000;
      return r;
    };
    for (let i = 0; i < 3; i++) {
      rows.plain.push(await watchingBroker(broker.plain, `http://${IP}.83:8080${q}`));
      rows.kafka.push(await watchingBroker(broker.kafka, `${app.url}${q}`));
      rows.drop.push(await wrk(`${appDrop.url}${q}`));
      rows.nolog.push(await wrk(`${appNoLog.url}${q}`));
      rows.floor.push(await wrk(`${floorUrl}/l1`));
    }
    const median = (rs: WrkResult[]) => [...rs].sort((x, y) => x.rps - y.rps)[1];
    const plainR = median(rows.plain);
    const l1 = median(rows.kafka);
    const l1Drop = median(rows.drop);
    const l1NoLog = median(rows.nolog);
    const l1Floor = median(rows.floor);
    const runs = (rs: WrkResult[]) => rs.map((r) => r.rps.toFixed(0)).join(' ');
    console.log(`runs (req/s): plain ${runs(rows.plain)} | L1 Kafka ${runs(rows.kafka)} | L1 drop ${runs(rows.drop)} | L1 no log ${runs(rows.nolog)} | floor ${runs(rows.floor)}`);
    results.push(['L1 hit (access log -> real Kafka)', fmt(l1), 'plain nginx return 200', fmt(plainR)]);
    results.push(['L1 hit (log on, Kafka unreachable)', fmt(l1Drop), 'plain nginx return 200', fmt(plainR)]);
    results.push(['L1 hit (access log off)', fmt(l1NoLog), 'plain nginx return 200', fmt(plainR)]);
    results.push(['floor: Lua prints the body', fmt(l1Floor), 'plain nginx return 200', fmt(plainR)]);

    const l2PerThread = Math.floor(l2Ids / THREADS);
    const l2 = await wrk(`${app.url}/`, uniqueIdScript(root, 'l2', 1_000_000, l2PerThread));
    // the floor reads the same ids (it stores into its own dict, so they are new to it too)
    const floorGet = await wrk(`${floorUrl}/`, uniqueIdScript(root, 'floor-get', 1_000_000, l2PerThread, '/get'));
    const floorFill = await wrk(`${floorUrl}/`, uniqueIdScript(root, 'floor-fill', 1_000_000, l2PerThread, '/fill'));
    const rb = await redisBenchmark(cluster.seeds[0], productJson(1_000_000).length);
    const rbRps = `${rb.rps.toFixed(0).padStart(8)} req/s`;
    results.push(['L2 path (new id each request)', fmt(l2), 'redis-benchmark GET', rbRps]);
    results.push(['floor: stock lua-resty-redis GET', fmt(floorGet), 'redis-benchmark GET', rbRps]);
    results.push(['floor: GET+PTTL, dict + LRU fill', fmt(floorFill), 'redis-benchmark GET', rbRps]);

    const l3 = await wrk(`${app.url}/`, uniqueIdScript(root, 'l3', 50_000_000, Math.ceil((SECONDS * 15_000) / THREADS)));
    results.push(['L3 path (L2 miss + producer HTTP)', fmt(l3), '', '']);

    const two = await wrk(`${dist.url}${q}`);
    results.push(['distribution -> app (L1 hit)', fmt(two), 'app alone (L1 hit, Kafka)', fmt(l1)]);
    const loadAfter = os.loadavg();

    const w = Math.max(...results.map((r) => r[0].length));
    console.log(`OpenResty benchmark: wrk -t${THREADS} -c${CONNS} -d${SECONDS}s, nginx workers ${WORKERS}, ${os.cpus().length} CPUs, ${new Date().toISOString()}`);
    console.log(`load average before ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, after ${loadAfter.map((x) => x.toFixed(2)).join(' ')}`);
    for (const [a, ar, b, br] of results) console.log(`${a.padEnd(w)}  ${ar}   |  ${b.padEnd(25)} ${br}`);
    console.log(`redis-benchmark: ${rb.cmd}`);
    const stats = async (h: OpenRestyHandle) => {
      const m = await (await fetch(h.metricsUrl)).text();
      const pick = (re: RegExp) => Number(re.exec(m)?.[1] ?? 0);
      return {
        l1: pick(/kind="product",level="L1"\} (\d+)/),
        l2: pick(/kind="product",level="L2"\} (\d+)/),
        l3: pick(/kind="product",level="L3"\} (\d+)/),
        reads: pick(/cachetier_l2_requests_total (\d+)/),
        batches: pick(/cachetier_l2_batches_total (\d+)/),
        delivered: pick(/cachetier_accesslog_delivered_total (\d+)/),
        dropped: pick(/cachetier_accesslog_dropped_total (\d+)/),
        failed: pick(/cachetier_accesslog_failed_total (\d+)/),
      };
    };
    await new Promise((r) => setTimeout(r, 1500)); // the producer's last flush and the 250 ms counter flush
    const a = await stats(app);
    const d = await stats(appDrop);
    const offsets = await admin.fetchTopicOffsets('access-log');
    const onTopic = offsets.reduce((sum, o) => sum + Number(o.high), 0);
    await admin.disconnect();
    console.log(
      `app (Kafka): product L1 ${a.l1}  L2 ${a.l2}  L3 ${a.l3}  Redis reads ${a.reads} in ${a.batches} pipelined round trips | ` +
        `access log delivered ${a.delivered}  dropped ${a.dropped}  failed ${a.failed}  records on the topic ${onTopic}`,
    );
    console.log(`app (Kafka unreachable): access log delivered ${d.delivered}  dropped ${d.dropped}  failed ${d.failed}`);
    const pct = (use: { cpu: number; seconds: number }) => ((100 * use.cpu) / Math.max(1, use.seconds)).toFixed(0);
    console.log(`Kafka broker CPU during the L1 (Kafka) runs: ${pct(broker.kafka)}% of one core (of ${os.cpus().length}); during the plain-nginx runs: ${pct(broker.plain)}%`);
    const ratio = (a: WrkResult, b: number) => (a.rps / Math.max(1, b)).toFixed(3);
    console.log(`l2_floor_ratio=${ratio(floorGet, rb.rps)}  l2_fill_floor_ratio=${ratio(floorFill, rb.rps)}  l2_vs_fill_floor=${ratio(l2, floorFill.rps)}`);
    console.log(`l1_floor_ratio=${ratio(l1Floor, plainR.rps)}`);
    console.log(`l2_ratio=${ratio(l2, rb.rps)}`);
    console.log(`l1_ratio_kafka_unreachable=${ratio(l1Drop, plainR.rps)}`);
    console.log(`l1_ratio=${ratio(l1, plainR.rps)}`);
  } finally {
    await Promise.all(nginxes.map((n) => n.stop().catch(() => undefined)));
    await plain?.kill('SIGQUIT', 5000).catch(() => undefined);
    await floor?.kill('SIGQUIT', 5000).catch(() => undefined);
    await new Promise<void>((r) => (producer ? producer.close(() => r()) : r()));
    await cluster?.stop();
    await kafka?.stop().catch(() => undefined);
    await zk?.stop().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
