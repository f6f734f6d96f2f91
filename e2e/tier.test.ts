// The whole tier on a real kind cluster (1 control plane + 3 workers), run by `make e2e`
// (hack/kind/e2e.sh) after hack/kind/up.sh built every image locally, created the cluster,
// `helm install`ed the operator and applied e2e/manifests/cachetier.yaml. Nothing is faked: every
// call goes to that cluster through its own kubeconfig ($KUBECONFIG, never the user's context).
// The tests run in order and build on each other (one tier, one cluster).
import { jest } from '@jest/globals';
import { readFileSync } from 'node:fs';
import {
  condition,
  eventually,
  getJson,
  kubectl,
  NS,
  pods,
  portForward,
  tier,
  TIER,
  waitConditions,
  type PodInfo,
  type PortForward,
} from './kube.js';

jest.setTimeout(30 * 60_000);

/** The promise README makes: Ready within this long of `kubectl apply` on the 1+3 kind cluster. */
const READY_WITHIN_MS = Number(process.env.E2E_READY_MINUTES ?? 15) * 60_000;
const REDIS_SVC = `${TIER}-redis`;
const REDIS_IMAGE = process.env.E2E_REDIS_IMAGE ?? 'cachetier.local/redis:7.0.15';
const COMPONENT_CONDITIONS = ['ZooKeeperReady', 'KafkaReady', 'RedisReady', 'ProducerReady', 'OpenRestyReady', 'SlotsCovered', 'ReplicaPlacement', 'TopicsReady', 'ChangesFlowing'];
const COMPONENTS = ['zookeeper', 'kafka', 'redis', 'producer', 'openresty-distribution', 'openresty-app'];

let dist: PortForward;
let source: PortForward;

beforeAll(async () => {
  if (!process.env.KUBECONFIG) {
    throw new Error('e2e: KUBECONFIG is not set; run `make e2e` (it creates the cluster and its own kubeconfig), not jest directly');
  }
  const appliedAt = Number(readFileSync(`${process.env.CACHETIER_CACHE}/kind/applied-at`, 'utf8').trim()) * 1000;
  const left = appliedAt + READY_WITHIN_MS - Date.now();
  if (left > 0) await waitConditions(['Ready'], left).catch(() => undefined); // asserted in the first test
  dist = await portForward(`${TIER}-openresty-distribution`, 18080, 8080);
  source = await portForward('source-service', 18081, 8080);
});

afterAll(() => {
  dist?.stop();
  source?.stop();
});

interface Read {
  status: number;
  level: string | null;
  price?: number;
}
async function read(productId: number): Promise<Read> {
  const r = await fetch(`http://127.0.0.1:${dist.port}/product?productId=${productId}&shopId=1`);
  const level = r.headers.get('x-cache-level');
  if (r.status !== 200) return { status: r.status, level };
  const body = (await r.json()) as { product?: { price?: number } };
  return { status: 200, level, price: body.product?.price };
}

/** PUT a new price at the source and measure until the distribution Service serves it. */
async function changeAndSee(productId: number, timeoutMs = 60_000): Promise<number> {
  const want = 1000 + Math.floor(Math.random() * 1_000_000);
  const started = Date.now();
  // The source's port-forward dies with its pod (a drain evicts it) and is restarted by
  // portForward(): retry the PUT until it is answered. Repeating it is harmless (same price).
  const deadline = started + timeoutMs;
  let r: Response | undefined;
  for (;;) {
    r = await fetch(`http://127.0.0.1:${source.port}/product/${productId}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ price: want }),
    }).catch(() => undefined);
    if (r || Date.now() > deadline) break;
    await new Promise((res) => setTimeout(res, 500));
  }
  expect(r?.status).toBe(200);
  await eventually(`product ${productId} served with price ${want}`, async () => (await read(productId).catch(() => undefined))?.price === want, timeoutMs, 50);
  return Date.now() - started;
}

/**
 * The e2e's helper pods carry app.kubernetes.io/part-of=cachetier-e2e, the label the e2e CacheTier
 * names in spec.networkPolicy.redisClients (as a user would open Redis to a debug tool).
 */
const E2E_CLIENT_LABELS: Record<string, string> = { 'app.kubernetes.io/part-of': 'cachetier-e2e' };

/**
 * A new pod is refused until the CNI has put its address into the Redis policy's peer set, and
 * kube-router does that node by node (seconds, on a busy cluster, for each): before the real script,
 * wait up to 120 s until the Service and every connected member (redirects go to pod IPs) answer.
 */
const WAIT_FOR_REDIS =
  `for i in $(seq 120); do ` +
  `ok=0; [ "$(redis-cli -h ${REDIS_SVC} PING 2>/dev/null)" = PONG ] && ok=1; ` +
  `for a in $(redis-cli -h ${REDIS_SVC} CLUSTER NODES 2>/dev/null | awk '$3 !~ /fail|noaddr|handshake/ && $8 == "connected" { split($2, x, ":"); print x[1] }'); do ` +
  `[ "$(redis-cli -h $a PING 2>/dev/null)" = PONG ] || ok=0; done; ` +
  `[ $ok = 1 ] && break; sleep 1; done; `;

/**
 * A throwaway pod running a shell script with redis-cli (cluster redirects followed), as the
 * `operator` ACL user: its password from the passwords Secret's volume into REDISCLI_AUTH
 * (auth: false for pods that only probe the network, e.g. from another namespace).
 */
async function redisPod(
  name: string,
  script: string,
  o: { namespace?: string; labels?: Record<string, string>; waitForRedis?: boolean; auth?: boolean } = {},
): Promise<void> {
  const ns = o.namespace ?? NS;
  const withAuth = o.auth ?? true;
  if (o.waitForRedis ?? true) script = WAIT_FOR_REDIS + script;
  const command = withAuth
    ? 'export REDISCLI_AUTH="$(cat /auth/operator)"; ' + script.replaceAll('redis-cli ', 'redis-cli --no-auth-warning --user operator ')
    : script;
  await kubectl(['-n', ns, 'delete', 'pod', name, '--ignore-not-found', '--wait=true']);
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: o.labels ?? E2E_CLIENT_LABELS },
    spec: {
      restartPolicy: 'Never',
      securityContext: { runAsNonRoot: true, runAsUser: 999, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'cli',
          image: REDIS_IMAGE,
          imagePullPolicy: 'IfNotPresent',
          command: ['sh', '-c', command],
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          volumeMounts: withAuth ? [{ name: 'auth', mountPath: '/auth', readOnly: true }] : [],
        },
      ],
      volumes: withAuth ? [{ name: 'auth', secret: { secretName: `${TIER}-redis-passwords`, items: [{ key: 'operator', path: 'operator' }] } }] : [],
    },
  };
  await kubectl(['-n', ns, 'apply', '-f', '-'], JSON.stringify(pod));
}

async function podFinished(name: string, timeoutMs: number, ns = NS): Promise<string> {
  await eventually(
    `pod ${name} finished`,
    async () => {
      const p = await getJson<{ status: { phase: string } }>(['-n', ns, 'get', 'pod', name]);
      return p.status.phase === 'Succeeded' || p.status.phase === 'Failed';
    },
    timeoutMs,
  );
  return kubectl(['-n', ns, 'logs', name]);
}

/**
 * A client writing e2e:<run>:<i> = i through the Redis Service until stopped; every write Redis
 * acknowledged (OK) is logged. stop() ends it and returns the acknowledged indexes.
 */
class Writer {
  constructor(readonly run: string) {}
  async start(): Promise<void> {
    const script =
      `i=0; while [ ! -f /tmp/stop ]; do i=$((i+1)); ` +
      `if [ "$(redis-cli -c -h ${REDIS_SVC} SET e2e:${this.run}:$i $i 2>/dev/null)" = OK ]; then echo ACK $i; else echo NACK $i; sleep 0.2; fi; done; ` +
      // Outlive the `kubectl exec touch` that stopped the loop: when the pod's first process ends,
      // every other process in it is SIGKILLed, and the exec would report exit code 137.
      `sleep 2; echo DONE`;
    await redisPod(`e2e-writer-${this.run}`, script);
    await eventually(`writer ${this.run} running`, async () => (await kubectl(['-n', NS, 'logs', `e2e-writer-${this.run}`]).catch(() => '')).includes('ACK '), 3 * 60_000);
  }
  async stop(): Promise<number[]> {
    await kubectl(['-n', NS, 'exec', `e2e-writer-${this.run}`, '--', 'touch', '/tmp/stop']).catch((e: unknown) => {
      // The file is made before touch exits: a writer that stopped at once may take touch with it.
      if (!/exit code 137/.test(String(e))) throw e;
    });
    const log = await podFinished(`e2e-writer-${this.run}`, 2 * 60_000);
    expect(log.trimEnd().endsWith('DONE')).toBe(true); // stopped by us, not by anything else
    return log.split('\n').filter((l) => l.startsWith('ACK ')).map((l) => Number(l.slice(4)));
  }
}

/** Reads back every acknowledged key; returns how many are missing or wrong, and the first few. */
async function lostWrites(run: string, acked: number[]): Promise<{ lost: number; first: number[] }> {
  const bad = await badIndexes(run, acked);
  return { lost: bad.length, first: bad.slice(0, 10) };
}
const NONE_LOST = { lost: 0, first: [] };

async function badIndexes(run: string, acked: number[]): Promise<number[]> {
  const max = Math.max(...acked);
  const name = `e2e-reader-${run}`;
  await redisPod(name, `i=1; while [ $i -le ${max} ]; do echo "GET e2e:${run}:$i"; i=$((i+1)); done | redis-cli -c -h ${REDIS_SVC}`);
  // redis-cli reading commands from stdin announces each cluster redirect on a line of its own.
  const out = await podFinished(name, 10 * 60_000);
  const lines = out.split('\n').filter((l) => !l.startsWith('-> Redirected'));
  const bad = acked.filter((i) => lines[i - 1]?.trim() !== String(i));
  // What the reader saw, to tell a lost write from a reader that could not read (e.g. refused).
  if (bad.length > 0) console.log(`e2e: reader ${name}: ${bad.length} bad; first lines:\n${out.split('\n').slice(0, 15).join('\n')}`);
  return bad;
}

function nodesOf(ps: PodInfo[]): string[] {
  return ps.map((p) => p.node ?? '?');
}

test('CacheTier is Ready within the stated time, every component condition True, pods spread as promised', async () => {
  const appliedAt = Number(readFileSync(`${process.env.CACHETIER_CACHE}/kind/applied-at`, 'utf8').trim()) * 1000;
  const t = await tier();
  expect({ type: 'Ready', status: condition(t, 'Ready')?.status }).toEqual({ type: 'Ready', status: 'True' });
  const readyAt = Date.parse(condition(t, 'Ready')!.lastTransitionTime!);
  console.log(`e2e: Ready ${Math.round((readyAt - appliedAt) / 1000)} s after kubectl apply (promise: ${READY_WITHIN_MS / 60_000} min)`);
  expect(readyAt - appliedAt).toBeLessThan(READY_WITHIN_MS);
  for (const c of COMPONENT_CONDITIONS) {
    expect({ type: c, status: condition(t, c)?.status }).toEqual({ type: c, status: 'True' });
  }
  expect(t.status?.redis?.readyMasters).toBe(3);

  // One ZooKeeper and one Kafka broker per worker (3 workers, soft anti-affinity by hostname).
  const workers = (await getJson<{ items: { metadata: { name: string; labels: Record<string, string> } }[] }>(['get', 'nodes'])).items
    .filter((n) => !('node-role.kubernetes.io/control-plane' in n.metadata.labels))
    .map((n) => n.metadata.name);
  expect(workers).toHaveLength(3);
  for (const c of ['zookeeper', 'kafka']) {
    const ns = nodesOf(await pods(c));
    expect({ c, distinct: new Set(ns).size }).toEqual({ c, distinct: 3 });
  }
  // Every Redis replica on another node than its master; no worker with more than 2 of the 6.
  const members = t.status?.redis?.members ?? [];
  expect(members).toHaveLength(6);
  for (const m of members.filter((x) => x.role === 'replica')) {
    const owner = members.find((x) => x.pod === m.replicaOf); // replicaOf names the master's pod
    expect(owner?.kubernetesNode).toBeDefined();
    expect(m.kubernetesNode).not.toBe(owner?.kubernetesNode);
  }
  const perNode = new Map<string, number>();
  for (const n of nodesOf(await pods('redis'))) perNode.set(n, (perNode.get(n) ?? 0) + 1);
  expect(Math.max(...perNode.values())).toBeLessThanOrEqual(2);
});

test('a product is read through the distribution Service: L3 first, then from L1/L2', async () => {
  const pid = 10 + Math.floor(Math.random() * 80); // seeded by the source (1..100), not used by other tests
  const first = await read(pid);
  expect(first).toMatchObject({ status: 200, level: 'L3' });
  expect(typeof first.price).toBe('number');
  const again = await read(pid);
  expect(again.status).toBe(200);
  expect(['L1', 'L2']).toContain(again.level);
  expect(again.price).toBe(first.price);
});

test('an update at the source is served through the distribution Service within 1 s', async () => {
  await read(7); // cached before the change
  const times: number[] = [];
  for (let i = 0; i < 3; i++) times.push(await changeAndSee(7, 10_000));
  console.log(`e2e: change -> served in ${times.join(', ')} ms`);
  expect(Math.max(...times)).toBeLessThanOrEqual(1000);
});

test('NetworkPolicies: a pod outside the allowed set reaches none of Redis, Kafka, ZooKeeper, the producer or the app layer; the distribution layer is open', async () => {
  const policies = (await kubectl(['-n', NS, 'get', 'networkpolicies', '-l', `app.kubernetes.io/instance=${TIER}`, '-o', 'name'])).trim().split('\n').sort();
  expect(policies).toEqual(COMPONENTS.map((c) => `networkpolicy.networking.k8s.io/${TIER}-${c}`).sort());
  // The allowed set: a labelled pod reaches Redis (the writers below rely on it), and the tier's
  // own flows work end to end (the read and update tests above went through every component).
  await redisPod('e2e-netpol-allowed', `redis-cli -h ${REDIS_SVC} PING`);
  expect((await podFinished('e2e-netpol-allowed', 3 * 60_000)).trim()).toBe('PONG');
  // One TCP connect per target, 3 s each: OPEN or CLOSED (a drop times out, a reject fails fast).
  const svc = (name: string) => `${name}.${NS}.svc.cluster.local`;
  const targets: Array<[string, string, number]> = [
    ['redis', svc(`${TIER}-redis`), 6379],
    ['redis-bus', `${TIER}-redis-0.${svc(`${TIER}-redis-headless`)}`, 16379],
    ['kafka', `${TIER}-kafka-0.${svc(`${TIER}-kafka-headless`)}`, 9092],
    ['zookeeper', svc(`${TIER}-zookeeper`), 2181],
    ['producer', svc(`${TIER}-producer`), 8080],
    ['app', svc(`${TIER}-openresty-app`), 8080],
    ['distribution', svc(`${TIER}-openresty-distribution`), 8080],
  ];
  const script = targets
    .map(([label, host, port]) => `if timeout 3 bash -c 'exec 3<>/dev/tcp/${host}/${port}' 2>/dev/null; then echo "${label} OPEN"; else echo "${label} CLOSED"; fi`)
    .join('; ');
  const OUTSIDE_NS = `${NS}-outside`;
  await kubectl(['create', 'namespace', OUTSIDE_NS, '--dry-run=client', '-o', 'yaml']).then((y) => kubectl(['apply', '-f', '-'], y));
  const probes = [
    { name: 'e2e-netpol-unlabelled', namespace: NS, labels: {} },
    { name: 'e2e-netpol-other-ns', namespace: OUTSIDE_NS, labels: E2E_CLIENT_LABELS },
  ];
  // No wait for Redis here: these pods must never reach it. They sleep 15 s first, so a CLOSED below
  // is the policy and not a pod too new for the CNI to have admitted anyway.
  await Promise.all(probes.map((p) => redisPod(p.name, `sleep 15; ${script}`, { namespace: p.namespace, labels: p.labels, waitForRedis: false, auth: false })));
  const want = Object.fromEntries(targets.map(([label]) => [label, label === 'distribution' ? 'OPEN' : 'CLOSED']));
  for (const p of probes) {
    const log = await podFinished(p.name, 3 * 60_000, p.namespace);
    const got = Object.fromEntries(log.trim().split('\n').map((l) => l.trim().split(' ')).filter((w) => w.length === 2));
    console.log(`e2e: ${p.name} (${p.namespace}): ${JSON.stringify(got)}`);
    expect({ pod: p.name, got }).toEqual({ pod: p.name, got: want });
  }
  await kubectl(['-n', NS, 'delete', 'pod', probes[0].name, '--ignore-not-found', '--wait=false']);
  await kubectl(['delete', 'namespace', OUTSIDE_NS, '--ignore-not-found', '--wait=false']);
});

test('kubectl scale cachetier 3 -> 4 -> 3 -> 4 under a writer: every acknowledged write reads back; the scaled-down ordinal loses its claim and returns empty', async () => {
  const w = new Writer('scale');
  await w.start();
  await kubectl(['-n', NS, 'scale', 'cachetier', TIER, '--replicas=4']);
  const up = await waitConditions(['Ready', 'SlotsCovered', 'SlotsBalanced'], 12 * 60_000);
  expect(up.status?.redis?.readyMasters).toBe(4);
  const pvcName = `data-${TIER}-redis-7`;
  const pvcBefore = await getJson<{ metadata: { uid: string } }>(['-n', NS, 'get', 'pvc', pvcName]);

  await kubectl(['-n', NS, 'scale', 'cachetier', TIER, '--replicas=3']);
  const down = await waitConditions(['Ready', 'SlotsCovered', 'SlotsBalanced'], 12 * 60_000);
  expect(down.status?.redis?.readyMasters).toBe(3);
  const sts = await getJson<{ spec: { replicas: number } }>(['-n', NS, 'get', 'statefulset', `${TIER}-redis`]);
  expect(sts.spec.replicas).toBe(6);
  // whenScaled: Delete: the removed ordinal's claim goes with it, so it can never come back on
  // old data (the integration tier covers clusters that keep the volume).
  await eventually(
    `${pvcName} deleted after the scale-down`,
    async () => !(await kubectl(['-n', NS, 'get', 'pvc', '-o', 'name'])).split('\n').includes(`persistentvolumeclaim/${pvcName}`),
    3 * 60_000,
  );

  await kubectl(['-n', NS, 'scale', 'cachetier', TIER, '--replicas=4']);
  const again = await waitConditions(['Ready', 'SlotsCovered', 'SlotsBalanced', 'MembershipHealthy'], 12 * 60_000);
  expect(again.status?.redis?.readyMasters).toBe(4);
  const pod7 = await getJson<{ spec: { volumes: { name: string; persistentVolumeClaim?: { claimName: string } }[] } }>(['-n', NS, 'get', 'pod', `${TIER}-redis-7`]);
  expect(pod7.spec.volumes.find((v) => v.persistentVolumeClaim)?.persistentVolumeClaim?.claimName).toBe(pvcName);
  expect((await getJson<{ metadata: { uid: string } }>(['-n', NS, 'get', 'pvc', pvcName])).metadata.uid).not.toBe(pvcBefore.metadata.uid);

  const acked = await w.stop();
  console.log(`e2e: scale writer: ${acked.length} acknowledged writes`);
  expect(acked.length).toBeGreaterThan(100);
  expect(await lostWrites('scale', acked)).toEqual(NONE_LOST);
});

test('deleting the Redis master pod, a Kafka broker and a ZooKeeper pod: the data path keeps working, nothing lost', async () => {
  const w = new Writer('kill');
  await w.start();
  const t = await tier();
  const master = t.status?.redis?.members?.find((m) => m.role === 'master');
  expect(master).toBeDefined();
  const before = await pods('redis');
  const masterUid = before.find((p) => p.name === master!.pod)!.uid;
  await kubectl(['-n', NS, 'delete', 'pod', master!.pod, `${TIER}-kafka-1`, `${TIER}-zookeeper-1`, '--wait=false']);
  // Changes keep flowing source -> Kafka -> producer -> Redis -> OpenResty while they come back.
  const during = await changeAndSee(2, 3 * 60_000);
  console.log(`e2e: change served ${during} ms after deleting redis master, kafka-1 and zookeeper-1`);
  await eventually(`pod ${master!.pod} replaced`, async () => (await pods('redis')).some((p) => p.name === master!.pod && p.uid !== masterUid && p.ready), 5 * 60_000);
  const healed = await waitConditions(['Ready', 'SlotsCovered', 'ReplicaPlacement', 'MembershipHealthy'], 10 * 60_000);
  expect(healed.status?.redis?.readyMasters).toBeGreaterThanOrEqual(3);
  // Flowing again once healed (the 1 s bound is the freshness test's; right after a broker and a
  // ZooKeeper member came back the first change took 1.9 s in one run).
  console.log(`e2e: change served ${await changeAndSee(3, 10_000)} ms after healing`);
  const acked = await w.stop();
  expect(acked.length).toBeGreaterThan(50);
  expect(await lostWrites('kill', acked)).toEqual(NONE_LOST);
});

test('kubectl drain of a worker (PodDisruptionBudgets respected): the data path keeps working, nothing lost', async () => {
  const w = new Writer('drain');
  await w.start();
  const kafka = await pods('kafka');
  const node = kafka.find((p) => p.name === `${TIER}-kafka-0`)!.node!;
  // Sample every component's disrupted pods (evicted and not yet running again: gone, terminating
  // or Pending) while the drain runs: evictions honour the PDBs (maxUnavailable 1), so no
  // component may ever have two pods disrupted at once. (Readiness is no measure here: a
  // ZooKeeper leader leaving makes its followers unready for the election, with no pod evicted.)
  const expected = new Map<string, number>();
  for (const c of ['zookeeper', 'kafka', 'redis']) {
    expected.set(c, (await getJson<{ spec: { replicas: number } }>(['-n', NS, 'get', 'statefulset', `${TIER}-${c}`])).spec.replicas);
  }
  let sampling = true;
  const worst = new Map<string, number>();
  const sampler = (async () => {
    while (sampling) {
      for (const c of ['zookeeper', 'kafka', 'redis']) {
        const running = (await pods(c).catch(() => undefined))?.filter((p) => p.running).length;
        if (running !== undefined) worst.set(c, Math.max(worst.get(c) ?? 0, expected.get(c)! - running));
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  let drainOut = '';
  try {
    try {
      // The test's own client pods (no controller) stay: they are the users of the tier, not part of it.
      drainOut = await kubectl(['drain', node, '--ignore-daemonsets', '--delete-emptydir-data', '--pod-selector=app.kubernetes.io/part-of!=cachetier-e2e', '--timeout=240s']);
    } catch (e) {
      // A pod whose PVC lives on the drained node cannot move (local-path volumes); with its PDB
      // budget spent, the drain stops at the PDB instead of taking a second pod: that is the promise.
      drainOut = String(e);
      expect(drainOut).toMatch(/disruption budget|timed out|timeout reached/i);
    }
    console.log(`e2e: drain ${node}: ${drainOut.split('\n').slice(-3).join(' | ')}`);
    const ms = await changeAndSee(4, 3 * 60_000);
    console.log(`e2e: change served ${ms} ms with ${node} drained`);
  } finally {
    await kubectl(['uncordon', node]);
  }
  await waitConditions(['Ready', 'SlotsCovered', 'MembershipHealthy'], 10 * 60_000);
  sampling = false;
  await sampler;
  console.log(`e2e: most pods disrupted at once during the drain: ${JSON.stringify(Object.fromEntries(worst))}`);
  for (const [c, n] of worst) expect({ c, n: Math.min(n, 1) }).toEqual({ c, n });
  const acked = await w.stop();
  expect(acked.length).toBeGreaterThan(50);
  expect(await lostWrites('drain', acked)).toEqual(NONE_LOST);
});

/**
 * A pod writing acks=all records to its own topic (RF 3, min.insync.replicas 2) with kafkajs, from
 * the producer's image, until /tmp/stop: "ACK i" / "FAIL i <error>" per send, the controller's
 * broker id every 5 s ("CONTROLLER n"), then it reads the topic back and prints "MISSING <count>
 * <first ids>" (acknowledged but not read) and DONE.
 */
const KAFKA_LOAD_SCRIPT = `
const { Kafka, logLevel } = require('kafkajs');
const fs = require('fs');
const topic = 'e2e-roll';
const kafka = new Kafka({ clientId: 'e2e-roll', brokers: [process.env.BOOTSTRAP], logLevel: logLevel.NOTHING,
  retry: { retries: 15, initialRetryTime: 200, maxRetryTime: 5000 } });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
(async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3, replicationFactor: 3,
    configEntries: [{ name: 'min.insync.replicas', value: '2' }] }] });
  const controller = async () => { try { console.log('CONTROLLER ' + (await admin.describeCluster()).controller); } catch (e) {} };
  await controller();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const acked = [];
  let i = 0, last = Date.now();
  while (!fs.existsSync('/tmp/stop')) {
    i++;
    try {
      await producer.send({ topic, acks: -1, messages: [{ key: String(i % 30), value: String(i) }] });
      acked.push(i);
      console.log('ACK ' + i);
    } catch (e) {
      console.log('FAIL ' + i + ' ' + (e && e.message));
    }
    if (Date.now() - last > 5000) { await controller(); last = Date.now(); }
    await sleep(50);
  }
  await producer.disconnect();
  const seen = new Set();
  let heard = Date.now();
  const consumer = kafka.consumer({ groupId: 'e2e-roll-check-' + Date.now() });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => { seen.add(message.value.toString()); heard = Date.now(); } });
  while (Date.now() - heard < 20000) await sleep(1000);
  await consumer.disconnect();
  const missing = acked.filter((n) => !seen.has(String(n)));
  console.log('MISSING ' + missing.length + ' ' + missing.slice(0, 10).join(','));
  console.log('DONE');
  process.exit(0);
})().catch((e) => { console.log('ERROR ' + (e && e.message)); process.exit(1); });
`;

async function zookeeperLeader(): Promise<string> {
  for (const p of await pods('zookeeper')) {
    const out = await kubectl(['-n', NS, 'exec', p.name, '-c', 'zookeeper', '--', 'bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/2181; printf srvr >&3; cat <&3']).catch(() => '');
    if (/^Mode: leader/m.test(out)) return p.name;
  }
  throw new Error('e2e: no ZooKeeper server says it leads');
}

/** Redis roles from CLUSTER NODES, by pod name (the tier's pods mapped by IP). */
async function redisRoles(run: string): Promise<Record<string, string>> {
  const name = `e2e-roles-${run}`;
  await redisPod(name, `redis-cli -h ${REDIS_SVC} CLUSTER NODES`);
  const out = await podFinished(name, 3 * 60_000);
  const ips = await getJson<{ items: { metadata: { name: string }; status: { podIP?: string } }[] }>(['-n', NS, 'get', 'pods', '-l', `app.kubernetes.io/name=redis,app.kubernetes.io/instance=${TIER}`]);
  const byIp = new Map(ips.items.map((p) => [p.status.podIP, p.metadata.name]));
  const roles: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const f = line.trim().split(' ');
    if (f.length < 8) continue;
    const pod = byIp.get(f[1].split(':')[0]);
    if (pod) roles[pod] = f[2].includes('master') ? 'master' : 'replica';
  }
  return roles;
}

test('a ZooKeeper, a Kafka and a Redis config change under load, the operator leader killed mid-roll: one pod at a time, the ZooKeeper leader and the Kafka controller last, Redis masters handed over first; no acks=all send fails, no write lost', async () => {
  const STATEFUL = ['zookeeper', 'kafka', 'redis'];
  const before = new Map<string, PodInfo[]>();
  for (const c of COMPONENTS) before.set(c, await pods(c));
  const zkLeader = await zookeeperLeader();
  const rolesBefore = await redisRoles('before');
  // The scale scenario before this one leaves 4 masters.
  expect(Object.values(rolesBefore).filter((r) => r === 'master')).toHaveLength((await tier()).status?.redis?.readyMasters ?? -1);

  // The load: a Redis writer and an acks=all Kafka producer, both from the start to the end.
  const w = new Writer('roll');
  await w.start();
  const producerImage = (await kubectl(['-n', NS, 'get', 'deployment', `${TIER}-producer`, '-o', 'jsonpath={.spec.template.spec.containers[0].image}'])).trim();
  const loadPod = 'e2e-kafka-load';
  await kubectl(['-n', NS, 'delete', 'pod', loadPod, '--ignore-not-found', '--wait=true']);
  await kubectl(
    ['-n', NS, 'apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: loadPod, labels: E2E_CLIENT_LABELS },
      spec: {
        restartPolicy: 'Never',
        securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          {
            name: 'load',
            image: producerImage,
            imagePullPolicy: 'IfNotPresent',
            workingDir: '/app',
            command: ['node', '-e', KAFKA_LOAD_SCRIPT],
            env: [{ name: 'BOOTSTRAP', value: `${TIER}-kafka:9092` }],
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          },
        ],
      },
    }),
  );
  const loadLog = () => kubectl(['-n', NS, 'logs', loadPod]).catch(() => '');
  await eventually('acks=all producer sending', async () => /^ACK /m.test(await loadLog()), 3 * 60_000);
  const controllerBefore = Number(/^CONTROLLER (\d+)/m.exec(await loadLog())?.[1]);
  expect(Number.isInteger(controllerBefore)).toBe(true);

  // Sample the three StatefulSets' pods while they roll: when each original pod went, and how
  // many were disrupted (gone, terminating or not running) at once.
  const original = new Map<string, string>(); // uid -> pod
  for (const c of STATEFUL) for (const p of before.get(c)!) original.set(p.uid, p.name);
  const replacedAt = new Map<string, number>(); // pod -> sample index its original uid was gone
  const worst = new Map<string, number>();
  let sampling = true;
  let sample = 0;
  const sampler = (async () => {
    while (sampling) {
      sample++;
      for (const c of STATEFUL) {
        const now = await pods(c).catch(() => undefined);
        if (!now) continue;
        const live = new Set(now.map((p) => p.uid));
        for (const p of before.get(c)!) if (!live.has(p.uid) && !replacedAt.has(p.name)) replacedAt.set(p.name, sample);
        worst.set(c, Math.max(worst.get(c) ?? 0, before.get(c)!.length - now.filter((p) => p.running).length));
      }
      await new Promise((r) => setTimeout(r, 1500));
    }
  })();

  const t = await tier();
  await kubectl([
    '-n', NS, 'patch', 'cachetier', TIER, '--type', 'merge', '-p',
    // Each differs from the rendered default (maxClientCnxns 120, num.io.threads 8, hz 10).
    JSON.stringify({ spec: { zookeeper: { config: { maxClientCnxns: '130' } }, kafka: { config: { 'num.io.threads': '9' } }, redis: { config: { hz: '11' } } } }),
  ]);
  // Kill the operator's leader mid-roll (ZooKeeper done, Kafka started): the other replica takes
  // the lease and finishes the roll from what the cluster says, still one pod at a time.
  const leaderPod = async () => (await kubectl(['-n', 'cachetier-system', 'get', 'lease', 'cachetier-operator', '-o', 'jsonpath={.spec.holderIdentity}'])).trim().split('_')[0];
  let killedLeader = '';
  const killer = (async () => {
    await eventually('the Kafka roll to start', async () => before.get('kafka')!.some((p) => replacedAt.has(p.name)) || replacedAt.size === original.size, 30 * 60_000, 2000);
    killedLeader = await leaderPod();
    await kubectl(['-n', 'cachetier-system', 'delete', 'pod', killedLeader, '--wait=false']);
    console.log(`e2e: deleted the operator leader ${killedLeader} mid-roll (${replacedAt.size}/${original.size} pods replaced)`);
  })();
  try {
    await eventually('every ZooKeeper, Kafka and Redis pod replaced', async () => replacedAt.size === original.size, 30 * 60_000, 5000);
    await killer;
    await eventually('the roll finished (status.roll gone)', async () => {
      const now = await getJson<{ status?: { roll?: unknown } }>(['-n', NS, 'get', 'cachetier', TIER]);
      return now.status?.roll === undefined;
    }, 10 * 60_000);
    await waitConditions(['Ready', 'SlotsCovered', 'MembershipHealthy', 'ChangesFlowing'], 10 * 60_000);
  } finally {
    sampling = false;
    await sampler;
  }
  expect((await tier()).metadata.generation).toBeGreaterThan(t.metadata.generation);
  expect(killedLeader).not.toBe('');
  expect(await leaderPod()).not.toBe(killedLeader);
  const order = (c: string) => before.get(c)!.map((p) => p.name).sort((a, b) => replacedAt.get(a)! - replacedAt.get(b)!);
  console.log(`e2e: roll order: ${STATEFUL.map((c) => `${c}: ${order(c).join(' ')}`).join('; ')}; ZooKeeper leader ${zkLeader}, Kafka controller ${controllerBefore}`);
  console.log(`e2e: most pods disrupted at once during the roll: ${JSON.stringify(Object.fromEntries(worst))}`);
  // One at a time, and each component only after the one before it (ZooKeeper, Kafka, Redis).
  for (const c of STATEFUL) expect({ c, n: worst.get(c) }).toEqual({ c, n: 1 });
  const last = (c: string) => Math.max(...before.get(c)!.map((p) => replacedAt.get(p.name)!));
  const first = (c: string) => Math.min(...before.get(c)!.map((p) => replacedAt.get(p.name)!));
  expect(first('kafka')).toBeGreaterThan(last('zookeeper'));
  expect(first('redis')).toBeGreaterThan(last('kafka'));
  // The ZooKeeper leader and the Kafka controller went last.
  expect(order('zookeeper').at(-1)).toBe(zkLeader);
  expect(order('kafka').at(-1)).toBe(`${TIER}-kafka-${controllerBefore}`);
  // Every master was handed over (CLUSTER FAILOVER) before the operator deleted its pod: the
  // operator's RollRestart events, in time order. (Placement is evened out again after the roll,
  // so the roles at the end say nothing.)
  const rollEvents = (await getJson<{ items: { message: string; firstTimestamp?: string; eventTime?: string }[] }>(['-n', NS, 'get', 'events', '--field-selector', `involvedObject.name=${TIER},reason=RollRestart`])).items;
  const when = (pod: string, what: RegExp) => rollEvents.filter((e) => e.message.startsWith(`redis: ${pod}:`) && what.test(e.message)).map((e) => Date.parse(e.firstTimestamp ?? e.eventTime ?? ''));
  for (const [pod, role] of Object.entries(rolesBefore)) {
    if (role !== 'master') continue;
    const handedOver = when(pod, /CLUSTER FAILOVER/);
    const restarted = when(pod, /^(?!.*CLUSTER FAILOVER)/);
    expect({ pod, handedOver: handedOver.length, restarted: restarted.length }).toEqual({ pod, handedOver: 1, restarted: 1 });
    expect(handedOver[0]).toBeLessThanOrEqual(restarted[0]);
  }

  // The load: no acks=all send failed, every acknowledged record and Redis write is there.
  await kubectl(['-n', NS, 'exec', loadPod, '--', 'touch', '/tmp/stop']);
  const log = await podFinished(loadPod, 3 * 60_000);
  expect(log).toMatch(/^DONE$/m);
  const sent = log.split('\n').filter((l) => l.startsWith('ACK ')).length;
  const failed = log.split('\n').filter((l) => l.startsWith('FAIL '));
  console.log(`e2e: acks=all producer: ${sent} acknowledged, ${failed.length} failed during the roll`);
  expect(sent).toBeGreaterThan(100);
  expect(failed).toEqual([]);
  expect(/^MISSING .*$/m.exec(log)?.[0]).toBe('MISSING 0 ');
  const acked = await w.stop();
  expect(acked.length).toBeGreaterThan(100);
  expect(await lostWrites('roll', acked)).toEqual(NONE_LOST);

  // Nothing else rolled.
  for (const c of COMPONENTS.filter((x) => !STATEFUL.includes(x))) {
    const uids = (await pods(c)).map((p) => p.uid).sort();
    expect({ c, uids }).toEqual({ c, uids: before.get(c)!.map((p) => p.uid).sort() });
  }
});

test('CacheTier delete + helm uninstall leave no orphan (PVCs per the retention policy)', async () => {
  const sts = await getJson<{ spec: { persistentVolumeClaimRetentionPolicy?: { whenDeleted?: string } } }>(['-n', NS, 'get', 'statefulset', `${TIER}-redis`]);
  const whenDeleted = sts.spec.persistentVolumeClaimRetentionPolicy?.whenDeleted ?? 'Retain';
  await kubectl(['-n', NS, 'delete', 'pod', '-l', 'app.kubernetes.io/part-of=cachetier-e2e', '--ignore-not-found']);
  await kubectl(['-n', NS, 'delete', 'cachetier', TIER, '--wait=true', '--timeout=5m']);
  const sel = `app.kubernetes.io/instance=${TIER}`;
  await eventually(
    'children garbage-collected',
    async () => (await kubectl(['-n', NS, 'get', 'statefulsets,deployments,configmaps,services,poddisruptionbudgets,networkpolicies,pods,secrets', '-l', sel, '-o', 'name'])).trim() === '',
    5 * 60_000,
  );
  const pvcs = (await kubectl(['-n', NS, 'get', 'pvc', '-o', 'name'])).trim();
  console.log(`e2e: redis PVC retention whenDeleted=${whenDeleted}; PVCs left: ${pvcs.split('\n').filter(Boolean).length}`);
  if (whenDeleted === 'Delete') await eventually('PVCs deleted with the StatefulSet', async () => (await kubectl(['-n', NS, 'get', 'pvc', '-o', 'name'])).trim() === '', 3 * 60_000);
  else expect(pvcs).toContain(`data-${TIER}-redis-0`);

  const { execFile } = await import('node:child_process');
  await new Promise<void>((resolve, reject) =>
    execFile('helm', ['uninstall', 'cachetier', '-n', 'cachetier-system', '--wait', '--timeout', '3m'], (e) => (e ? reject(e) : resolve())),
  );
  await eventually(
    'operator removed',
    async () => (await kubectl(['-n', 'cachetier-system', 'get', 'deployments,pods,services,serviceaccounts,roles,rolebindings', '-o', 'name'])).trim().split('\n').filter((l) => l && !l.endsWith('/default')).length === 0,
    3 * 60_000,
  );
  const clusterScoped = (await kubectl(['get', 'clusterroles,clusterrolebindings', '-o', 'name'])).split('\n').filter((l) => l.includes('cachetier'));
  expect(clusterScoped).toEqual([]);
});
