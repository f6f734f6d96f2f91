// The operator process contract's environment, parsed and checked in one place.
import os from 'node:os';

export interface OperatorConfig {
  /** WATCH_NAMESPACE, "a,b": the namespaces to watch; [] = all namespaces. */
  watchNamespaces: string[];
  podNamespace: string;
  podName: string;
  leaderElect: boolean;
  leaseNamespace: string;
  leaseName: string;
  metricsAddr: string;
  healthAddr: string;
  logLevel: string;
  resyncSeconds: number;
  concurrency: number;
  shutdownTimeoutMs: number;
  /** The operator pod's own labels (OPERATOR_POD_LABELS, "k=v,k=v"): admitted by the tier's NetworkPolicies. */
  podLabels: Record<string, string>;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** "a, b" -> ["a", "b"] (deduplicated, order kept); "" -> [] (all namespaces). */
export function parseWatchNamespaces(s: string | undefined): string[] {
  const out: string[] = [];
  for (const ns of (s ?? '').split(',').map((p) => p.trim()).filter((p) => p.length > 0)) {
    if (!DNS1123_LABEL.test(ns)) throw new Error(`WATCH_NAMESPACE must be "" or a comma-separated list of namespace names, got "${s}"`);
    if (!out.includes(ns)) out.push(ns);
  }
  return out;
}

/** "k=v,k2=v2" -> { k: v, k2: v2 }; empty = the chart's default name label. */
export function parsePodLabels(s: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (s ?? '').split(',').map((p) => p.trim()).filter((p) => p.length > 0)) {
    const i = part.indexOf('=');
    if (i <= 0) throw new Error(`OPERATOR_POD_LABELS must be "key=value,key=value", got "${s}"`);
    out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return Object.keys(out).length > 0 ? out : { 'app.kubernetes.io/name': 'cachetier-operator' };
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): OperatorConfig {
  const podNamespace = env.POD_NAMESPACE || 'default';
  const resync = Number(env.RESYNC_SECONDS ?? '300');
  if (!Number.isFinite(resync) || resync < 0) throw new Error(`RESYNC_SECONDS must be a number of seconds, got "${env.RESYNC_SECONDS}"`);
  const le = (env.LEADER_ELECT ?? 'true').toLowerCase();
  if (le !== 'true' && le !== 'false') throw new Error(`LEADER_ELECT must be "true" or "false", got "${env.LEADER_ELECT}"`);
  return {
    watchNamespaces: parseWatchNamespaces(env.WATCH_NAMESPACE),
    podNamespace,
    podName: env.POD_NAME || os.hostname(),
    leaderElect: le === 'true',
    leaseNamespace: env.LEADER_ELECTION_NAMESPACE || podNamespace,
    leaseName: env.LEADER_ELECTION_LEASE_NAME || 'cachetier-operator',
    metricsAddr: env.METRICS_ADDR || ':8080',
    healthAddr: env.HEALTH_ADDR || ':8081',
    logLevel: env.LOG_LEVEL || 'info',
    resyncSeconds: resync,
    concurrency: 2,
    shutdownTimeoutMs: 20_000,
    podLabels: parsePodLabels(env.OPERATOR_POD_LABELS),
  };
}
