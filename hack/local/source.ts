// Local harness for the sample source service: runs the BUILT JS.
import path from 'node:path';
import { startProcess, waitFor, type ManagedProcess } from './procs.js';
import { ensureBuilt, REPO_ROOT, SOURCE_MAIN } from './producer.js';

export interface SourceHandle {
  url: string;
  proc: ManagedProcess;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

export interface StartSourceOptions {
  host: string;
  port: number;
  kafkaBrokers: string[];
  rootDir: string;
  topic?: string;
  seedProducts?: number;
  latencyMs?: number;
  failRate?: number;
}

export async function startSourceService(opts: StartSourceOptions): Promise<SourceHandle> {
  ensureBuilt();
  const name = `source-${opts.host}-${opts.port}`;
  const proc = startProcess(name, process.execPath, ['--enable-source-maps', SOURCE_MAIN], {
    logDir: path.join(opts.rootDir, 'logs'),
    cwd: REPO_ROOT,
    env: {
      SOURCE_HTTP_HOST: opts.host,
      SOURCE_HTTP_PORT: String(opts.port),
      KAFKA_BROKERS: opts.kafkaBrokers.join(','),
      KAFKA_TOPIC_CACHE_MESSAGE: opts.topic ?? 'cache-message',
      SEED_PRODUCTS: String(opts.seedProducts ?? 100),
      SOURCE_LATENCY_MS: String(opts.latencyMs ?? 0),
      SOURCE_FAIL_RATE: String(opts.failRate ?? 0),
    },
  });
  const url = `http://${opts.host}:${opts.port}`;
  try {
    await waitFor(
      `${name} /healthz (log: ${proc.logFile})`,
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`${name} exited; see ${proc.logFile}`);
        return (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) })).status === 200;
      },
      60_000,
      200,
    );
  } catch (e) {
    await proc.kill('SIGKILL');
    throw e;
  }
  return { url, proc, stop: () => proc.kill('SIGTERM', 15_000), kill: () => proc.kill('SIGKILL', 5000) };
}
