// make bench-operator: the built operator on the real control plane (hack/controlplane), as the
// chart's ServiceAccount. Measures
//   - apply -> every child created, for 1 CacheTier (several runs) and for 20 applied at once;
//   - the operator's RSS once idle with 20 CacheTiers (and that it stays idle: writes in 15 s).
// Targets: < 2 s for one; RSS < 150 MB. Not a test: prints numbers side by side.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { resolve as resolveTier } from '../operator/src/api/defaults.js';
import type { CacheTier } from '../operator/src/api/types.js';
import { renderAll } from '../operator/src/render/index.js';
import { KeepAliveKubeConfig } from '../operator/src/runtime/kube.js';
import {
  CP_DIR,
  ROOT,
  WRITE_VERBS,
  buildOperator,
  controlPlaneDown,
  controlPlaneUp,
  installCrds,
  installOperatorRbac,
  parseYamlDocs,
  readAudit,
  scrapeCounter,
  serviceAccountKubeconfig,
  startOperator,
  type ControlPlane,
} from '../hack/controlplane/cluster.js';
import { sleep, waitFor } from '../hack/local/procs.js';

const OPERATOR_NS = 'cachetier-system';
const TARGET_ONE_MS = 2_000;
const TARGET_RSS_MB = 150;
const RUNS_ONE = Number(process.env.BENCH_RUNS ?? 5);
const MANY = Number(process.env.BENCH_MANY ?? 20);

function exampleSpec(): Record<string, unknown> {
  const docs = parseYamlDocs(readFileSync(path.join(ROOT, 'examples', 'cachetier.yaml'), 'utf8'));
  const t = docs.find((d) => d.kind === 'CacheTier');
  if (!t) throw new Error('examples/cachetier.yaml has no CacheTier');
  return (t.spec as Record<string, unknown>) ?? {};
}

interface Clients {
  apps: k8s.AppsV1Api;
  core: k8s.CoreV1Api;
  policy: k8s.PolicyV1Api;
  networking: k8s.NetworkingV1Api;
  custom: k8s.CustomObjectsApi;
}

async function presentNames(c: Clients, ns: string): Promise<Set<string>> {
  const [sts, dep, svc, cm, pdb, np] = await Promise.all([
    c.apps.listNamespacedStatefulSet({ namespace: ns }),
    c.apps.listNamespacedDeployment({ namespace: ns }),
    c.core.listNamespacedService({ namespace: ns }),
    c.core.listNamespacedConfigMap({ namespace: ns }),
    c.policy.listNamespacedPodDisruptionBudget({ namespace: ns }),
    c.networking.listNamespacedNetworkPolicy({ namespace: ns }),
  ]);
  const out = new Set<string>();
  for (const [kind, list] of [
    ['StatefulSet', sts],
    ['Deployment', dep],
    ['Service', svc],
    ['ConfigMap', cm],
    ['PodDisruptionBudget', pdb],
    ['NetworkPolicy', np],
  ] as const) {
    for (const o of list.items) out.add(`${kind}/${o.metadata?.name}`);
  }
  return out;
}

/** Applies `names` CacheTiers in `ns` at once; ms until every rendered child of every one exists. */
async function applyAndTime(cp: ControlPlane, c: Clients, ns: string, names: string[]): Promise<number> {
  if ((await cp.kubectl(['get', 'namespace', ns])).code !== 0) await cp.k(['create', 'namespace', ns]);
  // The example's Redis password Secret.
  await cp.k(['create', 'secret', 'generic', 'shop-redis-auth', '-n', ns, '--from-literal=password=bench-pass']);
  const spec = exampleSpec();
  const docs = names.map((name) => ({ apiVersion: 'cachetier.io/v1alpha1', kind: 'CacheTier', metadata: { name, namespace: ns }, spec }));
  const t0 = performance.now();
  await Promise.all(
    docs.map((body) =>
      c.custom.createNamespacedCustomObject({ group: 'cachetier.io', version: 'v1alpha1', namespace: ns, plural: 'cachetiers', body }),
    ),
  );
  // Expected children are a pure function of the (server-defaulted) tier: render them.
  const want = new Set<string>();
  for (const name of names) {
    const tier = (await c.custom.getNamespacedCustomObject({
      group: 'cachetier.io',
      version: 'v1alpha1',
      namespace: ns,
      plural: 'cachetiers',
      name,
    })) as CacheTier;
    for (const o of renderAll(resolveTier(tier))) want.add(`${o.kind}/${o.metadata.name}`);
  }
  if (want.size === 0) throw new Error('renderAll rendered no children');
  let done = 0;
  await waitFor(
    `${want.size} children of ${names.length} CacheTier(s) in ${ns}`,
    async () => {
      const have = await presentNames(c, ns);
      const missing = [...want].filter((k) => !have.has(k)).length;
      if (missing === 0) done = performance.now();
      return missing === 0;
    },
    120_000,
    25,
  );
  return done - t0;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function main() {
  const wasUp = existsSync(path.join(CP_DIR, 'ready'));
  const cp = await controlPlaneUp();
  const runDir = path.join(CP_DIR, 'bench-run');
  mkdirSync(runDir, { recursive: true });
  const cleanup: Array<() => Promise<unknown>> = [];
  try {
    await installCrds(cp);
    const id = await installOperatorRbac(cp, OPERATOR_NS);
    const kubeconfig = await serviceAccountKubeconfig(cp, id, path.join(runDir, 'operator.kubeconfig'));
    await buildOperator();
    const op = await startOperator({
      name: 'bench-operator',
      kubeconfig,
      podNamespace: OPERATOR_NS,
      logDir: runDir,
      metricsPort: 18190,
      healthPort: 18191,
    });
    cleanup.push(() => op.stop());
    await waitFor('the bench operator to lead', async () => {
      const r = await cp.kubectl(['get', 'lease', 'cachetier-operator', '-n', OPERATOR_NS, '-o', 'jsonpath={.spec.holderIdentity}']);
      return r.stdout.includes('bench-operator');
    }, 60_000);

    // Keep-alive connections for the bench's own client too: it polls 5 lists every 25 ms, and
    // with client-node's new-agent-per-request each poll was 5 TLS handshakes, a CPU-heavy
    // poller competing with the operator it measures on this 2-core machine.
    const kc = new KeepAliveKubeConfig();
    kc.loadFromFile(cp.adminKubeconfig);
    const c: Clients = {
      apps: kc.makeApiClient(k8s.AppsV1Api),
      core: kc.makeApiClient(k8s.CoreV1Api),
      policy: kc.makeApiClient(k8s.PolicyV1Api),
      networking: kc.makeApiClient(k8s.NetworkingV1Api),
      custom: kc.makeApiClient(k8s.CustomObjectsApi),
    };
    const stamp = Date.now().toString(36);
    const one: number[] = [];
    for (let i = 0; i < RUNS_ONE; i++) {
      const ns = `bench-one-${stamp}-${i}`;
      one.push(await applyAndTime(cp, c, ns, ['one']));
      await cp.k(['delete', 'cachetier', 'one', '-n', ns, '--wait=false']); // idle RSS is with MANY tiers
    }
    const manyNames = Array.from({ length: MANY }, (_, i) => `t${String(i + 1).padStart(2, '0')}`);
    const many = await applyAndTime(cp, c, `bench-many-${stamp}`, manyNames);

    // Idle: let status writes settle, then RSS and a 15 s write count.
    await sleep(10_000);
    const auditStart = readAudit(cp.auditLog, id.username).length;
    await sleep(15_000);
    const idleWrites = readAudit(cp.auditLog, id.username)
      .slice(auditStart)
      .filter((e) => e.stage === 'ResponseComplete' && WRITE_VERBS.has(e.verb) && e.objectRef?.resource !== 'leases').length;
    const rss = rssMb(op.proc.pid);
    const heapMb = (await scrapeCounter(op.metricsUrl, 'cachetier_operator_nodejs_heap_size_used_bytes')) / 2 ** 20;
    const tiers = MANY;

    const sorted = [...one].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    const row = (what: string, value: string, target: string, ok: boolean | null) =>
      `${what.padEnd(44)} ${value.padStart(12)}   ${target.padEnd(10)} ${ok === null ? '' : ok ? 'ok' : 'MISSED'}`;
    const lines = [
      `bench-operator: kube-apiserver ${process.env.K8S_VERSION ?? 'v1.36.3'} on 127.0.0.1, operator as the chart's ServiceAccount`,
      row('measure', 'value', 'target', null),
      row(`apply -> all children, 1 tier (median of ${RUNS_ONE})`, `${median.toFixed(0)} ms`, `< ${TARGET_ONE_MS} ms`, median < TARGET_ONE_MS),
      row(`apply -> all children, 1 tier (max of ${RUNS_ONE})`, `${sorted[sorted.length - 1].toFixed(0)} ms`, `< ${TARGET_ONE_MS} ms`, sorted[sorted.length - 1] < TARGET_ONE_MS),
      row(`apply -> all children, ${MANY} tiers at once`, `${many.toFixed(0)} ms`, '', null),
      row(`operator RSS idle with ${tiers} tiers`, `${rss.toFixed(1)} MB`, `< ${TARGET_RSS_MB} MB`, rss < TARGET_RSS_MB),
      row('  of which V8 heap used', `${heapMb.toFixed(1)} MB`, '', null),
      row('operator writes in 15 s idle (excl. lease)', String(idleWrites), '0', idleWrites === 0),
      `single-tier runs (ms): ${one.map((x) => x.toFixed(0)).join(', ')}`,
    ];
    lines.push(`load average during the run: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} on ${os.cpus().length} CPUs`);
    console.log(lines.join('\n'));
  } finally {
    for (const f of cleanup.reverse()) await f().catch(() => undefined);
    if (!wasUp || process.env.BENCH_DOWN === '1') await controlPlaneDown();
    else console.log(`control plane was already up before the bench: left running (${CP_DIR})`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
