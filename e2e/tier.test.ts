// The whole tier on kind: run by `make e2e` (hack/kind/e2e.sh) after the chart and the example
// CacheTier are installed. Needs Docker/podman + kind; there is no fallback that passes without them.
import { jest } from '@jest/globals';
import { condition, eventually, getJson, kubectl, NS, portForward, tier, TIER, waitConditions, type PortForward } from './kube.js';

jest.setTimeout(30 * 60_000);

const REDIS_SVC = `${TIER}-redis`;
let dist: PortForward;
let source: PortForward;

beforeAll(async () => {
  const ctx = (await kubectl(['config', 'current-context']).catch(() => '')).trim();
  if (!ctx.startsWith('kind-')) {
    throw new Error('e2e: no kind cluster context; run `make e2e` (it creates the cluster), not jest directly');
  }
  await waitConditions(['Ready'], 20 * 60_000);
  dist = await portForward(`${TIER}-openresty-distribution`, 18080, 8080);
  source = await portForward('source-service', 18081, 8080);
});

afterAll(() => {
  dist?.stop();
  source?.stop();
});

async function price(productId: number): Promise<number | undefined> {
  const r = await fetch(`http://127.0.0.1:${dist.port}/product?productId=${productId}&shopId=1`);
  if (r.status !== 200) return undefined;
  const body = (await r.json()) as { product?: { price?: number } };
  return body.product?.price;
}

async function changeAndSee(productId: number): Promise<number> {
  const want = 1000 + Math.floor(Math.random() * 100000);
  const started = Date.now();
  const r = await fetch(`http://127.0.0.1:${source.port}/product/${productId}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ price: want }),
  });
  expect(r.status).toBe(200);
  await eventually(`product ${productId} served with price ${want}`, async () => (await price(productId)) === want, 60_000, 250);
  return Date.now() - started;
}

/** Runs a shell script in a throwaway redis pod (redis-cli with cluster redirects) and returns its log. */
async function redisJob(name: string, script: string, timeoutMs: number): Promise<string> {
  await kubectl(['-n', NS, 'delete', 'pod', name, '--ignore-not-found', '--wait=true']);
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      restartPolicy: 'Never',
      securityContext: { runAsNonRoot: true, runAsUser: 999, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'cli',
          image: 'redis:7.0.15',
          command: ['sh', '-c', script],
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        },
      ],
    },
  };
  await kubectl(['-n', NS, 'apply', '-f', '-'], JSON.stringify(pod));
  await eventually(
    `pod ${name} finished`,
    async () => {
      const p = await getJson<{ status: { phase: string } }>(['-n', NS, 'get', 'pod', name]);
      return p.status.phase === 'Succeeded' || p.status.phase === 'Failed';
    },
    timeoutMs,
  );
  return kubectl(['-n', NS, 'logs', name]);
}

test('CacheTier is Ready with every component condition True', async () => {
  const t = await tier();
  for (const c of ['ZooKeeperReady', 'KafkaReady', 'RedisReady', 'ProducerReady', 'OpenRestyReady', 'SlotsCovered', 'ReplicaPlacement', 'TopicsReady']) {
    expect({ type: c, status: condition(t, c)?.status }).toEqual({ type: c, status: 'True' });
  }
  expect(t.status?.redis?.readyMasters).toBe(3);
});

test('a product change published to Kafka is served new through the distribution layer', async () => {
  const ms = await changeAndSee(1);
  console.log(`e2e: change -> served in ${ms} ms`);
});

test('scale Redis masters 3 -> 4 -> 3 under a writing client loses no acknowledged key', async () => {
  const writer = `end=$(( $(date +%s) + 240 )); i=0; while [ $(date +%s) -lt $end ]; do i=$((i+1)); ` +
    `if [ "$(redis-cli -c -h ${REDIS_SVC} SET e2e:$i $i 2>/dev/null)" = OK ]; then echo ACK $i; fi; done`;
  const writing = redisJob('e2e-writer', writer, 10 * 60_000);
  await new Promise((r) => setTimeout(r, 10_000));
  await kubectl(['-n', NS, 'patch', 'cachetier', TIER, '--type', 'merge', '-p', '{"spec":{"redis":{"masters":4}}}']);
  const up = await waitConditions(['Ready', 'SlotsCovered', 'SlotsBalanced'], 10 * 60_000);
  expect(up.status?.redis?.readyMasters).toBe(4);
  await kubectl(['-n', NS, 'scale', 'cachetier', TIER, '--replicas=3']);
  const down = await waitConditions(['Ready', 'SlotsCovered', 'SlotsBalanced'], 10 * 60_000);
  expect(down.status?.redis?.readyMasters).toBe(3);
  const sts = await getJson<{ spec: { replicas: number } }>(['-n', NS, 'get', 'statefulset', `${TIER}-redis`]);
  expect(sts.spec.replicas).toBe(6);

  const acked = (await writing).split('\n').filter((l) => l.startsWith('ACK ')).map((l) => l.slice(4));
  expect(acked.length).toBeGreaterThan(100);
  const reader = `lost=0; for i in ${acked.join(' ')}; do v=$(redis-cli -c -h ${REDIS_SVC} GET e2e:$i); [ "$v" = "$i" ] || lost=$((lost+1)); done; echo LOST $lost`;
  const out = await redisJob('e2e-reader', reader, 15 * 60_000);
  expect(out).toContain('LOST 0');
});

test('deleting a Redis master pod: Ready again with replica placement restored', async () => {
  const t = await tier();
  const master = t.status?.redis?.members?.find((m) => m.role === 'master');
  expect(master).toBeDefined();
  const masterUid = (await getJson<{ metadata: { uid: string } }>(['-n', NS, 'get', 'pod', master!.pod])).metadata.uid;
  await kubectl(['-n', NS, 'delete', 'pod', master!.pod, '--wait=false']);
  await eventually(`pod ${master!.pod} replaced`, async () => {
    const p = await getJson<{ metadata: { uid: string } }>(['-n', NS, 'get', 'pod', master!.pod]).catch(() => undefined);
    return p !== undefined && p.metadata.uid !== masterUid;
  }, 5 * 60_000);
  const healed = await waitConditions(['Ready', 'SlotsCovered', 'ReplicaPlacement', 'MembershipHealthy'], 10 * 60_000);
  const members = healed.status?.redis?.members ?? [];
  for (const m of members.filter((x) => x.role === 'replica')) {
    const owner = members.find((x) => x.nodeId === m.replicaOf);
    expect(owner?.kubernetesNode).toBeDefined();
    expect(m.kubernetesNode).not.toBe(owner?.kubernetesNode);
  }
});

test('killing a Kafka broker and a ZooKeeper pod: data keeps flowing', async () => {
  await kubectl(['-n', NS, 'delete', 'pod', `${TIER}-kafka-1`, `${TIER}-zookeeper-1`, '--wait=false']);
  await changeAndSee(2);
  await waitConditions(['Ready'], 10 * 60_000);
  await changeAndSee(3);
});

test('uninstall cleans up: children garbage-collected, operator removed', async () => {
  await kubectl(['-n', NS, 'delete', 'cachetier', TIER, '--wait=true', '--timeout=5m']);
  await eventually(
    'children garbage-collected',
    async () => (await kubectl(['-n', NS, 'get', 'statefulsets,deployments,configmaps,services', '-l', `app.kubernetes.io/instance=${TIER}`, '-o', 'name'])).trim() === '',
    5 * 60_000,
  );
  const { execFile } = await import('node:child_process');
  await new Promise<void>((resolve, reject) =>
    execFile('helm', ['uninstall', 'cachetier', '-n', 'cachetier-system', '--wait'], (e) => (e ? reject(e) : resolve())),
  );
  await eventually(
    'operator deployment removed',
    async () => (await kubectl(['-n', 'cachetier-system', 'get', 'deployments', '-o', 'name'])).trim() === '',
    2 * 60_000,
  );
});
