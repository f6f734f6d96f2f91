// The Helm chart renders what the operator process contract and the RBAC contract say
// (/tmp team brief: env names, probes, least-privilege rules). Needs the helm binary
// (hack/deps.d/20-helm.sh); without it the suite skips loudly, and fails under CI=true.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { REPO_ROOT } from './load.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
const CHART = resolve(REPO_ROOT, 'charts/cachetier-operator');
const cacheHelm = resolve(process.env.CACHETIER_CACHE ?? resolve(homedir(), '.cache/cachetier'), 'bin/helm');
const HELM = existsSync(cacheHelm) ? cacheHelm : spawnSync('helm', ['version'], { stdio: 'ignore' }).status === 0 ? 'helm' : '';

if (!HELM) {
  const msg = 'chart.test.ts: helm not found (run `make deps` or bash hack/deps.d/20-helm.sh); chart rendering tests SKIPPED';
  if (process.env.CI) throw new Error(msg);
  console.warn(msg);
}
const describeHelm = HELM ? describe : describe.skip;

function render(...args: string[]): any[] {
  const out = execFileSync(HELM, ['template', 'ct', CHART, '--namespace', 'cachetier-system', ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return parseAllDocuments(out)
    .map((d) => d.toJSON())
    .filter((d) => d && typeof d === 'object');
}

function renderFails(...args: string[]): string {
  const r = spawnSync(HELM, ['template', 'ct', CHART, ...args], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status).not.toBe(0);
  return r.stderr;
}

const byKind = (docs: any[], kind: string) => docs.filter((d) => d.kind === kind);
const one = (docs: any[], kind: string) => {
  const found = byKind(docs, kind);
  expect(found).toHaveLength(1);
  return found[0];
};

/** "group/resource:verb" triples, order-free. */
function permissions(rules: any[]): string[] {
  const out: string[] = [];
  for (const r of rules) {
    for (const g of r.apiGroups) for (const res of r.resources) for (const v of r.verbs) out.push(`${g}/${res}:${v}`);
  }
  return out.sort();
}
const expand = (group: string, resources: string[], verbs: string[]) =>
  resources.flatMap((r) => verbs.map((v) => `${group}/${r}:${v}`));

describeHelm('helm chart cachetier-operator', () => {
  const docs = HELM ? render() : [];
  const chart = parse(readFileSync(resolve(CHART, 'Chart.yaml'), 'utf8'));

  it('Chart.yaml is apiVersion v2, 0.1.0 / 0.1.0', () => {
    expect(chart).toMatchObject({ apiVersion: 'v2', name: 'cachetier-operator', version: '0.1.0', appVersion: '0.1.0' });
  });

  it('ClusterRole grants exactly the RBAC contract, bound to the operator ServiceAccount', () => {
    const role = one(docs, 'ClusterRole');
    expect(permissions(role.rules)).toEqual(
      [
        ...expand('cachetier.io', ['cachetiers'], ['get', 'list', 'watch']),
        ...expand('cachetier.io', ['cachetiers/status'], ['patch']),
        ...expand('apps', ['statefulsets', 'deployments'], ['get', 'list', 'watch', 'create', 'patch']),
        ...expand('apps', ['statefulsets'], ['delete']),
        ...expand('', ['persistentvolumeclaims'], ['list', 'patch']),
        ...expand('storage.k8s.io', ['storageclasses'], ['list']),
        ...expand('', ['services', 'configmaps'], ['get', 'create', 'patch']),
        ...expand('policy', ['poddisruptionbudgets'], ['get', 'create', 'patch']),
        ...expand('networking.k8s.io', ['networkpolicies'], ['get', 'create', 'patch', 'delete']),
        ...expand('', ['pods'], ['list', 'watch', 'delete']),
        ...expand('', ['secrets'], ['get', 'create', 'patch']),
        ...expand('', ['events'], ['create', 'patch']),
      ].sort(),
    );
    const sa = one(docs, 'ServiceAccount');
    const binding = one(docs, 'ClusterRoleBinding');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: 'cachetier-system' }]);
  });

  it('watchNamespaces: a Role + RoleBinding with the same namespaced grants in each namespace; cluster-wide only listing StorageClasses', () => {
    const clusterScoped = ['storage.k8s.io/storageclasses:list'];
    const clusterWide = permissions(one(docs, 'ClusterRole').rules).filter((p) => !clusterScoped.includes(p));
    const ns = render('--set', 'watchNamespaces={shop,cart}');
    const [cr] = byKind(ns, 'ClusterRole');
    expect(byKind(ns, 'ClusterRole')).toHaveLength(1);
    expect(permissions(cr.rules)).toEqual(clusterScoped);
    expect(byKind(ns, 'ClusterRoleBinding').map((b) => b.roleRef.name)).toEqual([cr.metadata.name]);
    const sa = one(ns, 'ServiceAccount');
    for (const n of ['shop', 'cart']) {
      const [role] = byKind(ns, 'Role').filter((r) => r.metadata.namespace === n);
      expect(permissions(role.rules)).toEqual(clusterWide);
      const [binding] = byKind(ns, 'RoleBinding').filter((b) => b.metadata.namespace === n);
      expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name });
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: 'cachetier-system' }]);
    }
    // The leader-election Role stays in the release namespace; no grant elsewhere.
    expect(byKind(ns, 'Role').map((r) => r.metadata.namespace).sort()).toEqual(['cachetier-system', 'cart', 'shop']);
    const env = Object.fromEntries(one(ns, 'Deployment').spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]));
    expect(env.WATCH_NAMESPACE).toBe('shop,cart');
    expect(renderFails('--set', 'watchNamespaces={Bad_NS}')).toMatch(/watchNamespaces/);
  });

  it('leases get/create/update only, in the release namespace (Role, not ClusterRole)', () => {
    const role = one(docs, 'Role');
    expect(role.metadata.namespace).toBe('cachetier-system');
    expect(permissions(role.rules)).toEqual(expand('coordination.k8s.io', ['leases'], ['get', 'create', 'update']).sort());
    const binding = one(docs, 'RoleBinding');
    expect(binding.roleRef.name).toBe(role.metadata.name);
    expect(binding.subjects[0].name).toBe(one(docs, 'ServiceAccount').metadata.name);
    expect(byKind(render('--set', 'leaderElection.enabled=false,replicaCount=1'), 'Role')).toHaveLength(0);
  });

  it('Deployment follows the operator process contract', () => {
    const dep = one(docs, 'Deployment');
    expect(dep.spec.replicas).toBe(2);
    const pod = dep.spec.template.spec;
    expect(pod.serviceAccountName).toBe(one(docs, 'ServiceAccount').metadata.name);
    const [c] = pod.containers;
    expect(c.image).toBe('ghcr.io/cachetier/operator:0.1.0');
    const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
    expect(Object.keys(env).sort()).toEqual(
      [
        'WATCH_NAMESPACE',
        'POD_NAMESPACE',
        'POD_NAME',
        'LEADER_ELECT',
        'LEADER_ELECTION_NAMESPACE',
        'LEADER_ELECTION_LEASE_NAME',
        'METRICS_ADDR',
        'HEALTH_ADDR',
        'LOG_LEVEL',
        'RESYNC_SECONDS',
        'OPERATOR_POD_LABELS',
      ].sort(),
    );
    expect(env).toMatchObject({
      WATCH_NAMESPACE: '',
      POD_NAMESPACE: { fieldRef: { fieldPath: 'metadata.namespace' } },
      POD_NAME: { fieldRef: { fieldPath: 'metadata.name' } },
      LEADER_ELECT: 'true',
      LEADER_ELECTION_NAMESPACE: { fieldRef: { fieldPath: 'metadata.namespace' } },
      LEADER_ELECTION_LEASE_NAME: 'cachetier-operator',
      OPERATOR_POD_LABELS: 'app.kubernetes.io/name=cachetier-operator,app.kubernetes.io/instance=ct',
      METRICS_ADDR: ':8080',
      HEALTH_ADDR: ':8081',
      LOG_LEVEL: 'info',
      RESYNC_SECONDS: '300',
    });
    const ports = Object.fromEntries(c.ports.map((p: any) => [p.name, p.containerPort]));
    expect(ports).toEqual({ metrics: 8080, health: 8081 });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'health' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'health' });
    expect(c.resources.requests).toBeDefined();
  });

  it('pods meet the restricted Pod Security Standard and spread softly', () => {
    const pod = one(docs, 'Deployment').spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.containers[0].securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution).toHaveLength(1);
    expect(pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution).toBeUndefined();
  });

  it('values flow into the env (watchNamespaces, logLevel, leader election off with one replica)', () => {
    const dep = one(render('--set', 'watchNamespaces={shop},logLevel=debug,replicaCount=1,leaderElection.enabled=false,image.tag=dev'), 'Deployment');
    const c = dep.spec.template.spec.containers[0];
    const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value]));
    expect(env).toMatchObject({ WATCH_NAMESPACE: 'shop', LOG_LEVEL: 'debug', LEADER_ELECT: 'false' });
    expect(c.image).toBe('ghcr.io/cachetier/operator:dev');
  });

  it('metrics Service always; ServiceMonitor only when the cluster has its CRD and it is enabled', () => {
    const svc = one(docs, 'Service');
    expect(svc.spec.ports).toEqual([{ name: 'metrics', port: 8080, targetPort: 'metrics', protocol: 'TCP' }]);
    expect(byKind(docs, 'ServiceMonitor')).toHaveLength(0);
    const withCrd = render('--api-versions', 'monitoring.coreos.com/v1/ServiceMonitor');
    const sm = one(withCrd, 'ServiceMonitor');
    expect(sm.spec.endpoints[0]).toMatchObject({ port: 'metrics', path: '/metrics' });
    expect(sm.spec.selector.matchLabels).toEqual(svc.spec.selector);
    const off = render('--api-versions', 'monitoring.coreos.com/v1/ServiceMonitor', '--set', 'metrics.serviceMonitor.enabled=false');
    expect(byKind(off, 'ServiceMonitor')).toHaveLength(0);
  });

  it('PDB only with more than one replica', () => {
    expect(one(docs, 'PodDisruptionBudget').spec.maxUnavailable).toBe(1);
    expect(byKind(render('--set', 'replicaCount=1'), 'PodDisruptionBudget')).toHaveLength(0);
  });

  it('ships the CRD in crds/ (not templated), so helm installs it before the templates', () => {
    expect(byKind(docs, 'CustomResourceDefinition')).toHaveLength(0);
    const withCrds = render('--include-crds');
    expect(one(withCrds, 'CustomResourceDefinition').metadata.name).toBe('cachetiers.cachetier.io');
  });

  it('refuses bad values: unknown keys, wrong types, 2 replicas without leader election', () => {
    expect(renderFails('--set', 'bogus=1')).toMatch(/bogus/);
    expect(renderFails('--set', 'logLevel=loud')).toMatch(/logLevel/);
    expect(renderFails('--set', 'replicaCount=2,leaderElection.enabled=false')).toMatch(/leader/i);
  });
});
