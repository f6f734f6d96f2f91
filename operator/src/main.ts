// The operator process. Configuration comes only from the env of the operator process contract
// (see the chart): WATCH_NAMESPACE, POD_NAMESPACE, POD_NAME, LEADER_ELECT,
// LEADER_ELECTION_NAMESPACE, LEADER_ELECTION_LEASE_NAME, METRICS_ADDR, HEALTH_ADDR, LOG_LEVEL,
// OPERATOR_POD_LABELS, RESYNC_SECONDS, KUBECONFIG.
//
// Startup: servers up (so /healthz answers), API reachable (else exit 1 with a clear message),
// then either lead (Lease) or wait as a standby. Only the leader runs informers and reconciles.
// Losing the lease exits non-zero; SIGTERM/SIGINT stop informers, drain the queue (bounded),
// release the lease and exit 0.
import * as k8s from '@kubernetes/client-node';
import { createLogger, type Logger } from './log.js';
import { enableDefaultMetrics, leaderGauge, queueDepth, reconcileDuration, reconcileErrors, reconcileTotal, registry } from './metrics.js';
import { KeepAliveKubeConfig, RealKubeClient, describeError, discoverKind } from './runtime/kube.js';
import { POD_MONITOR_API_VERSION, POD_MONITOR_KIND } from './render/podmonitor.js';
import { WorkQueue } from './runtime/queue.js';
import { Reconciler } from './controller/reconcile.js';
import { EventRecorder } from './runtime/events.js';
import { InformerSet } from './runtime/informers.js';
import { LeaderElector } from './runtime/leader.js';
import { startServers, type Servers } from './runtime/servers.js';
import { configFromEnv, type OperatorConfig } from './runtime/config.js';
import { createRedisOrchestrator } from './redis/index.js';
import { createTopicManager } from './kafka/index.js';
import { createProducerProbe } from './producer/probe.js';
import { createRollObservers } from './roll/observer.js';
import { rollStep } from './roll/driver.js';

/** One cheap request that proves the API server is reachable and we are authenticated. */
async function preflight(kc: k8s.KubeConfig, timeoutMs: number): Promise<void> {
  const version = kc.makeApiClient(k8s.VersionApi);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      version.getCode(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function main(): Promise<void> {
  let cfg: OperatorConfig;
  let log: Logger;
  try {
    cfg = configFromEnv();
    log = createLogger(cfg.logLevel);
  } catch (err) {
    createLogger('info').fatal({ err: describeError(err) }, 'bad configuration');
    process.exit(2);
  }
  enableDefaultMetrics();
  log.info({ config: cfg }, 'starting cachetier-operator');

  // Shared keep-alive agents: client-node would open a new TLS connection per request.
  const kc = new KeepAliveKubeConfig();
  try {
    kc.loadFromDefault();
  } catch (err) {
    log.fatal({ err: describeError(err) }, 'cannot load a kubeconfig (KUBECONFIG, ~/.kube/config or in-cluster)');
    process.exit(1);
  }
  const server = kc.getCurrentCluster()?.server;
  if (!server) {
    log.fatal('no current cluster in the kubeconfig');
    process.exit(1);
  }

  const identity = `${cfg.podName}_${process.pid}`;
  const kube = new RealKubeClient(kc);
  let informersSynced = (): boolean => false;
  let leading = !cfg.leaderElect;
  let servers: Servers | undefined;
  try {
    servers = await startServers({
      metricsAddr: cfg.metricsAddr,
      healthAddr: cfg.healthAddr,
      registry,
      ready: () => {
        if (!leading) return { ok: true, detail: 'standby: waiting for the leader lease' };
        return informersSynced() ? { ok: true, detail: 'leader: informers synced' } : { ok: false, detail: 'leader: informers not synced yet' };
      },
    });
    log.info({ metrics: servers.metricsUrl, health: servers.healthUrl }, 'serving /metrics, /healthz, /readyz');
  } catch (err) {
    log.fatal({ err: describeError(err) }, 'cannot listen on METRICS_ADDR / HEALTH_ADDR');
    process.exit(1);
  }

  try {
    await preflight(kc, 15_000);
  } catch (err) {
    log.fatal(
      { server, err: describeError(err) },
      `cannot reach the Kubernetes API at ${server}: set KUBECONFIG or run in a cluster (no kubeconfig means http://localhost:8080)`,
    );
    await servers.close();
    process.exit(1);
  }

  // The Prometheus Operator's PodMonitor API, asked once: with it every tier gets PodMonitors
  // (unless its spec.metrics.podMonitor.enabled is false). Installing the Prometheus Operator
  // later takes an operator restart.
  let podMonitorApi = false;
  try {
    podMonitorApi = await discoverKind(kc, POD_MONITOR_API_VERSION, POD_MONITOR_KIND);
  } catch (err) {
    log.warn({ err: describeError(err) }, 'API discovery for PodMonitor failed; rendering no PodMonitors');
  }
  log.info({ podMonitorApi }, podMonitorApi ? 'the cluster serves PodMonitor: tiers get PodMonitors' : 'no PodMonitor API: tiers get no PodMonitors');

  const recorder = new EventRecorder(kube, { instance: identity, log });
  const reconciler = new Reconciler({
    kube,
    // A reconcile holds its tier's key while it runs: cap the Redis work per pass so status and
    // the other children keep moving during a long reshard (it resumes on the next pass).
    redis: createRedisOrchestrator({ budgetMs: 120_000, log: (msg, fields) => log.info({ area: 'redis', ...fields }, msg) }),
    topics: createTopicManager({
      onLog: (e) => log.warn({ area: 'kafka', kafkaNamespace: e.namespace, kafkaLevel: e.level, ...e.extra }, e.message),
    }),
    producers: createProducerProbe(),
    rolls: { observers: createRollObservers(), step: rollStep },
    recorder,
    log,
    // Every NetworkPolicy admits this operator: its namespace and its pod's labels.
    renderOptions: { operator: { namespace: cfg.podNamespace, podLabels: cfg.podLabels }, podMonitorApi },
  });
  const queue = new WorkQueue({
    concurrency: cfg.concurrency,
    baseDelayMs: 1000,
    maxDelayMs: 5 * 60_000,
    onDepth: (d) => queueDepth.set(d),
    onError: (key, err, retryInMs) => log.warn({ tier: key, err: describeError(err), retryInMs }, 'reconcile failed; retrying'),
    handler: async (key) => {
      const end = reconcileDuration.startTimer();
      try {
        const out = await reconciler.reconcileKey(key);
        reconcileTotal.inc({ result: out.requeueAfterMs !== undefined ? 'requeue' : 'success' });
        log.debug({ tier: key, applied: out.applied, statusWritten: out.statusWritten, requeueAfterMs: out.requeueAfterMs }, 'reconciled');
        return out;
      } catch (err) {
        reconcileTotal.inc({ result: 'error' });
        reconcileErrors.inc();
        throw err;
      } finally {
        end();
      }
    },
  });
  const informers = new InformerSet({
    kc,
    namespaces: cfg.watchNamespaces,
    enqueue: (key) => queue.add(key),
    resyncSeconds: cfg.resyncSeconds,
    log,
  });
  informersSynced = () => informers.synced;

  const elector = cfg.leaderElect
    ? new LeaderElector({ kube, namespace: cfg.leaseNamespace, name: cfg.leaseName, identity, log })
    : undefined;

  const stop = new AbortController();
  let shuttingDown = false;
  const shutdown = async (signal: string, code: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ signal }, 'shutting down');
    const hardExit = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(code || 1);
    }, cfg.shutdownTimeoutMs + 10_000);
    hardExit.unref();
    stop.abort();
    await informers.stop().catch(() => undefined);
    const drained = await queue.shutDown(cfg.shutdownTimeoutMs);
    if (!drained) log.warn('some reconciles were still running at the shutdown deadline');
    if (elector) await elector.release();
    leaderGauge.set(0);
    await servers?.close();
    log.info('stopped');
    process.exit(code);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.on('SIGINT', () => void shutdown('SIGINT', 0));

  if (elector) {
    log.info({ lease: `${cfg.leaseNamespace}/${cfg.leaseName}`, identity }, 'waiting for the leader lease');
    const won = await elector.acquire(stop.signal);
    if (!won) return; // shutting down
    leading = true;
    log.info({ identity }, 'became the leader');
    void elector.holdLease(stop.signal).then((r) => {
      if (r === 'lost' && !shuttingDown) {
        leaderGauge.set(0);
        log.fatal('lost the leader lease; exiting so that only one operator acts');
        process.exit(1);
      }
    });
  }
  leaderGauge.set(1);
  await informers.start();
  log.info({ synced: informers.synced, namespaces: cfg.watchNamespaces.length > 0 ? cfg.watchNamespaces.join(',') : '(all)' }, 'informers started');
}

main().catch((err) => {
  createLogger('info').fatal({ err: describeError(err), stack: err instanceof Error ? err.stack : undefined }, 'operator crashed');
  process.exit(1);
});
