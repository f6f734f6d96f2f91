// chart-lint: the namespaced install's RBAC. With watchNamespaces set, each watched namespace has
// a Role (bound to the operator's ServiceAccount) with exactly the grants of the cluster-wide
// install's ClusterRole, and no ClusterRole grants anything namespaced the operator touches
// (secrets, workloads, pods, services, configmaps, policies, events, CacheTiers) nor a wildcard.
// Usage: node hack/chart-rbac-check.mjs <cluster-wide.yaml> <namespaced.yaml> <ns>[,<ns>...]
import { readFileSync } from 'node:fs';
import YAML from 'yaml';

const [clusterFile, nsFile, nsList] = process.argv.slice(2);
const load = (f) => YAML.parseAllDocuments(readFileSync(f, 'utf8')).map((d) => d.toJS()).filter(Boolean);
const fail = (msg) => {
  console.error(`chart-lint: ${msg}`);
  process.exit(1);
};
const perms = (rules) =>
  (rules ?? [])
    .flatMap((r) => (r.apiGroups ?? []).flatMap((g) => (r.resources ?? []).flatMap((res) => r.verbs.map((v) => `${g}/${res}:${v}`))))
    .sort();
const FORBIDDEN_CLUSTER_WIDE = new Set([
  'secrets', 'statefulsets', 'deployments', 'pods', 'services', 'configmaps', 'poddisruptionbudgets',
  'networkpolicies', 'events', 'cachetiers', 'cachetiers/status', '*',
]);

// The only cluster-wide grant a namespaced install keeps: reading StorageClasses (cluster-scoped,
// for volume expansion). Everything else must be a Role in a watched namespace.
const CLUSTER_SCOPED_ALLOWED = new Set(['storage.k8s.io/storageclasses:list']);

const cluster = load(clusterFile);
const namespaced = load(nsFile);
const want = perms(cluster.find((d) => d.kind === 'ClusterRole')?.rules).filter((p) => !CLUSTER_SCOPED_ALLOWED.has(p));
if (want.length === 0) fail('the cluster-wide install rendered no ClusterRole rules');

for (const cr of namespaced.filter((d) => d.kind === 'ClusterRole')) {
  for (const r of cr.rules ?? []) {
    const bad = (r.resources ?? []).filter((res) => FORBIDDEN_CLUSTER_WIDE.has(res));
    if (bad.length > 0) fail(`watchNamespaces set, but ClusterRole ${cr.metadata.name} grants ${bad.join(', ')} cluster-wide`);
  }
  const extra = perms(cr.rules).filter((p) => !CLUSTER_SCOPED_ALLOWED.has(p));
  if (extra.length > 0) fail(`watchNamespaces set, but ClusterRole ${cr.metadata.name} grants ${extra.join(', ')}`);
}
// A ClusterRoleBinding may only bind a ClusterRole rendered (and so checked) here: not, say, a
// built-in "edit" or "admin".
for (const crb of namespaced.filter((d) => d.kind === 'ClusterRoleBinding')) {
  if (!namespaced.some((c) => c.kind === 'ClusterRole' && c.metadata.name === crb.roleRef?.name)) {
    fail(`watchNamespaces set, but ClusterRoleBinding ${crb.metadata.name} binds ClusterRole ${crb.roleRef?.name}, which the chart does not render`);
  }
}
const sa = namespaced.find((d) => d.kind === 'ServiceAccount');
for (const ns of nsList.split(',')) {
  const roles = namespaced.filter((d) => d.kind === 'Role' && d.metadata.namespace === ns);
  const role = roles.find((r) => JSON.stringify(perms(r.rules)) === JSON.stringify(want));
  if (!role) fail(`no Role in namespace ${ns} with exactly the ClusterRole's grants (${want.length} permissions)`);
  const binding = namespaced.find((d) => d.kind === 'RoleBinding' && d.metadata.namespace === ns && d.roleRef?.kind === 'Role' && d.roleRef.name === role.metadata.name);
  if (!binding) fail(`no RoleBinding of Role ${role.metadata.name} in namespace ${ns}`);
  if (!binding.subjects?.some((s) => s.kind === 'ServiceAccount' && s.name === sa?.metadata.name)) fail(`RoleBinding in ${ns} does not bind the operator ServiceAccount`);
}
const env = namespaced.find((d) => d.kind === 'Deployment')?.spec.template.spec.containers[0].env ?? [];
const watch = env.find((e) => e.name === 'WATCH_NAMESPACE')?.value;
if (watch !== nsList) fail(`WATCH_NAMESPACE is "${watch}", want "${nsList}"`);
console.log(`chart-lint: namespaced RBAC ok (${nsList}: a Role each with ${want.length} permissions; cluster-wide only ${[...CLUSTER_SCOPED_ALLOWED].join(', ')})`);
