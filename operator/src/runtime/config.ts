// The operator process contract's environment, parsed and checked in one place.
import os from 'node:os';

export interface OperatorConfig {
  watchNamespace: string;
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
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): OperatorConfig {
  const podNamespace = env.POD_NAMESPACE || 'default';
  const resync = Number(env.RESYNC_SECONDS ?? '300');
  if (!Number.isFinite(resync) || resync < 0) throw new Error(`RESYNC_SECONDS must be a number of seconds, got "${env.RESYNC_SECONDS}"`);
  const le = (env.LEADER_ELECT ?? 'true').toLowerCase();
  if (le !== 'true' && le !== 'false') throw new Error(`LEADER_ELECT must be "true" or "false", got "${env.LEADER_ELECT}"`);
  return {
    watchNamespace: env.WATCH_NAMESPACE ?? '',
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
  };
}
