// A real ZooKeeper ensemble on loopback addresses for the integration tier, configured by the
// operator's own zoo.cfg renderer (operator/src/render/config/zookeeper.ts). Runs ZooKeeper 3.8.4
// from the Kafka classpath that hack/deps.d/30-kafka.sh installs (same line as the zookeeper:3.8.x
// image the operator deploys); Debian's /usr/share/java ZooKeeper 3.8.0 is the fallback.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_SPEC } from '../../operator/src/api/defaults.js';
import type { ZooKeeperSpec } from '../../operator/src/api/types.js';
import { renderZooCfg, type ZooKeeperServer } from '../../operator/src/render/config/zookeeper.js';
import { fourLetterWord } from '../../operator/src/roll/observe-zookeeper.js';
import { startProcess, waitFor, type ManagedProcess } from './procs.js';
import { ZK_PORTS } from '../../packages/contract/src/index.js';

export const KAFKA_VERSION = '3.9.1';

export function cacheDir(): string {
  return process.env.CACHETIER_CACHE ?? path.join(os.homedir(), '.cache', 'cachetier');
}

/** $CACHETIER_CACHE/kafka-3.9.1: libs/*.jar + config/log4j.properties (hack/deps.d/30-kafka.sh). */
export function kafkaHome(): string {
  return path.join(cacheDir(), `kafka-${KAFKA_VERSION}`);
}

/** Java classpath for ZooKeeper: the Kafka libs (ZooKeeper 3.8.4) or Debian's jars. Null if neither. */
export function zooKeeperClasspath(): { classpath: string; source: string } | null {
  const libs = path.join(kafkaHome(), 'libs');
  if (existsSync(libs) && readdirSync(libs).some((f) => /^zookeeper-3\..*\.jar$/.test(f))) {
    return { classpath: `${libs}/*`, source: libs };
  }
  const debian = '/usr/share/java';
  if (existsSync(path.join(debian, 'zookeeper.jar'))) {
    // Debian's jar carries its dependencies in its manifest Class-Path.
    return { classpath: path.join(debian, 'zookeeper.jar'), source: 'debian /usr/share/java' };
  }
  return null;
}

export function log4jConfig(): string | undefined {
  const f = path.join(kafkaHome(), 'config', 'log4j.properties');
  return existsSync(f) ? f : undefined;
}

/** Sends a ZooKeeper four-letter word: the operator's own (whole reply, '' on error or timeout). */
export { fourLetterWord };

/** 'leader' | 'follower' when the server serves requests (it is part of a quorum), else null. */
export async function zkMode(host: string, port: number): Promise<string | null> {
  const out = await fourLetterWord(host, port, 'srvr');
  const m = /^Mode: (\w+)/m.exec(out);
  return m ? m[1] : null;
}

export interface ZooKeeperEnsembleOptions {
  /** e.g. "127.0.2": servers on <ipPrefix>.<firstHost + i>. */
  ipPrefix: string;
  /** Parent directory for data, configs and logs (e.g. from makeRootDir). */
  rootDir: string;
  /** Ensemble size (3). */
  count?: number;
  /** Last octet of the first server (11): servers on .11, .12, .13. */
  firstHost?: number;
  /** Spec whose `config` is rendered into zoo.cfg (DEFAULT_SPEC.zookeeper). */
  spec?: ZooKeeperSpec;
  /** Java heap per server, MB (256). */
  heapMb?: number;
  /** How long to wait for a serving quorum (120 s). */
  startTimeoutMs?: number;
  /**
   * Serve ZooKeeper's Prometheus metrics on <host>:<metricsPort> (zoo.cfg as the operator renders
   * it with spec.metrics on); needs the provider jars of hack/deps.d/40-metrics.sh.
   */
  metricsPort?: number;
}

/** The ZooKeeper metrics provider and its deps (hack/deps.d/40-metrics.sh), added to the classpath. */
export function zooKeeperMetricsClasspath(): string | null {
  const dir = path.join(cacheDir(), 'metrics', 'zookeeper');
  return existsSync(dir) && readdirSync(dir).some((f) => f.startsWith('zookeeper-prometheus-metrics-')) ? `${dir}/*` : null;
}

export interface ZooKeeperServerHandle {
  /** myid (1-based). */
  id: number;
  host: string;
  clientPort: number;
  /** "host:2181" */
  address: string;
  dataDir: string;
  cfgFile: string;
  /** The running process, or null while killed/stopped. */
  proc: ManagedProcess | null;
}

export interface ZooKeeperEnsemble {
  /** "h1:2181,h2:2181,h3:2181" (no chroot). */
  connectString: string;
  servers: ZooKeeperServerHandle[];
  /** Kills server i (0-based) — SIGKILL by default — and waits for it to exit. */
  kill(i: number, signal?: NodeJS.Signals): Promise<void>;
  /**
   * (Re)starts server i on its data; waits until it serves (rejoins the quorum). With `spec`, its
   * zoo.cfg is rendered again from that spec first (a roll: same data, new config).
   */
  start(i: number, opts?: { spec?: ZooKeeperSpec }): Promise<void>;
  /** Waits until every running server serves and exactly one of them is the leader. */
  waitForQuorum(timeoutMs?: number): Promise<void>;
  /** Mode of each server ('leader' | 'follower' | null when down or not serving). */
  modes(): Promise<(string | null)[]>;
  /** SIGTERM every server (SIGKILL after 10 s). Safe to call twice. */
  stop(): Promise<void>;
}

export async function startZooKeeperEnsemble(opts: ZooKeeperEnsembleOptions): Promise<ZooKeeperEnsemble> {
  const count = opts.count ?? 3;
  const firstHost = opts.firstHost ?? 11;
  const spec = opts.spec ?? DEFAULT_SPEC.zookeeper;
  const heapMb = opts.heapMb ?? 256;
  const startTimeoutMs = opts.startTimeoutMs ?? 120_000;
  const cp = zooKeeperClasspath();
  if (!cp) {
    throw new Error(
      `ZooKeeper jars not found: run hack/deps.d/30-kafka.sh (expects ${path.join(kafkaHome(), 'libs')}) or install Debian zookeeper`,
    );
  }
  let classpath = cp.classpath;
  if (opts.metricsPort !== undefined) {
    const metricsCp = zooKeeperMetricsClasspath();
    if (!metricsCp) throw new Error('ZooKeeper metrics provider jars not found: run hack/deps.d/40-metrics.sh');
    classpath = `${classpath}:${metricsCp}`;
  }
  const base = path.join(opts.rootDir, 'zookeeper');
  const logDir = path.join(base, 'logs');
  const members: ZooKeeperServer[] = Array.from({ length: count }, (_, i) => ({
    id: i + 1,
    host: `${opts.ipPrefix}.${firstHost + i}`,
  }));

  const renderCfg = (m: ZooKeeperServer, dataDir: string, spec: ZooKeeperSpec) =>
    renderZooCfg(spec, {
      servers: members,
      dataDir,
      clientPort: ZK_PORTS.client,
      peerPort: ZK_PORTS.peer,
      electionPort: ZK_PORTS.election,
      clientPortAddress: m.host,
      // Each server binds its quorum ports on its own address so three share one machine.
      quorumListenOnAllIPs: false,
      ...(opts.metricsPort !== undefined ? { metrics: { port: opts.metricsPort, host: m.host } } : {}),
    });

  const servers: ZooKeeperServerHandle[] = members.map((m) => {
    const dir = path.join(base, `zk-${m.id}`);
    const dataDir = path.join(dir, 'data');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(path.join(dataDir, 'myid'), `${m.id}\n`);
    const cfgFile = path.join(dir, 'zoo.cfg');
    writeFileSync(cfgFile, renderCfg(m, dataDir, spec));
    return {
      id: m.id,
      host: m.host,
      clientPort: ZK_PORTS.client,
      address: `${m.host}:${ZK_PORTS.client}`,
      dataDir,
      cfgFile,
      proc: null,
    };
  });

  const launch = (s: ZooKeeperServerHandle) => {
    const log4j = log4jConfig();
    const args = [
      `-Xmx${heapMb}m`,
      '-XX:+UseSerialGC',
      '-XX:-UsePerfData',
      '-Djava.awt.headless=true',
      '-Dzookeeper.jmx.log4j.disable=true',
      '-Dzookeeper.admin.enableServer=false',
      ...(log4j ? [`-Dlog4j.configuration=file:${log4j}`] : []),
      '-cp',
      classpath,
      'org.apache.zookeeper.server.quorum.QuorumPeerMain',
      s.cfgFile,
    ];
    s.proc = startProcess(`zk-${s.id}`, 'java', args, { logDir, cwd: path.dirname(s.cfgFile) });
  };

  const serving = async (s: ZooKeeperServerHandle): Promise<boolean> => {
    if (s.proc && (s.proc.child.exitCode !== null || s.proc.child.signalCode !== null)) {
      throw new Error(`zk-${s.id} exited early; see ${s.proc.logFile}`);
    }
    return (await zkMode(s.host, s.clientPort)) !== null;
  };

  const waitForQuorum = async (timeoutMs = startTimeoutMs) => {
    const running = servers.filter((s) => s.proc);
    await waitFor(
      `ZooKeeper quorum on ${running.map((s) => s.address).join(',')} (logs: ${logDir})`,
      async () => {
        // Every running server serves, and exactly one leads (right after a leader dies its
        // followers still say "follower" until they notice; that is not a quorum yet).
        if (!(await Promise.all(running.map(serving))).every(Boolean)) return false;
        const modes = await Promise.all(running.map((s) => zkMode(s.host, s.clientPort)));
        return modes.filter((m) => m === 'leader').length === 1 && modes.every((m) => m !== null);
      },
      timeoutMs,
      500,
    );
  };

  let stopped = false;
  const ensemble: ZooKeeperEnsemble = {
    connectString: servers.map((s) => s.address).join(','),
    servers,
    async kill(i, signal = 'SIGKILL') {
      const s = servers[i];
      if (!s?.proc) return;
      await s.proc.kill(signal, 10_000);
      s.proc = null;
    },
    async start(i, startOpts) {
      const s = servers[i];
      if (!s) throw new Error(`no ZooKeeper server ${i}`);
      if (startOpts?.spec && !s.proc) writeFileSync(s.cfgFile, renderCfg(members[i], s.dataDir, startOpts.spec));
      if (!s.proc) launch(s);
      await waitFor(`zk-${s.id} serving on ${s.address} (log: ${s.proc?.logFile})`, () => serving(s), startTimeoutMs, 500);
    },
    waitForQuorum,
    async modes() {
      return Promise.all(servers.map((s) => (s.proc ? zkMode(s.host, s.clientPort) : Promise.resolve(null))));
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all(
        servers.map(async (s) => {
          if (s.proc) await s.proc.kill('SIGTERM', 10_000);
          s.proc = null;
        }),
      );
    },
  };

  for (const s of servers) launch(s);
  try {
    await waitForQuorum();
  } catch (e) {
    await ensemble.stop();
    throw e;
  }
  return ensemble;
}
