// TypeScript side of the control-plane tier: bring the processes up/down (hack/controlplane/up.sh,
// down.sh), drive kubectl, install the CRD and the chart's RBAC, mint a ServiceAccount token,
// run the built operator, and read the API server's audit log. Used by
// operator/test/controlplane/*.test.ts and bench/operator.ts.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { startProcess, waitFor, type ManagedProcess } from '../local/procs.js';

const HERE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
// Compiled, this file sits in dist/hack/controlplane/: one level deeper.
export const ROOT = existsSync(path.join(HERE_ROOT, 'package.json')) ? HERE_ROOT : path.resolve(HERE_ROOT, '..');

export const CACHE = process.env.CACHETIER_CACHE ?? path.join(os.homedir(), '.cache', 'cachetier');
export const K8S_VERSION = process.env.K8S_VERSION ?? 'v1.36.3';
export const K8S_BIN = process.env.K8S_BIN ?? path.join(CACHE, `k8s-${K8S_VERSION}`, 'bin');
export const CP_DIR = process.env.CACHETIER_CP_DIR ?? path.join(process.env.TMPDIR ?? '/tmp', 'cachetier-controlplane');
export const KUBECTL = path.join(K8S_BIN, 'kubectl');
export const HELM = [path.join(CACHE, 'bin', 'helm')].find((p) => existsSync(p)) ?? 'helm';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(
  cmd: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      {
        timeout: opts.timeoutMs ?? 60_000,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, ...opts.env },
        cwd: opts.cwd ?? ROOT,
        killSignal: 'SIGKILL',
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) + (err && code === 1 && !stderr ? String(err) : '') });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Runs a command that must succeed; throws with its output otherwise. */
export async function must(cmd: string, args: string[], opts: Parameters<typeof run>[2] = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`${path.basename(cmd)} ${args.join(' ')} failed (${r.code}):\n${r.stderr}\n${r.stdout}`.slice(0, 8000));
  }
  return r.stdout;
}

export interface ControlPlane {
  dir: string;
  adminKubeconfig: string;
  auditLog: string;
  /** kubectl as cluster admin. */
  kubectl(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<ExecResult>;
  /** kubectl as cluster admin; throws on failure. */
  k(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<string>;
  getJson<T = Record<string, unknown>>(args: string[]): Promise<T>;
}

/** What is missing to run the tier, or [] when everything is there. */
export function missingPrerequisites(): string[] {
  const missing: string[] = [];
  for (const b of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl']) {
    if (!existsSync(path.join(K8S_BIN, b))) missing.push(`${path.join(K8S_BIN, b)} (make deps-controlplane: hack/deps-kubernetes.sh)`);
  }
  if (spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' }).status !== 0) missing.push('etcd (Debian etcd-server)');
  if (HELM === 'helm' && spawnSync('sh', ['-c', 'command -v helm'], { encoding: 'utf8' }).status !== 0) {
    missing.push('helm (make deps: hack/deps.d/20-helm.sh)');
  }
  return missing;
}

export function controlPlane(dir = CP_DIR): ControlPlane {
  const adminKubeconfig = path.join(dir, 'admin.kubeconfig');
  const kubectl = (args: string[], opts: { input?: string; timeoutMs?: number } = {}) =>
    run(KUBECTL, ['--kubeconfig', adminKubeconfig, '--request-timeout=30s', ...args], {
      input: opts.input,
      timeoutMs: opts.timeoutMs ?? 60_000,
    });
  const k = async (args: string[], opts: { input?: string; timeoutMs?: number } = {}) => {
    const r = await kubectl(args, opts);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`.slice(0, 8000));
    return r.stdout;
  };
  return {
    dir,
    adminKubeconfig,
    auditLog: path.join(dir, 'audit.log'),
    kubectl,
    k,
    async getJson<T>(args: string[]) {
      return JSON.parse(await k([...args, '-o', 'json'])) as T;
    },
  };
}

/** Starts (or reuses) the control plane: hack/controlplane/up.sh. */
export async function controlPlaneUp(): Promise<ControlPlane> {
  const r = await run('bash', [path.join(ROOT, 'hack/controlplane/up.sh')], {
    timeoutMs: 600_000,
    env: { CACHETIER_CP_DIR: CP_DIR, CACHETIER_CACHE: CACHE },
  });
  if (r.code !== 0) throw new Error(`hack/controlplane/up.sh failed (${r.code}):\n${r.stderr.slice(-6000)}`);
  return controlPlane(CP_DIR);
}

export async function controlPlaneDown(opts: { keepState?: boolean } = {}): Promise<void> {
  const r = await run('bash', [path.join(ROOT, 'hack/controlplane/down.sh')], {
    timeoutMs: 120_000,
    env: { CACHETIER_CP_DIR: CP_DIR, KEEP_STATE: opts.keepState ? '1' : '0' },
  });
  if (r.code !== 0) throw new Error(`hack/controlplane/down.sh failed (${r.code}): ${r.stderr}`);
}

// ------------------------------------------------------------------------------------------
// Operator build + install

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

export const OPERATOR_MAIN = path.join(ROOT, 'dist', 'operator', 'src', 'main.js');

/** `npx tsc -p tsconfig.build.json` unless dist/operator/src/main.js is newer than every source. */
export async function buildOperator(): Promise<void> {
  if (!existsSync(path.join(ROOT, 'operator', 'src', 'main.ts'))) {
    throw new Error('operator/src/main.ts does not exist yet: nothing to run');
  }
  if (existsSync(OPERATOR_MAIN) && process.env.CACHETIER_FORCE_BUILD !== '1') {
    const built = statSync(OPERATOR_MAIN).mtimeMs;
    if (built > newestMtime(path.join(ROOT, 'operator', 'src'))) return;
  }
  await must('npx', ['tsc', '-p', 'tsconfig.build.json'], { timeoutMs: 600_000 });
  if (!existsSync(OPERATOR_MAIN)) throw new Error(`build produced no ${OPERATOR_MAIN}`);
}

export interface KubeDoc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export function parseYamlDocs(text: string): KubeDoc[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as KubeDoc | null)
    .filter((d): d is KubeDoc => !!d && typeof d === 'object' && typeof d.kind === 'string');
}

export const CHART_DIR = path.join(ROOT, 'charts', 'cachetier-operator');
export const CRD_DIR = path.join(ROOT, 'crds');
export const RBAC_KINDS = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);

/** `helm template` of the chart; returns every document. */
export async function renderChart(namespace: string, release = 'cachetier-operator', extraArgs: string[] = []): Promise<KubeDoc[]> {
  const out = await must(HELM, ['template', release, CHART_DIR, '--namespace', namespace, '--kube-version', K8S_VERSION.replace(/^v/, ''), ...extraArgs], {
    timeoutMs: 120_000,
  });
  return parseYamlDocs(out);
}

export interface OperatorIdentity {
  namespace: string;
  serviceAccount: string;
  /** "system:serviceaccount:<ns>:<name>": the audit log's user.username. */
  username: string;
  rbac: KubeDoc[];
}

/** Installs the CRD(s) from crds/ and waits until they are Established. */
export async function installCrds(cp: ControlPlane): Promise<string[]> {
  const files = readdirSync(CRD_DIR).filter((f) => /\.ya?ml$/.test(f));
  const names: string[] = [];
  for (const f of files) {
    const text = readFileSync(path.join(CRD_DIR, f), 'utf8');
    for (const d of parseYamlDocs(text)) if (d.kind === 'CustomResourceDefinition') names.push(d.metadata.name);
    await cp.k(['apply', '--server-side', '--force-conflicts', '-f', path.join(CRD_DIR, f)]);
  }
  // Polled rather than `kubectl wait`, which errors out (instead of waiting) while a just-created
  // CRD has no status.conditions yet.
  for (const n of names) {
    await waitFor(
      `CRD ${n} Established`,
      async () => {
        const r = await cp.kubectl(['get', 'crd', n, '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status}']);
        return r.code === 0 && r.stdout.trim() === 'True';
      },
      60_000,
      250,
    );
  }
  return names;
}

/**
 * Applies the chart's ServiceAccount and RBAC (nothing else: the operator runs as a local process).
 * `release` and `helmArgs` render another install, e.g. a namespaced one (watchNamespaces).
 */
export async function installOperatorRbac(
  cp: ControlPlane,
  namespace: string,
  opts: { release?: string; helmArgs?: string[] } = {},
): Promise<OperatorIdentity> {
  const docs = await renderChart(namespace, opts.release, opts.helmArgs);
  const rbac = docs.filter((d) => RBAC_KINDS.has(d.kind));
  const sa = rbac.find((d) => d.kind === 'ServiceAccount');
  if (!sa) throw new Error(`helm template ${CHART_DIR} rendered no ServiceAccount`);
  const nsExists = (await cp.kubectl(['get', 'namespace', namespace])).code === 0;
  if (!nsExists) await cp.k(['create', 'namespace', namespace]);
  for (const d of rbac) if (d.metadata.namespace === undefined && !d.kind.startsWith('Cluster')) d.metadata.namespace = namespace;
  await cp.k(['apply', '--server-side', '--force-conflicts', '-f', '-'], {
    input: rbac.map((d) => JSON.stringify(d)).join('\n'),
  });
  const saNs = sa.metadata.namespace ?? namespace;
  return {
    namespace: saNs,
    serviceAccount: sa.metadata.name,
    username: `system:serviceaccount:${saNs}:${sa.metadata.name}`,
    rbac,
  };
}

/** A kubeconfig that authenticates with a fresh token of the ServiceAccount (kubectl create token). */
export async function serviceAccountKubeconfig(cp: ControlPlane, id: OperatorIdentity, file: string): Promise<string> {
  const token = (
    await cp.k(['create', 'token', id.serviceAccount, '-n', id.namespace, '--duration=4h'])
  ).trim();
  const admin = parseYamlDocs(readFileSync(cp.adminKubeconfig, 'utf8'))[0] as unknown as {
    clusters: Array<{ cluster: Record<string, string> }>;
  };
  const cluster = admin.clusters[0].cluster;
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'cachetier-controlplane', cluster }],
    users: [{ name: id.username, user: { token } }],
    contexts: [{ name: 'operator', context: { cluster: 'cachetier-controlplane', user: id.username } }],
    'current-context': 'operator',
  };
  writeFileSync(file, JSON.stringify(kubeconfig, null, 2), { mode: 0o600 });
  return file;
}

export interface OperatorProcess {
  name: string;
  proc: ManagedProcess;
  metricsUrl: string;
  healthUrl: string;
  logFile: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Runs the BUILT operator (node dist/operator/src/main.js) with the env of the operator process
 * contract. Waits for /healthz.
 */
export async function startOperator(opts: {
  name: string;
  kubeconfig: string;
  podNamespace: string;
  logDir: string;
  metricsPort: number;
  healthPort: number;
  env?: NodeJS.ProcessEnv;
  waitHealthyMs?: number;
}): Promise<OperatorProcess> {
  const proc = startProcess('operator-' + opts.name, process.execPath, [OPERATOR_MAIN], {
    logDir: opts.logDir,
    cwd: ROOT,
    env: {
      KUBECONFIG: opts.kubeconfig,
      WATCH_NAMESPACE: '',
      POD_NAMESPACE: opts.podNamespace,
      POD_NAME: opts.name,
      LEADER_ELECT: 'true',
      LEADER_ELECTION_NAMESPACE: opts.podNamespace,
      LEADER_ELECTION_LEASE_NAME: 'cachetier-operator',
      METRICS_ADDR: `127.0.0.1:${opts.metricsPort}`,
      HEALTH_ADDR: `127.0.0.1:${opts.healthPort}`,
      LOG_LEVEL: 'info',
      RESYNC_SECONDS: '300',
      ...opts.env,
    },
  });
  const healthUrl = `http://127.0.0.1:${opts.healthPort}`;
  const metricsUrl = `http://127.0.0.1:${opts.metricsPort}/metrics`;
  await waitFor(
    `operator ${opts.name} /healthz (log: ${proc.logFile})`,
    async () => {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
        throw new Error(`operator ${opts.name} exited: ${readFileSync(proc.logFile, 'utf8').slice(-3000)}`);
      }
      const res = await fetch(`${healthUrl}/healthz`, { signal: AbortSignal.timeout(2000) });
      return res.ok;
    },
    opts.waitHealthyMs ?? 60_000,
    300,
  );
  return {
    name: opts.name,
    proc,
    metricsUrl,
    healthUrl,
    logFile: proc.logFile,
    stop: (signal: NodeJS.Signals = 'SIGTERM') => proc.kill(signal, 15_000),
  };
}

/** Sum of a Prometheus counter over its label sets that `where` accepts (all by default; 0 when absent). */
export async function scrapeCounter(
  metricsUrl: string,
  name: string,
  where: (labels: string) => boolean = () => true,
): Promise<number> {
  const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(5000) })).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([0-9.eE+-]+|NaN)/.exec(line);
    if (m && m[1] === name && where(m[2] ?? '')) sum += Number(m[3]);
  }
  return sum;
}

// ------------------------------------------------------------------------------------------
// Audit log

export interface AuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  requestURI: string;
  user: { username: string; groups?: string[] };
  objectRef?: { resource?: string; subresource?: string; apiGroup?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number; message?: string };
  requestReceivedTimestamp: string;
  stageTimestamp: string;
}

export const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

/** Every audit event of `username` (all stages but RequestReceived, which the policy omits). */
export function readAudit(auditLog: string, username?: string): AuditEvent[] {
  if (!existsSync(auditLog)) return [];
  const out: AuditEvent[] = [];
  for (const line of readFileSync(auditLog, 'utf8').split('\n')) {
    if (!line) continue;
    let e: AuditEvent;
    try {
      e = JSON.parse(line) as AuditEvent;
    } catch {
      continue; // a line being written right now
    }
    if (username === undefined || e.user?.username === username) out.push(e);
  }
  return out;
}

/** "apps/statefulsets", "/pods", "cachetier.io/cachetiers/status" */
export function auditResource(e: AuditEvent): string {
  const r = e.objectRef ?? {};
  return `${r.apiGroup ?? ''}/${r.resource ?? ''}${r.subresource ? '/' + r.subresource : ''}`;
}

export interface RbacRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

/** Every (apiGroup/resource, verb) a set of Roles/ClusterRoles grants, e.g. "apps/statefulsets patch". */
export function grantedPermissions(roles: KubeDoc[]): string[] {
  const out = new Set<string>();
  for (const role of roles) {
    for (const rule of (role.rules as RbacRule[] | undefined) ?? []) {
      for (const g of rule.apiGroups ?? []) {
        for (const r of rule.resources ?? []) for (const v of rule.verbs) out.add(`${g}/${r} ${v}`);
      }
    }
  }
  return [...out].sort();
}

/** Every (apiGroup/resource, verb) the user really exercised according to the audit log. */
export function usedPermissions(events: AuditEvent[]): Set<string> {
  const out = new Set<string>();
  for (const e of events) if (e.objectRef?.resource) out.add(`${auditResource(e)} ${e.verb}`);
  return out;
}
