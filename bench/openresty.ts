// OpenResty benchmark (make bench-openresty; not a test). One run, one machine, 127.0.5.x:
//   L1-hit path (access log on)  vs  plain nginx `return 200` of the same body
//   L2 path (every request a new id, found in Redis)  vs  redis-benchmark GET, same concurrency
//   L3 path (every request a new id, not in Redis: L2 miss + HTTP to a producer stand-in)
//   distribution -> app (two hops, L1 hit at the app)
// Prints a side-by-side table; the LAST line is `l1_ratio=<L1 rps / plain nginx rps>`.
// Env: BENCH_SECONDS (10), BENCH_CONNECTIONS (50), BENCH_THREADS (2), BENCH_WORKERS (2).
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Cluster } from 'ioredis';
import { startOpenResty, type OpenRestyHandle } from '../hack/local/nginx.js';
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

function productJson(id: number): string {
  return JSON.stringify({
    id,
    name: `product ${id}`,
    price: 100 + id,
    pictureList: 'a.jpg,b.jpg',
    specification: 'spec',
    service: 'service',
    color: 'red',
    size: '5.5',
    shopId: 1,
    modifiedTime: '2026-01-01 10:00:00',
    _v: 1767261600000,
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

async function wrk(url: string, script?: string): Promise<WrkResult> {
  const args = [`-t${THREADS}`, `-c${CONNS}`, `-d${SECONDS}s`, '--latency', '--timeout', '5s'];
  if (script) args.push('-s', script);
  args.push(url);
  const { stdout } = await run('wrk', args, { timeout: (SECONDS + 30) * 1000, maxBuffer: 1 << 20 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0);
  const p50 = /\s50%\s+(\S+)/.exec(stdout)?.[1] ?? '?';
  const p99 = /\s99%\s+(\S+)/.exec(stdout)?.[1] ?? '?';
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
  const errors = /Socket errors:([^\n]*)/.exec(stdout)?.[1]?.trim() ?? 'none';
  return { rps, p50, p99, non2xx, errors };
}

/** wrk script: every request a new productId, unique across threads, starting at `start`. */
function uniqueIdScript(dir: string, name: string, start: number): string {
  const file = path.join(dir, `${name}.lua`);
  writeFileSync(
    file,
    [
      'local nthreads = 0',
      'function setup(thread) thread:set("tid", nthreads); nthreads = nthreads + 1 end',
      'local n = 0',
      'function request()',
      '  n = n + 1',
      `  return wrk.format("GET", "/product?productId=" .. (${start} + n * ${THREADS} + tid) .. "&shopId=1")`,
      'end',
      '',
    ].join('\n'),
  );
  return file;
}

async function redisBenchmark(seed: string, key: string): Promise<number> {
  const [h, p] = seed.split(':');
  const n = Math.max(50_000, CONNS * 2000);
  const { stdout } = await run(
    'redis-benchmark',
    ['--cluster', '-h', h, '-p', p, '-c', String(CONNS), '-n', String(n), '-t', 'get', '--threads', String(THREADS), '-q', '-r', '100000'],
    { timeout: 300_000 },
  ).catch(async () =>
    // older redis-benchmark builds: single node, the key's owner
    run('redis-benchmark', ['-h', h, '-p', p, '-c', String(CONNS), '-n', String(n), '-t', 'get', '-q'], { timeout: 300_000 }),
  );
  void key;
  const m = /GET:\s+([\d.]+)\s+requests per second/.exec(stdout);
  return Number(m?.[1] ?? 0);
}

async function plainNginx(root: string, host: string, port: number, body: string): Promise<ManagedProcess> {
  const prefix = path.join(root, 'plain-nginx');
  mkdirSync(path.join(prefix, 'logs'), { recursive: true });
  const conf = [
    `worker_processes ${WORKERS};`,
    `pid ${prefix}/nginx.pid;`,
    `error_log ${prefix}/logs/error.log warn;`,
    'events { worker_connections 4096; }',
    'http {',
    '  access_log off;',
    `  client_body_temp_path ${prefix}/cb; proxy_temp_path ${prefix}/px; fastcgi_temp_path ${prefix}/fc; uwsgi_temp_path ${prefix}/uw; scgi_temp_path ${prefix}/sc;`,
    '  keepalive_requests 100000;',
    `  server { listen ${host}:${port} backlog=4096 reuseport;`,
    `    location = /product { default_type application/json; return 200 '${body.replace(/'/g, "\\'")}'; }`,
    '  }',
    '}',
    '',
  ].join('\n');
  const confPath = path.join(prefix, 'nginx.conf');
  writeFileSync(confPath, conf);
  const p = startProcess('plain-nginx', 'nginx', ['-p', prefix, '-c', confPath, '-e', `${prefix}/logs/error.log`, '-g', 'daemon off;'], { logDir: root });
  await waitForPort(host, port, 15_000, p);
  return p;
}

async function main(): Promise<void> {
  const root = await makeRootDir('bench-openresty');
  let cluster: LocalRedisCluster | undefined;
  let producer: http.Server | undefined;
  let plain: ManagedProcess | undefined;
  const nginxes: OpenRestyHandle[] = [];
  const results: [string, string, string, string][] = [];
  try {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0, ipPrefix: IP, rootDir: path.join(root, 'redis'), port: 7600, nodes: 3 });
    producer = await startProducerStandIn(`${IP}.80`, 8080);
    const redisClient = new Cluster(
      cluster.seeds.map((s) => ({ host: s.split(':')[0], port: Number(s.split(':')[1]) })),
      { enableAutoPipelining: true },
    );
    // L2 data: enough distinct ids that the L2 run never repeats one
    const l2Ids = Math.max(200_000, SECONDS * 30_000);
    await redisClient.set('shop_info_1', SHOP);
    await redisClient.set('product_info_1', productJson(1));
    for (let i = 0; i < l2Ids; i += 5000) {
      const batch: Promise<unknown>[] = [];
      for (let id = 1_000_000 + i; id < 1_000_000 + i + 5000; id++) batch.push(redisClient.set(`product_info_${id}`, productJson(id)));
      await Promise.all(batch);
    }
    redisClient.disconnect();

    const spec = { openresty: { upstreamTimeoutMs: 3000, l1: { ttlSeconds: 600, staleTtlSeconds: 60, lruSize: 10_000, sharedDictSize: '256m' } } };
    const app = await startOpenResty({
      layer: 'app',
      host: `${IP}.81`,
      port: 8080,
      rootDir: root,
      spec,
      input: {
        workerProcesses: WORKERS,
        redisSeeds: cluster.seeds,
        producerUrl: `http://${IP}.80:8080`,
        // access log ON; BENCH_KAFKA="host:port" for a real broker, otherwise an unreachable one
        // (same Lua path per request: encode + buffer; the flush timer's sends fail and count drops)
        kafkaBrokers: [process.env.BENCH_KAFKA ?? `${IP}.89:9092`],
        testEndpoints: false,
      },
    });
    nginxes.push(app);
    const appNoLog = await startOpenResty({
      layer: 'app',
      host: `${IP}.84`,
      port: 8080,
      rootDir: root,
      spec,
      input: { workerProcesses: WORKERS, redisSeeds: cluster.seeds, producerUrl: `http://${IP}.80:8080`, kafkaBrokers: [], testEndpoints: false },
    });
    nginxes.push(appNoLog);
    const dist = await startOpenResty({
      layer: 'distribution',
      host: `${IP}.82`,
      port: 8080,
      rootDir: root,
      spec,
      input: { workerProcesses: WORKERS, redisSeeds: cluster.seeds, appUpstream: { kind: 'static', servers: [`${app.host}:${app.port}`] }, testEndpoints: false },
    });
    nginxes.push(dist);

    const l1url = `${app.url}/product?productId=1&shopId=1`;
    const warm = await fetch(l1url);
    const body = await warm.text();
    if (warm.status !== 200) throw new Error(`warm-up failed: ${warm.status} ${body}`);
    plain = await plainNginx(root, `${IP}.83`, 8080, body);

    const fmt = (r: WrkResult) => `${r.rps.toFixed(0).padStart(8)} req/s  p50 ${r.p50.padStart(8)}  p99 ${r.p99.padStart(8)}${r.non2xx ? `  non2xx ${r.non2xx}` : ''}${r.errors !== 'none' ? `  errors ${r.errors}` : ''}`;

    // The machine is shared: alternate the runs being compared and keep the median of 3 each, so
    // a burst of someone else's load doesn't land on one side only.
    await fetch(`${appNoLog.url}/product?productId=1&shopId=1`);
    const plainRuns: WrkResult[] = [];
    const l1Runs: WrkResult[] = [];
    const noLogRuns: WrkResult[] = [];
    for (let i = 0; i < 3; i++) {
      plainRuns.push(await wrk(`http://${IP}.83:8080/product?productId=1&shopId=1`));
      l1Runs.push(await wrk(l1url));
      noLogRuns.push(await wrk(`${appNoLog.url}/product?productId=1&shopId=1`));
    }
    const median = (rs: WrkResult[]) => [...rs].sort((x, y) => x.rps - y.rps)[1];
    const plainR = median(plainRuns);
    const l1 = median(l1Runs);
    const l1NoLog = median(noLogRuns);
    console.log(`runs (req/s): plain ${plainRuns.map((r) => r.rps.toFixed(0)).join(' ')} | L1 ${l1Runs.map((r) => r.rps.toFixed(0)).join(' ')} | L1 no log ${noLogRuns.map((r) => r.rps.toFixed(0)).join(' ')}`);
    results.push(['L1 hit (access log on)', fmt(l1), 'plain nginx return 200', fmt(plainR)]);
    results.push(['L1 hit (access log off)', fmt(l1NoLog), 'plain nginx return 200', fmt(plainR)]);

    const l2 = await wrk(`${app.url}/`, uniqueIdScript(root, 'l2', 1_000_000));
    const rb = await redisBenchmark(cluster.seeds[0], 'product_info_1');
    results.push(['L2 path (new id each request)', fmt(l2), 'redis-benchmark GET', `${rb.toFixed(0).padStart(8)} req/s`]);

    const l3 = await wrk(`${app.url}/`, uniqueIdScript(root, 'l3', 50_000_000));
    results.push(['L3 path (L2 miss + producer HTTP)', fmt(l3), '', '']);

    const two = await wrk(`${dist.url}/product?productId=1&shopId=1`);
    results.push(['distribution -> app (L1 hit)', fmt(two), 'app alone (L1 hit)', fmt(l1)]);

    const w = Math.max(...results.map((r) => r[0].length));
    console.log(`OpenResty benchmark: wrk -t${THREADS} -c${CONNS} -d${SECONDS}s, nginx workers ${WORKERS}, ${new Date().toISOString()}`);
    for (const [a, ar, b, br] of results) console.log(`${a.padEnd(w)}  ${ar}   |  ${b.padEnd(24)} ${br}`);
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    const pick = (re: RegExp) => re.exec(metrics)?.[1] ?? '0';
    console.log(
      `app metrics: L1 ${pick(/level="L1"\} (\d+)/)}  L2 ${pick(/kind="product",level="L2"\} (\d+)/)}  L3 ${pick(/kind="product",level="L3"\} (\d+)/)}  ` +
        `log sent ${pick(/cachetier_accesslog_sent_total (\d+)/)}  log dropped ${pick(/cachetier_accesslog_dropped_total (\d+)/)}`,
    );
    console.log(`l2_ratio=${(l2.rps / Math.max(1, rb)).toFixed(3)}`);
    console.log(`l1_ratio=${(l1.rps / Math.max(1, plainR.rps)).toFixed(3)}`);
  } finally {
    await Promise.all(nginxes.map((n) => n.stop().catch(() => undefined)));
    await plain?.kill('SIGQUIT', 5000).catch(() => undefined);
    await new Promise<void>((r) => (producer ? producer.close(() => r()) : r()));
    await cluster?.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
