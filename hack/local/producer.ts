// Local harness for the cache-producer (and shared build step): runs the BUILT JS
// (dist/workloads/cache-producer/src/main.js) with the env the operator renders.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot, startProcess, waitFor, waitForPort, type ManagedProcess } from './procs.js';
import { TEST_REDIS_CREDENTIALS } from './redis.js';
import { HTTP_METRICS_PORTS, PRODUCER_ENV } from '../../packages/contract/src/index.js';

export const REPO_ROOT = repoRoot();
const PRODUCER_MAIN = path.join(REPO_ROOT, 'dist/workloads/cache-producer/src/main.js');
const SOURCE_MAIN = path.join(REPO_ROOT, 'dist/workloads/source-service/src/main.js');

function newestMtime(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name === 'test' || e.name === 'node_modules') continue;
      t = Math.max(t, newestMtime(p));
    } else if (e.name.endsWith('.ts')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

let built = false;
/** Builds dist/ with tsc once per process when the workloads' sources are newer than the build. */
export function ensureBuilt(force = false): void {
  if (built && !force) return;
  const srcs = ['workloads/cache-producer/src', 'workloads/source-service/src', 'packages/contract/src', 'operator/src/render'].map((d) => path.join(REPO_ROOT, d));
  const newest = Math.max(...srcs.filter(existsSync).map(newestMtime));
  const outs = [PRODUCER_MAIN, SOURCE_MAIN];
  const stale = force || outs.some((o) => !existsSync(o) || statSync(o).mtimeMs < newest);
  if (stale) {
    // tsc emits even when another area has a type error; what matters is that our outputs are fresh.
    const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000 });
    const fresh = outs.every((o) => existsSync(o) && statSync(o).mtimeMs >= newest);
    if (!fresh) throw new Error(`build failed (npx tsc -p tsconfig.build.json):\n${r.stdout}\n${r.stderr}`);
    if (r.status !== 0) console.warn(`tsc reported errors (outputs were still emitted):\n${r.stdout.slice(0, 2000)}`);
  }
  built = true;
}

export interface ProducerHandle {
  url: string;
  host: string;
  port: number;
  /** The metrics listener (METRICS_PORT on the same host): /metrics is 404 on `url`. */
  metricsPort: number;
  /** http://host:metricsPort/metrics */
  metricsUrl: string;
  proc: ManagedProcess;
  /** SIGTERM (graceful: finish in-flight work, commit) and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL (a crash) and wait for exit. */
  kill(): Promise<void>;
}

export interface StartProducerOptions {
  /** producerEnv(...) output. HTTP_HOST/HTTP_PORT/METRICS_PORT are set from host/port/metricsPort. */
  env: Record<string, string>;
  /**
   * The producer's Redis ACL password (default: TEST_REDIS_CREDENTIALS'), written to a file that
   * REDIS_PASSWORD_FILE then names, as the pod's Secret volume does.
   */
  redisPassword?: string;
  host: string;
  port: number;
  /** Default: the contract's producer metrics port (each producer has its own host). */
  metricsPort?: number;
  rootDir: string;
  name?: string;
  /** Wait for /readyz (Kafka group joined, Redis reachable). Default true. */
  waitReady?: boolean;
  readyTimeoutMs?: number;
}

export async function startProducer(opts: StartProducerOptions): Promise<ProducerHandle> {
  ensureBuilt();
  const name = opts.name ?? `producer-${opts.host}-${opts.port}`;
  const passwordFile = path.join(opts.rootDir, `${name}.redis-password`);
  const metricsPort = opts.metricsPort ?? HTTP_METRICS_PORTS.producer;
  writeFileSync(passwordFile, opts.redisPassword ?? TEST_REDIS_CREDENTIALS.producer, { mode: 0o600 });
  const proc = startProcess(name, process.execPath, ['--enable-source-maps', PRODUCER_MAIN], {
    logDir: path.join(opts.rootDir, 'logs'),
    cwd: REPO_ROOT,
    env: {
      ...opts.env,
      [PRODUCER_ENV.redisPasswordFile]: passwordFile,
      [PRODUCER_ENV.httpHost]: opts.host,
      [PRODUCER_ENV.httpPort]: String(opts.port),
      [PRODUCER_ENV.metricsPort]: String(metricsPort),
    },
  });
  const url = `http://${opts.host}:${opts.port}`;
  try {
    await waitForPort(opts.host, opts.port, 60_000, proc);
    if (opts.waitReady ?? true) {
      await waitFor(
        `${name} /readyz (log: ${proc.logFile})`,
        async () => {
          if (proc.child.exitCode !== null) throw new Error(`${name} exited; see ${proc.logFile}`);
          const r = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
          return r.status === 200;
        },
        opts.readyTimeoutMs ?? 90_000,
        250,
      );
    }
  } catch (e) {
    await proc.kill('SIGKILL');
    throw e;
  }
  return {
    url,
    host: opts.host,
    port: opts.port,
    metricsPort,
    metricsUrl: `http://${opts.host}:${metricsPort}/metrics`,
    proc,
    stop: () => proc.kill('SIGTERM', 30_000),
    kill: () => proc.kill('SIGKILL', 5000),
  };
}

export { SOURCE_MAIN };
