// The BUILT operator process against a real control plane (etcd + kube-apiserver + controller
// manager + scheduler built from source, 3 fake nodes), authenticated as the chart's
// ServiceAccount with only the chart's RBAC. Everything is checked with kubectl and the API
// server's audit log. `make test-controlplane`; see docs/controlplane.md.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { resolve as resolveTier } from '../../src/api/defaults.js';
import type { CacheTier } from '../../src/api/types.js';
import { CONFIG_HASH_ANNOTATION } from '../../src/render/common.js';
import { renderAll, type KubeObject } from '../../src/render/index.js';
import {
  CP_DIR,
  ROOT,
  WRITE_VERBS,
  auditResource,
  buildOperator,
  controlPlaneDown,
  controlPlaneUp,
  grantedPermissions,
  installCrds,
  installOperatorRbac,
  missingPrerequisites,
  parseYamlDocs,
  readAudit,
  scrapeCounter,
  serviceAccountKubeconfig,
  usedPermissions,
  type ControlPlane,
  type OperatorIdentity,
  type OperatorProcess,
  startOperator,
} from '../../../hack/controlplane/cluster.js';
import { sleep, waitFor } from '../../../hack/local/procs.js';
import { invalidCases, normalize, rulesOfCrd, type InvalidCase } from './invalid.js';

const OPERATOR_NS = 'cachetier-system';
// Unique per run, so a reused control plane (CACHETIER_CP_KEEP=1) never sees a previous run's objects.
const RUN = Date.now().toString(36).slice(-5);
const NS = `ct-${RUN}`;
const WORK_KINDS = 'statefulsets,deployments,services,configmaps,poddisruptionbudgets,networkpolicies';
const LEASE = 'cachetier-operator';

const missing = missingPrerequisites();
if (missing.length > 0) {
  const msg = `control-plane tier cannot run: missing ${missing.join(', ')}`;
  if (process.env.CI) throw new Error(msg);
  console.warn(`SKIPPING the control-plane tier (NOT a pass): ${msg}`);
}
const maybe = missing.length > 0 ? describe.skip : describe;

let cp: ControlPlane;
let id: OperatorIdentity;
let kubeconfig: string;
const operators: OperatorProcess[] = [];
const runDir = path.join(CP_DIR, 'test-run');

// Nothing outlives the test process, even if jest dies between afterAll hooks.
let cpStarted = false;
process.once('exit', () => {
  if (cpStarted && process.env.CACHETIER_CP_KEEP !== '1') {
    spawnSync('bash', [path.join(ROOT, 'hack/controlplane/down.sh')], { stdio: 'ignore', timeout: 60_000 });
  }
});

// ------------------------------------------------------------------ helpers

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid: string;
    generation?: number;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: Array<{ uid: string; controller?: boolean; kind: string; name: string }>;
    deletionTimestamp?: string;
  };
  spec?: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  status?: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function getTier(name: string): Promise<CacheTier & { metadata: { generation: number } }> {
  return cp.getJson(['get', 'cachetier', name, '-n', NS]);
}

/** All children of a tier (by the instance label the renderers put on everything), keyed "Kind/name". */
async function children(tierName: string): Promise<Map<string, Obj>> {
  const list = await cp.getJson<{ items: Obj[] }>([
    'get',
    WORK_KINDS,
    '-n',
    NS,
    '-l',
    `app.kubernetes.io/instance=${tierName}`,
  ]);
  return new Map(list.items.map((o) => [`${o.kind}/${o.metadata.name}`, o]));
}

async function expectedChildren(tierName: string): Promise<KubeObject[]> {
  const tier = await getTier(tierName);
  return renderAll(resolveTier(tier));
}

function podTemplateHash(o: Obj | undefined): string | undefined {
  return o?.spec?.template?.metadata?.annotations?.[CONFIG_HASH_ANNOTATION];
}

async function waitGenerationObserved(name: string, timeoutMs = 30_000): Promise<CacheTier> {
  let last: CacheTier | undefined;
  await waitFor(
    `status.observedGeneration of ${name} to reach metadata.generation`,
    async () => {
      last = await getTier(name);
      return last.status?.observedGeneration === last.metadata.generation;
    },
    timeoutMs,
    250,
  );
  return last!;
}

async function patchTier(name: string, patch: unknown): Promise<void> {
  await cp.k(['patch', 'cachetier', name, '-n', NS, '--type=merge', '-p', JSON.stringify(patch)]);
}

async function getObj(kind: string, name: string): Promise<Obj | undefined> {
  const r = await cp.kubectl(['get', kind, name, '-n', NS, '-o', 'json']);
  if (r.code !== 0) {
    if (/NotFound|not found/.test(r.stderr)) return undefined;
    throw new Error(r.stderr);
  }
  return JSON.parse(r.stdout) as Obj;
}

async function leaseHolder(): Promise<string | undefined> {
  const r = await cp.kubectl(['get', 'lease', LEASE, '-n', OPERATOR_NS, '-o', 'jsonpath={.spec.holderIdentity}']);
  return r.code === 0 ? r.stdout.trim() || undefined : undefined;
}

function exampleTier(name: string): Record<string, any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const docs = parseYamlDocs(readFileSync(path.join(ROOT, 'examples', 'cachetier.yaml'), 'utf8'));
  const tier = docs.find((d) => d.kind === 'CacheTier');
  if (!tier) throw new Error('examples/cachetier.yaml has no CacheTier');
  return { ...tier, metadata: { ...tier.metadata, name, namespace: NS } };
}

async function applyJson(obj: unknown): Promise<void> {
  await cp.k(['apply', '-f', '-'], { input: JSON.stringify(obj) });
}

let operatorPortBase = 18080;
async function launchOperator(name: string): Promise<OperatorProcess> {
  const port = operatorPortBase;
  operatorPortBase += 2;
  const op = await startOperator({
    name,
    kubeconfig,
    podNamespace: OPERATOR_NS,
    logDir: runDir,
    metricsPort: port,
    healthPort: port + 1,
  });
  operators.push(op);
  return op;
}

let auditStart = 0;
/** The operator user's audit events of this run. */
function operatorEvents() {
  return readAudit(cp.auditLog, id.username).slice(auditStart);
}

// ------------------------------------------------------------------ suite

const TIER = 'shop';
let opA: OperatorProcess;

maybe('operator on a real control plane, with the chart RBAC', () => {
  beforeAll(async () => {
    const t0 = Date.now();
    cp = await controlPlaneUp();
    cpStarted = true;
    mkdirSync(runDir, { recursive: true });
    await installCrds(cp);
    id = await installOperatorRbac(cp, OPERATOR_NS);
    auditStart = readAudit(cp.auditLog, id.username).length;
    // A Lease left by an earlier run on a reused control plane would delay the first election.
    await cp.kubectl(['delete', 'lease', LEASE, '-n', OPERATOR_NS, '--ignore-not-found']);
    kubeconfig = await serviceAccountKubeconfig(cp, id, path.join(runDir, 'operator.kubeconfig'));
    await buildOperator();
    if ((await cp.kubectl(['get', 'namespace', NS])).code !== 0) await cp.k(['create', 'namespace', NS]);
    opA = await launchOperator('operator-a');
    await waitFor('operator-a to take the leader lease', async () => (await leaseHolder())?.includes('operator-a') ?? false, 30_000);
    console.log(`control plane + operator ready in ${Date.now() - t0} ms (state: ${CP_DIR})`);
  }, 15 * 60_000);

  afterAll(async () => {
    for (const op of operators) await op.stop().catch(() => undefined);
    if (cpStarted && process.env.CACHETIER_CP_KEEP !== '1') {
      await controlPlaneDown({ keepState: false });
      cpStarted = false;
      // pgrep never lists itself; every control-plane process has a path under CP_DIR in its
      // arguments ("CP_DIR/", so `flock /tmp/cachetier-controlplane.lock make ...` is not one).
      const leftovers = spawnSync('pgrep', ['-af', `${CP_DIR}/`], { encoding: 'utf8' }).stdout.trim();
      expect(leftovers).toBe('');
    }
  }, 120_000);

  test('the example CacheTier: every child exists with the expected shape within 5 s, status is honest', async () => {
    // The example reads its Redis password from this Secret (exercises the operator's Secret read).
    await cp.k(['create', 'secret', 'generic', 'shop-redis-auth', '-n', NS, '--from-literal=password=s3cret-pass-' + RUN]);
    await applyJson(exampleTier(TIER));
    const expected = await expectedChildren(TIER);
    expect(expected.length).toBeGreaterThan(0);
    const want = expected.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    let live = new Map<string, Obj>();
    await waitFor(
      `children ${want.join(', ')}`,
      async () => {
        live = await children(TIER);
        return want.every((k) => live.has(k));
      },
      30_000,
      100,
    );
    // Apply -> last child created, by the API server's own clock (audit log): kubectl's start-up
    // and this test's polling are not part of it.
    await sleep(500);
    const audit = readAudit(cp.auditLog);
    const applied = audit.find(
      (e) => e.objectRef?.resource === 'cachetiers' && e.objectRef.name === TIER && e.objectRef.namespace === NS && WRITE_VERBS.has(e.verb),
    );
    const creates = audit.filter(
      (e) => e.user.username === id.username && e.verb === 'create' && e.stage === 'ResponseComplete' && e.objectRef?.namespace === NS && e.responseStatus?.code === 201,
    );
    expect(applied).toBeDefined();
    const lastCreate = Math.max(...creates.filter((e) => e.objectRef?.resource !== 'events').map((e) => Date.parse(e.stageTimestamp)));
    const elapsed = lastCreate - Date.parse(applied!.requestReceivedTimestamp);
    console.log(`example CacheTier: ${want.length} children created ${elapsed} ms after the apply reached the API server`);
    expect(elapsed).toBeGreaterThan(0);
    expect(elapsed).toBeLessThan(5_000);

    const tier = await getTier(TIER);
    for (const exp of expected) {
      const got = live.get(`${exp.kind}/${exp.metadata.name}`)!;
      const owner = got.metadata.ownerReferences?.find((r) => r.controller);
      expect({ child: `${exp.kind}/${exp.metadata.name}`, owner: owner?.uid }).toEqual({
        child: `${exp.kind}/${exp.metadata.name}`,
        owner: tier.metadata.uid,
      });
      expect(got.metadata.labels).toMatchObject(exp.metadata.labels ?? {});
      const es = exp.spec as Record<string, any> | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
      if (exp.kind === 'StatefulSet' || exp.kind === 'Deployment') {
        expect(got.spec?.replicas).toBe(es?.replicas);
        expect(got.spec?.selector).toEqual(es?.selector);
        expect(podTemplateHash(got)).toBe(es?.template?.metadata?.annotations?.[CONFIG_HASH_ANNOTATION]);
        expect(podTemplateHash(got)).toMatch(/^[0-9a-f]{8,}$/);
        const images = (o: any) => (o?.template?.spec?.containers ?? []).map((c: any) => c.image); // eslint-disable-line @typescript-eslint/no-explicit-any
        expect(images(got.spec)).toEqual(images(es));
      }
      if (exp.kind === 'ConfigMap') expect((got as unknown as { data: unknown }).data).toEqual(exp.data);
      if (exp.kind === 'Service') expect(got.spec?.clusterIP === 'None').toBe(es?.clusterIP === 'None');
    }

    const status = (await waitGenerationObserved(TIER, 20_000)).status!;
    expect(status.observedGeneration).toBe(tier.metadata.generation);
    const conds = status.conditions ?? [];
    expect(conds.map((c) => c.type)).toContain('Ready');
    for (const c of conds) {
      expect(['True', 'False', 'Unknown']).toContain(c.status);
      expect(c.reason).toMatch(/^[A-Za-z][A-Za-z0-9]*$/);
      expect(typeof c.message).toBe('string');
      expect(Number.isNaN(Date.parse(c.lastTransitionTime))).toBe(false);
    }
    // No kubelet here: nothing can be running, and the operator must not claim otherwise.
    expect(conds.find((c) => c.type === 'Ready')?.status).toBe('False');
  }, 120_000);

  describe('invalid CacheTiers are refused by the API server with messages that say what to fix', () => {
    const cases: InvalidCase[] = invalidCases();
    const refusals = new Map<string, string>();
    test('there are at least 25 of them, schema and CEL', () => {
      expect(cases.length).toBeGreaterThanOrEqual(25);
      expect(cases.filter((c) => c.checkedBy === 'cel').length).toBeGreaterThan(0);
      expect(cases.filter((c) => c.checkedBy === 'schema').length).toBeGreaterThan(0);
    });
    test.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
      const obj = c.object(NS);
      const name = (obj.metadata as { name: string }).name;
      const r = await cp.kubectl(['create', '-f', '-'], { input: JSON.stringify(obj) });
      const out = normalize(r.stderr + r.stdout);
      refusals.set(c.name, out);
      expect(r.code).not.toBe(0);
      // A validation refusal (422), not some other failure.
      expect(out).toMatch(/is invalid/);
      for (const m of c.expect) expect(out).toContain(normalize(m));
      expect(await getObj('cachetier', name)).toBeUndefined();
    }, 30_000);
    test('every CEL rule of the CRD fired on the API server (its message came back)', () => {
      expect(refusals.size).toBe(cases.length);
      const rules = rulesOfCrd(path.join(ROOT, 'crds', 'cachetier.yaml'));
      expect(rules.length).toBeGreaterThan(0);
      const all = [...refusals.values()];
      // A rule whose message never comes back is either untested or unreachable (e.g. shadowed
      // by a schema maxLength: the API server skips CEL when one fails).
      const silent = rules.filter((r) => !all.some((o) => o.includes(normalize(r.message))));
      expect(silent.map((r) => `${r.path || '<root>'}: ${r.rule}`)).toEqual([]);
    });
  });

  test('spec.redis.masters 3 -> 4 and kubectl scale --replicas=5: the Redis StatefulSet follows, status says pods are not running', async () => {
    const redisSts = `${TIER}-redis`;
    const rpm = (await getTier(TIER)).spec.redis?.replicasPerMaster ?? 1;
    await patchTier(TIER, { spec: { redis: { masters: 4 } } });
    await waitFor('Redis StatefulSet at 4 masters', async () => (await getObj('statefulset', redisSts))?.spec?.replicas === 4 * (1 + rpm), 20_000);
    await cp.k(['scale', `cachetier/${TIER}`, '-n', NS, '--replicas=5']);
    expect((await getTier(TIER)).spec.redis?.masters).toBe(5);
    await waitFor('Redis StatefulSet at 5 masters', async () => (await getObj('statefulset', redisSts))?.spec?.replicas === 5 * (1 + rpm), 20_000);
    // The operator does not hang on pods that never start: it observes the generation and says why.
    const tier = await waitGenerationObserved(TIER, 30_000);
    const ready = tier.status?.conditions?.find((c) => c.type === 'Ready');
    expect(ready?.status).toBe('False');
    const notTrue = (tier.status?.conditions ?? []).filter((c) => c.status !== 'True');
    expect(notTrue.map((c) => `${c.type}: ${c.message}`).join('\n')).toMatch(/pod|ready|running|waiting|reach/i);
    const scale = await cp.getJson<{ spec: { replicas: number }; status: { replicas: number } }>([
      'get',
      '--raw',
      `/apis/cachetier.io/v1alpha1/namespaces/${NS}/cachetiers/${TIER}/scale`,
    ]).catch(() => undefined);
    if (scale) expect(scale.spec.replicas).toBe(5);
  }, 120_000);

  test('status.redis.migration is accepted by the API server and shown in the RESHARD column', async () => {
    const migration = {
      progress: '1365/4096 slots moved',
      slotsTotal: 4096,
      slotsMoved: 1365,
      slotsFailed: 0,
      keysMoved: 13650,
      moves: ['shop-redis-0 -> shop-redis-6: 1366 slots'],
      startedAt: '2026-01-01T00:00:00Z',
      updatedAt: '2026-01-01T00:00:02Z',
    };
    await cp.k(['patch', 'cachetier', TIER, '-n', NS, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { redis: { migration } } })]);
    const table = await cp.k(['get', 'cachetier', TIER, '-n', NS]);
    const [head, row] = table.trim().split('\n');
    const col = head.indexOf('RESHARD');
    expect(col).toBeGreaterThan(0);
    expect(row.slice(col)).toMatch(/^1365\/4096 slots moved/);
    expect((await getTier(TIER)).status?.redis?.migration).toEqual(migration);
    await cp.k(['patch', 'cachetier', TIER, '-n', NS, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { redis: { migration: null } } })]);
    expect((await getTier(TIER)).status?.redis?.migration).toBeUndefined();
  }, 60_000);

  test('a volume size change a StatefulSet cannot take: the rest still rolls, VolumesMatchSpec says how; after --cascade=orphan it is re-created and matches', async () => {
    const sts = `${TIER}-zookeeper`;
    const size = (o: Obj | undefined) => (o?.spec as { volumeClaimTemplates?: { spec: { resources: { requests: { storage: string } } } }[] } | undefined)?.volumeClaimTemplates?.[0]?.spec.resources.requests.storage;
    const before = await getObj('statefulset', sts);
    expect(size(before)).toBe('1Gi');
    const volumes = async () => (await getTier(TIER)).status?.conditions?.find((c) => c.type === 'VolumesMatchSpec');
    await patchTier(TIER, { spec: { zookeeper: { storage: { size: '2Gi' }, config: { maxClientCnxns: '90' } } } });
    await waitFor('the ZooKeeper template to roll', async () => podTemplateHash(await getObj('statefulset', sts)) !== podTemplateHash(before), 20_000);
    await waitFor('VolumesMatchSpec False', async () => (await volumes())?.status === 'False', 20_000);
    expect(await volumes()).toMatchObject({ reason: 'ExpansionNeedsSteps' });
    expect((await volumes())!.message).toMatch(new RegExp(`^${sts}: data: size 1Gi -> 2Gi \\(not applied`));
    expect(size(await getObj('statefulset', sts))).toBe('1Gi');
    const refused = JSON.parse(await cp.k(['get', 'events', '-n', NS, '-o', 'json'])) as { items: { reason: string; message: string }[] };
    expect(refused.items.filter((e) => e.reason === 'ApplyFailed' && e.message.includes(sts))).toEqual([]);
    // The documented step: the StatefulSet goes, its pods stay; the operator re-creates it.
    await cp.k(['delete', 'statefulset', sts, '-n', NS, '--cascade=orphan']);
    await waitFor('re-created with 2Gi', async () => size(await getObj('statefulset', sts)) === '2Gi', 30_000);
    await waitFor('VolumesMatchSpec True', async () => (await volumes())?.status === 'True', 30_000);
  }, 120_000);

  test('the ZooKeeper roll after that config change: pods that cannot be scheduled are replaced one by one, each once', async () => {
    // Here the claims never bind (no provisioner), so the StatefulSet's pods are Unschedulable: on
    // the old revision they serve nothing, and the roll replaces them without asking ZooKeeper.
    const sts = `${TIER}-zookeeper`;
    type Pod = { metadata: { name: string; labels: Record<string, string> } };
    const zkPods = async () => (await cp.getJson<{ items: Pod[] }>(['get', 'pods', '-n', NS, '-l', `app.kubernetes.io/instance=${TIER},app.kubernetes.io/name=zookeeper`])).items;
    const revision = async () => ((await getObj('statefulset', sts))?.status as { updateRevision?: string } | undefined)?.updateRevision;
    await waitFor('every ZooKeeper pod on the update revision', async () => {
      const rev = await revision();
      const pods = await zkPods();
      return !!rev && pods.length === 3 && pods.every((p) => p.metadata.labels['controller-revision-hash'] === rev);
    }, 90_000, 500);
    const events = JSON.parse(await cp.k(['get', 'events', '-n', NS, '-o', 'json'])) as { items: { reason: string; message: string; count?: number; involvedObject: { name: string } }[] };
    const restarts = events.items.filter((e) => e.reason === 'RollRestart' && e.involvedObject.name === TIER && e.message.startsWith('zookeeper:'));
    expect(restarts.map((e) => [e.message, e.count ?? 1]).sort()).toEqual(
      [0, 1, 2].map((i) => [`zookeeper: restarting ${sts}-${i}: ${sts}-${i} is Unschedulable on the old revision: replaced without waiting`, 1]),
    );
    // Nothing is stale any more, so the roll is over (the pods still never run here).
    await waitFor('status.roll gone', async () => (await getTier(TIER)).status?.roll === undefined, 30_000);
  }, 150_000);

  test('a config change rolls only its component; rollout restart is not reverted; a deleted child comes back; paused stops changes', async () => {
    const before = await children(TIER);
    const workloads = [...before.values()].filter((o) => o.kind === 'StatefulSet' || o.kind === 'Deployment');
    expect(workloads.length).toBeGreaterThan(0);

    // 1. a redis.conf change: only the Redis pod template hash (and generation) moves.
    await patchTier(TIER, { spec: { redis: { config: { 'slowlog-max-len': '256' } } } });
    const redisKey = `StatefulSet/${TIER}-redis`;
    let after = before;
    await waitFor('Redis config-hash to change', async () => {
      after = await children(TIER);
      return podTemplateHash(after.get(redisKey)) !== podTemplateHash(before.get(redisKey));
    }, 20_000);
    await waitGenerationObserved(TIER);
    after = await children(TIER);
    for (const w of workloads) {
      const key = `${w.kind}/${w.metadata.name}`;
      if (key === redisKey) continue;
      expect({ key, hash: podTemplateHash(after.get(key)), generation: after.get(key)?.metadata.generation }).toEqual({
        key,
        hash: podTemplateHash(w),
        generation: w.metadata.generation,
      });
    }

    // 2. kubectl rollout restart survives the next reconciles (server-side apply owns only its fields).
    const kafka = `${TIER}-kafka`;
    await cp.k(['rollout', 'restart', `statefulset/${kafka}`, '-n', NS]);
    const restartedAt = (await getObj('statefulset', kafka))?.spec?.template?.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt'];
    expect(restartedAt).toBeTruthy();
    await patchTier(TIER, { spec: { kafka: { config: { 'log.retention.hours': '48' } } } }); // forces a Kafka re-apply
    await waitGenerationObserved(TIER);
    await waitFor('the Kafka config-hash to change', async () => podTemplateHash(await getObj('statefulset', kafka)) !== podTemplateHash(before.get(`StatefulSet/${kafka}`)), 20_000);
    const kafkaNow = await getObj('statefulset', kafka);
    expect(kafkaNow?.spec?.template?.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt']).toBe(restartedAt);

    // 3. a deleted child is recreated.
    const producer = `${TIER}-producer`;
    const oldUid = (await getObj('deployment', producer))!.metadata.uid;
    await cp.k(['delete', 'deployment', producer, '-n', NS, '--wait=true', '--timeout=30s']);
    await waitFor('the producer Deployment to be recreated', async () => {
      const d = await getObj('deployment', producer);
      return !!d && d.metadata.uid !== oldUid && !d.metadata.deletionTimestamp;
    }, 20_000);

    // 4. spec.paused: the operator stops changing children; unpausing applies the pending edit.
    const replicas = (await getObj('deployment', producer))!.spec!.replicas as number;
    await patchTier(TIER, { spec: { paused: true } });
    await waitGenerationObserved(TIER);
    await patchTier(TIER, { spec: { producer: { replicas: replicas + 1 } } });
    await sleep(6_000);
    expect((await getObj('deployment', producer))!.spec!.replicas).toBe(replicas);
    await patchTier(TIER, { spec: { paused: false } });
    await waitFor('the producer Deployment to scale after unpausing', async () => (await getObj('deployment', producer))?.spec?.replicas === replicas + 1, 20_000);
  }, 180_000);

  test('drift in a Service, ConfigMap, PDB, NetworkPolicy and Secret (not watched) is put back by the next reconcile', async () => {
    const drifted = [
      ['service', `${TIER}-producer`],
      ['configmap', `${TIER}-zookeeper-config`],
      ['poddisruptionbudget', `${TIER}-zookeeper`],
      ['networkpolicy', `${TIER}-redis`],
      // The rendered Redis ACL Secret (users.acl, auth.conf) is a child like the others.
      ['secret', `${TIER}-redis-acl`],
    ] as const;
    for (const [kind, name] of drifted) {
      expect(await getObj(kind, name)).toBeDefined();
      await cp.k(['label', '--overwrite', kind, name, '-n', NS, 'app.kubernetes.io/part-of=drifted']);
    }
    // The operator watches only CacheTiers, workloads and pods: a spec edit wakes it.
    await patchTier(TIER, { spec: { zookeeper: { config: { 'autopurge.snapRetainCount': '4' } } } });
    await waitGenerationObserved(TIER);
    for (const [kind, name] of drifted) {
      await waitFor(`${kind}/${name} label restored`, async () => (await getObj(kind, name))?.metadata.labels?.['app.kubernetes.io/part-of'] === 'cachetier', 15_000);
    }
  }, 90_000);

  test('spec.networkPolicy.enabled false deletes the tier\'s NetworkPolicies; true brings them back', async () => {
    const names = ['zookeeper', 'kafka', 'redis', 'producer', 'openresty-distribution', 'openresty-app'].map((c) => `${TIER}-${c}`);
    const present = async () => {
      const live = await children(TIER);
      return names.filter((n) => live.has(`NetworkPolicy/${n}`));
    };
    expect(await present()).toEqual(names);
    await patchTier(TIER, { spec: { networkPolicy: { enabled: false } } });
    await waitFor('every NetworkPolicy of the tier deleted', async () => (await present()).length === 0, 20_000);
    await waitGenerationObserved(TIER);
    await patchTier(TIER, { spec: { networkPolicy: { enabled: true } } });
    await waitFor('every NetworkPolicy of the tier back', async () => (await present()).length === names.length, 20_000);
    await waitGenerationObserved(TIER);
  }, 90_000);

  test('the idle operator makes zero writes (audit log and cachetier_api_writes_total)', async () => {
    await waitGenerationObserved(TIER);
    await sleep(5_000); // let any in-flight status write land
    const startLines = operatorEvents().length;
    // Leader election's Lease renewals are writes too; they are counted separately.
    const notLease = (labels: string) => !/kind="Lease"/.test(labels);
    const m0 = await scrapeCounter(opA.metricsUrl, 'cachetier_api_writes_total', notLease);
    await sleep(30_000);
    const events = operatorEvents().slice(startLines).filter((e) => e.stage === 'ResponseComplete');
    const writes = events.filter((e) => WRITE_VERBS.has(e.verb));
    const leaseWrites = writes.filter((e) => e.objectRef?.resource === 'leases');
    const otherWrites = writes.filter((e) => e.objectRef?.resource !== 'leases');
    const m1 = await scrapeCounter(opA.metricsUrl, 'cachetier_api_writes_total', notLease);
    console.log(`idle 30 s: ${otherWrites.length} writes, ${leaseWrites.length} lease renewals, metric delta ${m1 - m0}`);
    expect(otherWrites.map((e) => `${e.verb} ${auditResource(e)} ${e.objectRef?.name}`)).toEqual([]);
    expect(m1 - m0).toBe(0);
    expect(m0).toBeGreaterThan(0); // the metric counts: the earlier steps wrote plenty
    // Leader election renews its Lease (~every few seconds); nothing more.
    expect(leaseWrites.every((e) => e.verb === 'update')).toBe(true);
  }, 120_000);

  test('two operators: one leads; kill the leader and the other takes over within 20 s', async () => {
    const opB = await launchOperator('operator-b');
    await sleep(3_000);
    expect(await leaseHolder()).toContain('operator-a');
    // Only the leader reconciles: B has written nothing but (maybe) lease reads.
    expect(await scrapeCounter(opB.metricsUrl, 'cachetier_leader')).toBe(0);
    expect(await scrapeCounter(opA.metricsUrl, 'cachetier_leader')).toBe(1);

    const t0 = Date.now();
    await opA.stop('SIGKILL');
    await waitFor('operator-b to hold the lease', async () => (await leaseHolder())?.includes('operator-b') ?? false, 25_000, 250);
    const took = Date.now() - t0;
    console.log(`leader failover: ${took} ms`);
    expect(took).toBeLessThan(20_000);
    expect(await scrapeCounter(opB.metricsUrl, 'cachetier_leader')).toBe(1);
    // The new leader reconciles: an edit lands.
    await patchTier(TIER, { spec: { openresty: { app: { replicas: 4 } } } });
    await waitFor('operator-b to apply an edit', async () => (await getObj('deployment', `${TIER}-openresty-app`))?.spec?.replicas === 4, 20_000);
  }, 120_000);

  test('a second CacheTier (examples/cachetier-minimal.yaml: every default) reconciles too', async () => {
    const docs = parseYamlDocs(readFileSync(path.join(ROOT, 'examples', 'cachetier-minimal.yaml'), 'utf8'));
    const t = docs.find((d) => d.kind === 'CacheTier')!;
    await applyJson({ ...t, metadata: { ...t.metadata, name: 'minimal', namespace: NS } });
    const want = (await expectedChildren('minimal')).map((o) => `${o.kind}/${o.metadata.name}`);
    expect(want.length).toBeGreaterThan(0);
    await waitFor('children of the minimal tier', async () => {
      const live = await children('minimal');
      return want.every((k) => live.has(k));
    }, 10_000);
    await waitGenerationObserved('minimal');
  }, 60_000);

  test('a larger volume where the StorageClass allows expansion: the operator raises the PVCs and re-creates the StatefulSet, pods untouched', async () => {
    const sc = `ct-expandable-${RUN}`;
    const name = 'grow';
    const sts = `${name}-zookeeper`;
    await applyJson({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: sc }, provisioner: 'kubernetes.io/no-provisioner', allowVolumeExpansion: true, volumeBindingMode: 'Immediate' });
    // Static volumes for the three ZooKeeper claims (nothing provisions here); the PV controller binds them.
    for (const i of [0, 1, 2]) {
      await applyJson({
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name: `${sc}-${i}` },
        spec: { storageClassName: sc, capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: `/tmp/${sc}-${i}` }, persistentVolumeReclaimPolicy: 'Retain' },
      });
    }
    const t = exampleTier(name);
    t.spec.zookeeper = { ...t.spec.zookeeper, storage: { persistent: true, size: '1Gi', storageClassName: sc } };
    t.spec.kafka = { ...t.spec.kafka, storage: { persistent: false } };
    t.spec.redis = { ...t.spec.redis, storage: { persistent: false } };
    await applyJson(t);
    const claims = [0, 1, 2].map((i) => `data-${sts}-${i}`);
    const claim = async (c: string) => cp.getJson<{ spec: { resources: { requests: { storage: string } } }; status: { phase?: string } }>(['get', 'pvc', c, '-n', NS]);
    await waitFor('the ZooKeeper claims bound', async () => (await Promise.all(claims.map(claim))).every((c) => c.status.phase === 'Bound'), 60_000, 500);
    const before = (await getObj('statefulset', sts))!;
    const podUids = async () => (await cp.getJson<{ items: Obj[] }>(['get', 'pods', '-n', NS, '-l', `app.kubernetes.io/instance=${name},app.kubernetes.io/name=zookeeper`])).items.map((p) => p.metadata.uid).sort();
    const podsBefore = await podUids();
    expect(podsBefore).toHaveLength(3);

    await patchTier(name, { spec: { zookeeper: { storage: { size: '2Gi' } } } });
    const size = (o: Obj | undefined) => (o?.spec as { volumeClaimTemplates?: { spec: { resources: { requests: { storage: string } } } }[] } | undefined)?.volumeClaimTemplates?.[0]?.spec.resources.requests.storage;
    await waitFor('the StatefulSet re-created with 2Gi', async () => {
      const now = await getObj('statefulset', sts);
      return !!now && now.metadata.uid !== before.metadata.uid && size(now) === '2Gi';
    }, 60_000, 500);
    for (const c of claims) expect((await claim(c)).spec.resources.requests.storage).toBe('2Gi');
    await waitFor('VolumesMatchSpec True', async () => (await getTier(name)).status?.conditions?.find((c) => c.type === 'VolumesMatchSpec')?.status === 'True', 30_000);
    const events = JSON.parse(await cp.k(['get', 'events', '-n', NS, '-o', 'json'])) as { items: { reason: string; message: string; involvedObject: { name: string } }[] };
    expect(events.items.filter((e) => e.reason === 'VolumesExpanded' && e.involvedObject.name === name).map((e) => e.message)).toEqual([
      `${sts}: data: size 1Gi -> 2Gi: 3 PVCs raised, StatefulSet re-created with the new claim templates (pods kept running)`,
    ]);
    expect(await podUids()).toEqual(podsBefore);

    await cp.k(['delete', 'cachetier', name, '-n', NS, '--wait=true', '--timeout=60s']);
    await cp.k(['delete', 'pvc', ...claims, '-n', NS, '--wait=false']);
    await cp.k(['delete', 'pv', `${sc}-0`, `${sc}-1`, `${sc}-2`, '--wait=false']);
    await cp.k(['delete', 'storageclass', sc]);
  }, 180_000);

  test('deleting a CacheTier garbage-collects its children (controller manager GC)', async () => {
    for (const name of [TIER, 'minimal']) await cp.k(['delete', 'cachetier', name, '-n', NS, '--wait=false']);
    await waitFor('every child to be garbage-collected', async () => {
      const a = await children(TIER);
      const b = await children('minimal');
      return a.size === 0 && b.size === 0;
    }, 90_000, 500);
  }, 120_000);

  test('RBAC: the operator never got a 403, and every permission the chart grants was used', async () => {
    await sleep(1_000);
    const events = operatorEvents();
    expect(events.length).toBeGreaterThan(0);
    const forbidden = events.filter((e) => e.responseStatus?.code === 403);
    expect(forbidden.map((e) => `${e.verb} ${auditResource(e)} ${e.objectRef?.name ?? ''}: ${e.responseStatus?.message ?? ''}`)).toEqual([]);
    const granted = grantedPermissions(id.rbac.filter((d) => d.kind === 'ClusterRole' || d.kind === 'Role'));
    expect(granted.length).toBeGreaterThan(0);
    const used = usedPermissions(events);
    const unused = granted.filter((p) => !used.has(p));
    console.log(`RBAC: ${granted.length} granted permissions, ${granted.length - unused.length} used`);
    expect(unused).toEqual([]);
  }, 30_000);

  // Last: it stops the cluster-wide operators. A second install of the chart, namespaced
  // (watchNamespaces: two namespaces), with its own ServiceAccount.
  test('namespaced install: Roles (cluster-wide only listing StorageClasses); the operator does its job in a watched namespace and is Forbidden everywhere else', async () => {
    for (const op of operators) await op.stop().catch(() => undefined);
    const watched = [`${NS}-a`, `${NS}-b`];
    const other = `${NS}-x`;
    for (const ns of [...watched, other]) await cp.k(['create', 'namespace', ns]);
    const nsId = await installOperatorRbac(cp, OPERATOR_NS, { release: 'nsop', helmArgs: ['--set', `watchNamespaces={${watched.join(',')}}`] });
    // Cluster-wide only what is cluster-scoped and read-only: listing StorageClasses (volume expansion).
    const clusterScoped = ['storage.k8s.io/storageclasses list'];
    expect(grantedPermissions(nsId.rbac.filter((d) => d.kind === 'ClusterRole'))).toEqual(clusterScoped);
    const roles = nsId.rbac.filter((d) => d.kind === 'Role' && watched.includes(d.metadata.namespace ?? ''));
    expect(roles.map((r) => r.metadata.namespace).sort()).toEqual([...watched].sort());
    // Exactly the namespaced grants the cluster-wide install's ClusterRole has.
    const clusterWide = grantedPermissions(id.rbac.filter((d) => d.kind === 'ClusterRole')).filter((p) => !clusterScoped.includes(p));
    for (const r of roles) expect(grantedPermissions([r])).toEqual(clusterWide);

    // The API server's own verdict (SubjectAccessReview) for every granted (resource, verb):
    // allowed in each watched namespace, denied in another namespace and cluster-wide.
    const sa = { user: nsId.username, groups: ['system:serviceaccounts', `system:serviceaccounts:${OPERATOR_NS}`, 'system:authenticated'] };
    const reviews: { perm: string; where: string }[] = [];
    const items: unknown[] = [];
    for (const perm of clusterWide) {
      const [gr, verb] = perm.split(' ');
      const [group, resource, subresource] = gr.split('/');
      for (const where of [...watched, other, '(all namespaces)']) {
        reviews.push({ perm, where });
        const attrs: Record<string, string> = { group, resource, verb };
        if (subresource) attrs.subresource = subresource;
        if (!where.startsWith('(')) attrs.namespace = where;
        items.push({ apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { ...sa, resourceAttributes: attrs } });
      }
    }
    // One line per review, in input order ("true", or "" when status.allowed is false and omitted).
    const out = await cp.k(['create', '-o', 'jsonpath={.status.allowed}{"\\n"}', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }) });
    const results = out.split('\n');
    expect(results.pop()).toBe(''); // the last newline
    expect(results).toHaveLength(reviews.length);
    const wrong = reviews
      .map((r, i) => ({ ...r, allowed: results[i] === 'true' }))
      .filter((r) => r.allowed !== watched.includes(r.where))
      .map((r) => `${r.perm} in ${r.where}: ${r.allowed ? 'allowed' : 'denied'}`);
    expect(wrong).toEqual([]);
    console.log(`namespaced RBAC: ${clusterWide.length} permissions x ${watched.length + 2} places checked by SubjectAccessReview`);

    // The job, for real: the built operator as that ServiceAccount, WATCH_NAMESPACE=a,b.
    const nsKubeconfig = await serviceAccountKubeconfig(cp, nsId, path.join(runDir, 'operator-ns.kubeconfig'));
    const nsStart = readAudit(cp.auditLog, nsId.username).length;
    const port = operatorPortBase;
    operatorPortBase += 2;
    const opNs = await startOperator({
      name: 'operator-ns',
      kubeconfig: nsKubeconfig,
      podNamespace: OPERATOR_NS,
      logDir: runDir,
      metricsPort: port,
      healthPort: port + 1,
      env: { WATCH_NAMESPACE: watched.join(','), LEADER_ELECTION_LEASE_NAME: 'cachetier-operator-ns' },
    });
    operators.push(opNs);
    const minimal = parseYamlDocs(readFileSync(path.join(ROOT, 'examples', 'cachetier-minimal.yaml'), 'utf8')).find((d) => d.kind === 'CacheTier')!;
    for (const ns of [watched[1], other]) await applyJson({ ...minimal, metadata: { ...minimal.metadata, name: 'minimal', namespace: ns } });
    const inNs = async (ns: string) =>
      (await cp.getJson<{ items: Obj[] }>(['get', WORK_KINDS, '-n', ns, '-l', 'app.kubernetes.io/instance=minimal'])).items.map((o) => `${o.kind}/${o.metadata.name}`);
    const tierIn = (ns: string) => cp.getJson<CacheTier & { metadata: { generation: number } }>(['get', 'cachetier', 'minimal', '-n', ns]);
    const want = renderAll(resolveTier(await tierIn(watched[1])))
      .filter((o) => ['StatefulSet', 'Deployment', 'Service', 'ConfigMap', 'PodDisruptionBudget', 'NetworkPolicy'].includes(o.kind))
      .map((o) => `${o.kind}/${o.metadata.name}`)
      .sort();
    await waitFor(`children of minimal in ${watched[1]}`, async () => {
      const live = await inNs(watched[1]);
      return want.every((k) => live.includes(k));
    }, 60_000, 250);
    await waitFor('status written', async () => {
      const t = await tierIn(watched[1]);
      return t.status?.observedGeneration === t.metadata.generation;
    }, 30_000, 250);
    // The unwatched namespace's tier: no child, no status.
    await sleep(3_000);
    expect(await inNs(other)).toEqual([]);
    expect((await tierIn(other)).status).toBeUndefined();

    // The audit log: no 403, and every request inside a watched namespace (or its Lease's).
    const events = readAudit(cp.auditLog, nsId.username).slice(nsStart);
    expect(events.length).toBeGreaterThan(0);
    expect(events.filter((e) => e.responseStatus?.code === 403).map((e) => `${e.verb} ${auditResource(e)} ${e.objectRef?.namespace ?? '(cluster)'}`)).toEqual([]);
    const outside = events.filter((e) => e.objectRef?.resource && e.objectRef.resource !== 'storageclasses' && ![...watched, OPERATOR_NS].includes(e.objectRef.namespace ?? ''));
    expect(outside.map((e) => `${e.verb} ${e.requestURI}`)).toEqual([]);
    expect(events.filter((e) => e.objectRef?.namespace === OPERATOR_NS).every((e) => e.objectRef?.resource === 'leases')).toBe(true);
    // And as that ServiceAccount, a read in the unwatched namespace is refused.
    const denied = await cp.kubectl(['--as', nsId.username, 'get', 'secrets', '-n', other]);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/Forbidden|forbidden/);
    const deniedAll = await cp.kubectl(['--as', nsId.username, 'get', 'statefulsets', '--all-namespaces']);
    expect(deniedAll.stderr).toMatch(/Forbidden|forbidden/);
  }, 180_000);
});

if (existsSync(CP_DIR) && missing.length > 0) console.warn(`note: ${CP_DIR} exists from an earlier run`);
