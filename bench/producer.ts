// `make bench-producer` (not a test): the cache-producer's throughput and latency on this machine,
// every server real (ZooKeeper x3, Kafka 3.9 x3, Redis Cluster 3+3) on 127.0.5.x, same run:
//   1. updates/s with ZooKeeper locks (the shipped default)     -- built producer process
//   2. updates/s with the Redis CAS only (LOCK_ENABLED=false)   -- built producer process
//   3. reference: raw kafkajs eachBatch + Redis SET per message -- in this process
//   4. change-to-Redis latency p50/p99 at 1,000 updates/s (locks on), producer RSS
// Throughput phases replay the same BENCH_MESSAGES push messages (full records, explicit version)
// over BENCH_PRODUCTS products from a fresh consumer group against an emptied Redis; a phase ends
// when the group's committed offsets reach the end of the topic. Last line: updates_per_s_locked=<n>.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Cluster, Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { resolve } from '../operator/src/api/defaults.js';
import type { CacheTier } from '../operator/src/api/types.js';
import { createTopicManager } from '../operator/src/kafka/index.js';
import { nodeHeapOptions } from '../operator/src/render/builders.js';
import { producerEnv } from '../operator/src/render/config/producer.js';
import { startKafkaCluster } from '../hack/local/kafka.js';
import { makeRootDir, sleep } from '../hack/local/procs.js';
import { ensureBuilt, startProducer, type ProducerHandle } from '../hack/local/producer.js';
import { adminAuth, startRedisCluster, TEST_REDIS_CREDENTIALS } from '../hack/local/redis.js';
import { startZooKeeperEnsemble } from '../hack/local/zookeeper.js';
import { ZkLocks } from '../workloads/cache-producer/src/zklock.js';
import pino from 'pino';
import { INVALIDATION_CHANNEL, parseInvalidation } from '../packages/contract/src/index.js';

const IP = process.env.BENCH_IP_PREFIX ?? '127.0.5';
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 90_000);
const PRODUCTS = Number(process.env.BENCH_PRODUCTS ?? 30_000);
const LATENCY_RATE = 1000;
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 15);
const TOPIC = `bench-cache-message-${Date.now()}`;
// ZooKeeper lock/unlock cycles run before phase 1: a freshly started JVM ensemble is several times
// slower until its JIT has compiled the request path, and a long-running ensemble is what we model.
const ZK_WARMUP = Number(process.env.BENCH_ZK_WARMUP ?? 20_000);
// Then one uncounted producer pass over the workload (BENCH_WARMUP_PASS=0 skips it).
const WARMUP_PASS = process.env.BENCH_WARMUP_PASS !== '0';
// Seconds of the paced latency workload (locks on) before the counted latency runs: the brokers'
// JIT compiles the small-acks=all-produce path separately from the bulk-fetch path the warm-up pass
// exercised; measured alone, broker CPU at 1,000 msgs/s fell from 1.3 to 0.3 cores over ~50 s.
const LATENCY_WARMUP_SECONDS = Number(process.env.BENCH_LATENCY_WARMUP_SECONDS ?? 60);
// Which phases to run (a smaller variant for quick before/after checks); default all.
const PHASES = new Set((process.env.BENCH_PHASES ?? 'locked,cas,ref,latency-locked,latency-cas').split(','));

function rssMb(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0) / 1024;
  return { rss: Math.round(kb('VmRSS')), hwm: Math.round(kb('VmHWM')) };
}
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};

async function main(): Promise<void> {
  const rootDir = await makeRootDir('bench-producer');
  const stops: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const f of stops.reverse()) await f().catch(() => undefined);
    stops.length = 0;
    if (!process.env.KEEP_BENCH_DIR) rmSync(rootDir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    ensureBuilt();
    console.log(`bench-producer: starting ZooKeeper x3, Redis 3+3, Kafka x3 on ${IP}.x (logs: ${rootDir})`);
    const [zk, redis] = await Promise.all([
      startZooKeeperEnsemble({ ipPrefix: IP, rootDir, firstHost: 131 }),
      startRedisCluster({ masters: 3, replicasPerMaster: 1, ipPrefix: IP, rootDir, port: 7151, spec: { maxmemory: '1gb' }, acl: TEST_REDIS_CREDENTIALS }),
    ]);
    stops.push(() => zk.stop(), () => redis.stop());
    const kafka = await startKafkaCluster({ ipPrefix: IP, rootDir, zookeeperConnect: zk.connectString, firstHost: 141 });
    stops.push(() => kafka.stop());
    const tier = resolve({ apiVersion: 'cachetier.io/v1alpha1', kind: 'CacheTier', metadata: { name: 'b', namespace: 'b', uid: 'b' }, spec: {} } as CacheTier);
    tier.spec.kafka.topics.cacheMessage = { ...tier.spec.kafka.topics.cacheMessage, name: TOPIC };
    tier.spec.producer.sources = { productInfoService: `http://${IP}.160:1`, shopInfoService: `http://${IP}.160:1` };
    const tr = await createTopicManager().reconcile(kafka.brokers, Object.values(tier.spec.kafka.topics));
    if (tr.topics.some((t) => !t.ready)) throw new Error(`topics not ready: ${JSON.stringify(tr.topics)}`);
    // NODE_OPTIONS as the Deployment sets it (V8 heap cap from the memory limit), plus any extra.
    const nodeOptions = [nodeHeapOptions(tier.spec.producer.resources), process.env.BENCH_PRODUCER_NODE_OPTIONS].filter(Boolean).join(' ');
    const baseEnv: Record<string, string> = {
      ...producerEnv(tier, { kafkaBrokers: kafka.brokers, zookeeperConnect: zk.connectString, redisSeeds: redis.seeds }),
      ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
    };

    const kc = new Kafka({ clientId: 'bench', brokers: kafka.brokers, logLevel: logLevel.NOTHING });
    const kp = kc.producer({ allowAutoTopicCreation: false });
    await kp.connect();
    stops.push(() => kp.disconnect());
    const admin = kc.admin();
    await admin.connect();
    stops.push(() => admin.disconnect());
    const rc = new Cluster(redis.seeds.map((s) => ({ host: s.split(':')[0], port: Number(s.split(':')[1]) })), { scaleReads: 'master', redisOptions: adminAuth() });
    stops.push(async () => rc.disconnect());

    // The workload: MESSAGES push records over PRODUCTS products, versions increasing per product.
    console.log(`bench-producer: producing ${MESSAGES} change messages over ${PRODUCTS} products`);
    // Versions in the past: a version ahead of the producer's clock would be dead-lettered.
    const base = Date.now() - 86_400_000;
    for (let i = 0; i < MESSAGES; i += 2000) {
      const msgs = [];
      for (let k = i; k < Math.min(MESSAGES, i + 2000); k++) {
        const id = (k % PRODUCTS) + 1;
        const rec = { serviceId: 'productInfoService', id, name: `p${id}`, price: k, pictureList: 'a.jpg,b.jpg', color: 'red', size: '5.5', shopId: 1, version: base + k };
        msgs.push({ key: String(id), value: JSON.stringify(rec) });
      }
      await kp.send({ topic: TOPIC, acks: -1, messages: msgs });
    }
    const ends = await admin.fetchTopicOffsets(TOPIC);
    const endTotal = ends.reduce((a, p) => a + Number(p.high), 0);

    const flushRedis = async () => {
      await Promise.all(rc.nodes('master').map((n) => n.flushall()));
    };
    const committed = async (groupId: string) => {
      const o = await admin.fetchOffsets({ groupId, topics: [TOPIC] });
      return o[0].partitions.reduce((a, p) => a + Math.max(0, Number(p.offset)), 0);
    };
    /** Runs the built producer from a fresh group; returns messages/s from first commit progress to the end. */
    const runProducerPhase = async (name: string, env: Record<string, string>): Promise<{ rate: number; seconds: number; rss: { rss: number; hwm: number } }> => {
      await flushRedis();
      const groupId = `bench-${name}-${Date.now()}`;
      const t0 = Date.now();
      const p = await startProducer({ env: { ...env, KAFKA_GROUP_ID: groupId }, host: `${IP}.161`, port: 18181, rootDir, name: `producer-${name}`, waitReady: false });
      let startAt: number | undefined;
      let endAt: number | undefined;
      let rss = { rss: 0, hwm: 0 };
      try {
        // The clock starts at the first message consumed (excludes process start and group join).
        const deadline = Date.now() + 600_000;
        for (;;) {
          if (Date.now() > deadline) throw new Error(`${name}: not done after 10 min`);
          if (startAt === undefined) {
            const m = await fetch(p.metricsUrl).then((r) => r.text()).catch(() => '');
            const consumed = Number(/^cachetier_producer_messages_consumed_total (\d+)/m.exec(m)?.[1] ?? 0);
            if (consumed > 0) startAt = Date.now();
          }
          if (startAt !== undefined && (await committed(groupId)) >= endTotal) {
            endAt = Date.now();
            break;
          }
          await sleep(startAt === undefined ? 20 : 100);
        }
        rss = rssMb(p.proc.pid);
        // Kept with the run dir (KEEP_BENCH_DIR=1) for looking into where the time went.
        writeFileSync(`${rootDir}/metrics-${name}.txt`, await fetch(p.metricsUrl).then((r) => r.text()).catch((e) => String(e)));
      } finally {
        await p.stop();
      }
      // Until the commits reached the end: the producer's shutdown afterwards is not part of it.
      const seconds = ((endAt ?? Date.now()) - (startAt ?? t0)) / 1000;
      // Sanity: Redis holds the newest version of a few products.
      for (const id of [1, Math.ceil(PRODUCTS / 2), PRODUCTS]) {
        const lastK = Math.floor((MESSAGES - id) / PRODUCTS) * PRODUCTS + id - 1;
        const v = JSON.parse((await rc.get(`product_info_${id}`)) ?? '{}')._v;
        if (v !== base + lastK) throw new Error(`${name}: product ${id} at ${v}, expected ${base + lastK}`);
      }
      return { rate: Math.round(MESSAGES / seconds), seconds, rss };
    };

    if (ZK_WARMUP > 0) {
      const warm = new ZkLocks(zk.connectString, 10_000, '/cachetier-bench-warmup', pino({ level: 'silent' }));
      await warm.start();
      const t = Date.now();
      let i = 0;
      await Promise.all(
        Array.from({ length: 1000 }, async () => {
          while (i < ZK_WARMUP) await (await warm.acquire(`warmup_${i++}`, 60_000)).release();
        }),
      );
      await warm.close();
      console.log(`bench-producer: ZooKeeper warm-up: ${ZK_WARMUP} lock/unlock cycles in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    }
    if (WARMUP_PASS) {
      // One full pass with locks whose number is thrown away: Kafka's brokers spend their first
      // minute or so of real load compiling (C2 threads were most of their CPU), which otherwise
      // lands on phase 1 only and flatters every later phase.
      const w = await runProducerPhase('warmup', baseEnv);
      console.log(`bench-producer: warm-up pass (locks on, not counted): ${w.rate}/s`);
    }
    console.log('bench-producer: phase 1/4: producer with ZooKeeper locks');
    const skipped = { rate: NaN, seconds: NaN, rss: { rss: 0, hwm: 0 } };
    const locked = PHASES.has('locked') ? await runProducerPhase('locked', baseEnv) : skipped;
    console.log('bench-producer: phase 2/4: producer with CAS only');
    const casOnly = PHASES.has('cas') ? await runProducerPhase('cas', { ...baseEnv, LOCK_ENABLED: 'false' }) : skipped;

    const runReference = async () => {
      console.log('bench-producer: phase 3/4: reference kafkajs eachBatch + Redis SET');
      await flushRedis();
      const refGroup = `bench-ref-${Date.now()}`;
      const consumer = kc.consumer({ groupId: refGroup, maxBytesPerPartition: 1024 * 1024 });
      let refStart: number | undefined;
      let refCount = 0;
      await consumer.connect();
      await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
      await consumer.run({
        partitionsConsumedConcurrently: 6,
        eachBatch: async ({ batch }) => {
          refStart ??= Date.now();
          await Promise.all(
            batch.messages.map((m) => {
              const rec = JSON.parse(String(m.value)) as Record<string, unknown>;
              return rc.set(`product_info_${String(rec.id)}`, JSON.stringify({ _v: rec.version, ...rec }));
            }),
          );
          refCount += batch.messages.length;
        },
      });
      const refDeadline = Date.now() + 600_000;
      while (refCount < MESSAGES || (await committed(refGroup)) < endTotal) {
        if (Date.now() > refDeadline) throw new Error('reference: not done after 10 min');
        await sleep(50);
      }
      const seconds = (Date.now() - (refStart ?? Date.now())) / 1000;
      await consumer.disconnect();
      return { refRate: Math.round(MESSAGES / seconds), refSeconds: seconds };
    };
    const { refRate, refSeconds } = PHASES.has('ref') ? await runReference() : { refRate: NaN, refSeconds: NaN };

    /** Paced run: LATENCY_RATE updates/s to distinct products; latency = send -> PUBLISH seen. */
    const latencyRun = async (name: string, env: Record<string, string>, seconds = LATENCY_SECONDS) => {
      await flushRedis();
      const latGroup = `bench-lat-${name}-${Date.now()}`;
      const endsNow = await admin.fetchTopicOffsets(TOPIC);
      // Start from the end of the topic: only the paced messages count.
      await admin.setOffsets({ groupId: latGroup, topic: TOPIC, partitions: endsNow.map((p) => ({ partition: p.partition, offset: p.high })) });
      const lp: ProducerHandle = await startProducer({ env: { ...env, KAFKA_GROUP_ID: latGroup }, host: `${IP}.161`, port: 18181, rootDir, name: `producer-latency-${name}` });
      const sub = new Redis({ host: redis.seeds[0].split(':')[0], port: Number(redis.seeds[0].split(':')[1]), ...adminAuth() });
      const sentAt = new Map<string, number>();
      const lat: number[] = [];
      const ackMs: number[] = [];
      await sub.subscribe(INVALIDATION_CHANNEL);
      sub.on('message', (_c, message: string) => {
        const { key } = parseInvalidation(message);
        const t = sentAt.get(key);
        if (t !== undefined) {
          lat.push(Date.now() - t);
          sentAt.delete(key);
        }
      });
      let rss = { rss: 0, hwm: 0 };
      const total = LATENCY_RATE * seconds;
      const idBase = { locked: 1_000_000, cas: 2_000_000 }[name] ?? 3_000_000;
      try {
        // Updates are generated on a 10 ms clock and handed to ONE in-flight produce request at a
        // time (whatever accumulated meanwhile goes in the next one, like a Kafka producer's
        // linger/batching). Firing a separate acks=all request every 10 ms instead queues them
        // behind each other on the bench's own broker connections (a broker handles one request
        // per connection at a time), so the bench measured its own send backlog. The clock of
        // each update still starts when it was generated, so any send wait is counted.
        const pending: { key: string; value: string }[] = [];
        let sending: Promise<void> | undefined;
        const flush = (): void => {
          if (sending || pending.length === 0) return;
          const msgs = pending.splice(0, pending.length);
          const t = Date.now();
          sending = kp
            .send({ topic: TOPIC, acks: -1, messages: msgs })
            .then(() => {
              ackMs.push(Date.now() - t);
            })
            .catch((e) => console.warn(`bench-producer: latency send failed: ${String(e)}`))
            .finally(() => {
              sending = undefined;
              flush();
            });
        };
        const startT = Date.now();
        let sent = 0;
        while (sent < total) {
          const due = Math.min(total, Math.floor(((Date.now() - startT) / 1000) * LATENCY_RATE));
          for (; sent < due; sent++) {
            const id = idBase + sent; // one update per product: its PUBLISH is this message's
            sentAt.set(`product_info_${id}`, Date.now());
            pending.push({ key: String(id), value: JSON.stringify({ serviceId: 'productInfoService', id, name: `l${id}`, price: 1, version: Date.now() }) });
          }
          flush();
          await sleep(10);
        }
        const until = Date.now() + 30_000;
        while (lat.length < total && Date.now() < until) await sleep(100);
        rss = rssMb(lp.proc.pid);
        // The producer's own view (consume lag histogram etc.), kept with the logs for diagnosis.
        const m = await fetch(lp.metricsUrl).then((r) => r.text()).catch(() => '');
        writeFileSync(`${rootDir}/metrics-latency-${name}.txt`, m);
      } finally {
        sub.disconnect();
        await lp.stop();
      }
      return { p50: pct(lat, 50), p99: pct(lat, 99), n: lat.length, missing: total - lat.length, rss, ackP50: pct(ackMs, 50), ackP99: pct(ackMs, 99) };
    };
    console.log(`bench-producer: phase 4/4: change-to-Redis latency at ${LATENCY_RATE} updates/s for ${LATENCY_SECONDS} s (locks on, then CAS only)`);
    const noLat = { p50: NaN, p99: NaN, n: 0, missing: 0, rss: { rss: 0, hwm: 0 }, ackP50: NaN, ackP99: NaN };
    if (LATENCY_WARMUP_SECONDS > 0 && (PHASES.has('latency-locked') || PHASES.has('latency-cas'))) {
      const w = await latencyRun('warmup', baseEnv, LATENCY_WARMUP_SECONDS);
      console.log(`bench-producer: latency warm-up, ${LATENCY_WARMUP_SECONDS} s paced with locks (not counted): p50=${w.p50} ms p99=${w.p99} ms`);
    }
    const latL = PHASES.has('latency-locked') ? await latencyRun('locked', baseEnv) : noLat;
    const latC = PHASES.has('latency-cas') ? await latencyRun('cas', { ...baseEnv, LOCK_ENABLED: 'false' }) : noLat;
    const { p50, p99 } = latL;
    const rssLat = latL.rss;

    const rows: [string, string, string][] = [
      ['producer, ZooKeeper locks + CAS', `${locked.rate}`, `${locked.seconds.toFixed(1)} s, RSS ${locked.rss.rss} MB (peak ${locked.rss.hwm})`],
      ['producer, CAS only', `${casOnly.rate}`, `${casOnly.seconds.toFixed(1)} s, RSS ${casOnly.rss.rss} MB (peak ${casOnly.rss.hwm})`],
      ['reference: kafkajs eachBatch + SET', `${refRate}`, `${refSeconds.toFixed(1)} s`],
    ];
    console.log('');
    console.log(`updates/s over ${MESSAGES} change messages, ${PRODUCTS} products, 6 partitions, RF 3 (same run, same machine)`);
    for (const [a, b, c] of rows) console.log(`  ${a.padEnd(38)} ${b.padStart(8)} /s   ${c}`);
    console.log(`change-to-Redis latency at ${LATENCY_RATE}/s (send -> PUBLISH seen, ${LATENCY_SECONDS} s, distinct products):`);
    console.log(`  ZooKeeper locks + CAS: p50=${latL.p50} ms p99=${latL.p99} ms (${latL.n} samples, ${latL.missing} not written within 30 s after the last send; Kafka produce acks p50=${latL.ackP50} p99=${latL.ackP99} ms)`);
    console.log(`  CAS only:              p50=${latC.p50} ms p99=${latC.p99} ms (${latC.n} samples, ${latC.missing} not written within 30 s after the last send; Kafka produce acks p50=${latC.ackP50} p99=${latC.ackP99} ms)`);
    console.log(`producer RSS during the latency runs: ${rssLat.rss} MB (peak ${rssLat.hwm} MB) locked, ${latC.rss.rss} MB (peak ${latC.rss.hwm} MB) CAS only`);
    console.log(`updates_per_s_cas_only=${casOnly.rate}`);
    console.log(`updates_per_s_reference=${refRate}`);
    console.log(`latency_p50_ms=${p50}`);
    console.log(`latency_p99_ms=${p99}`);
    console.log(`latency_cas_only_p50_ms=${latC.p50}`);
    console.log(`latency_cas_only_p99_ms=${latC.p99}`);
    console.log(`producer_rss_mb=${Math.max(rssLat.hwm, latC.rss.hwm, locked.rss.hwm, casOnly.rss.hwm)}`);
    console.log(`updates_per_s_locked=${locked.rate}`);
  } finally {
    await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error('bench-producer failed:', e);
    process.exit(1);
  },
);
