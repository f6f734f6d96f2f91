// Local OpenResty (Debian nginx + lua module) for the integration tier and benchmarks: renders
// nginx.conf with the operator's renderer and runs `nginx -p <prefix> -c <conf> -g 'daemon off;'`
// as the current user, every writable path under the prefix.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { API_VERSION, KIND, type CacheTierSpec, type DeepPartial, type ResolvedCacheTier } from '../../operator/src/api/types.js';
import { resolve } from '../../operator/src/api/defaults.js';
import { renderNginxConf, type NginxConfigInput } from '../../operator/src/render/config/nginx.js';
import { repoRoot, startProcess, waitFor, type ManagedProcess } from './procs.js';
import { HTTP_METRICS_PORTS, REDIS_USERS, type OpenRestyLayer } from '../../packages/contract/src/index.js';
import { TEST_REDIS_CREDENTIALS } from './redis.js';

export const REPO_ROOT = repoRoot();
export const OPENRESTY_LUA_SRC = path.join(REPO_ROOT, 'workloads', 'openresty', 'lua');
/** Test-only Lua (testapi): never shipped, on the package path only with testEndpoints. */
export const OPENRESTY_TEST_LUA_SRC = path.join(REPO_ROOT, 'workloads', 'openresty', 'test', 'lua');

export interface OpenRestyOptions {
  layer: OpenRestyLayer;
  host: string;
  port: number;
  /** /metrics listener on the same host; default the contract's OpenResty metrics port. */
  metricsPort?: number;
  rootDir: string;
  /** Instance name (log/prefix dir); default `<layer>-<host>-<port>`. */
  name?: string;
  /** A resolved tier, or a partial spec merged over the defaults. */
  tier?: ResolvedCacheTier;
  spec?: DeepPartial<CacheTierSpec>;
  /** Overrides for the renderer input (redisSeeds, producerUrl, kafkaBrokers, appUpstream, ...). */
  input?: Partial<NginxConfigInput>;
  /**
   * The layer's Redis ACL password (default: TEST_REDIS_CREDENTIALS'), written to a file the
   * rendered config points at, as the pod's Secret volume does; null = no AUTH.
   */
  redisPassword?: string | null;
  env?: NodeJS.ProcessEnv;
  startTimeoutMs?: number;
}

export interface OpenRestyHandle {
  url: string;
  host: string;
  port: number;
  /** /metrics is served here only (404 on `url`). */
  metricsPort: number;
  /** http://host:metricsPort/metrics */
  metricsUrl: string;
  prefix: string;
  confPath: string;
  errorLog: string;
  proc: ManagedProcess;
  /** Current renderer input (after overrides). */
  input: NginxConfigInput;
  /** Re-render with more overrides and SIGHUP the master; resolves once /healthz answers again. */
  reload(input?: Partial<NginxConfigInput>, spec?: DeepPartial<CacheTierSpec>): Promise<void>;
  stop(): Promise<void>;
}

export function localTier(spec?: DeepPartial<CacheTierSpec>): ResolvedCacheTier {
  return resolve({
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: 'local', namespace: 'default', uid: '00000000-0000-0000-0000-000000000000' },
    spec: spec ?? {},
  });
}

async function healthy(url: string): Promise<boolean> {
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(), 1000);
  try {
    const r = await fetch(`${url}/healthz`, { signal: ac.signal });
    await r.text();
    return r.status === 200;
  } catch {
    return false;
  } finally {
    clearTimeout(t);
  }
}

function redisAuthFile(prefix: string, layer: OpenRestyLayer, password: string | null | undefined): Partial<NginxConfigInput> {
  if (password === null) return {};
  const passwordFile = path.join(prefix, 'redis-password');
  writeFileSync(passwordFile, password ?? TEST_REDIS_CREDENTIALS[layer], { mode: 0o600 });
  return { redisAuth: { username: REDIS_USERS[layer], passwordFile } };
}

export async function startOpenResty(opts: OpenRestyOptions): Promise<OpenRestyHandle> {
  const name = opts.name ?? `${opts.layer}-${opts.host}-${opts.port}`;
  const prefix = path.join(opts.rootDir, `nginx-${name}`);
  const logs = path.join(prefix, 'logs');
  mkdirSync(logs, { recursive: true });
  const confPath = path.join(prefix, 'nginx.conf');
  const errorLog = path.join(logs, 'error.log');
  let spec = opts.spec;
  let tier = opts.tier ?? localTier(spec);
  let input: NginxConfigInput = {
    layer: opts.layer,
    listenAddress: opts.host,
    port: opts.port,
    metricsPort: opts.metricsPort ?? HTTP_METRICS_PORTS.openresty,
    luaDir: OPENRESTY_LUA_SRC,
    testLuaDir: OPENRESTY_TEST_LUA_SRC,
    workerProcesses: 2,
    runDir: prefix,
    redisSeeds: [],
    producerUrl: 'http://127.0.0.1:9',
    kafkaBrokers: [],
    memberName: `${opts.host}:${opts.port}`,
    errorLog,
    errorLogLevel: 'warn',
    testEndpoints: true,
    ...redisAuthFile(prefix, opts.layer, opts.redisPassword),
    ...opts.input,
  };
  const write = () => writeFileSync(confPath, renderNginxConf(tier, input));
  write();
  const url = `http://${opts.host}:${opts.port}`;
  const proc = startProcess(name, 'nginx', ['-p', prefix, '-c', confPath, '-e', errorLog, '-g', 'daemon off;'], {
    logDir: opts.rootDir,
    env: opts.env,
  });
  const timeout = opts.startTimeoutMs ?? 20_000;
  await waitFor(
    `nginx ${name} /healthz (${errorLog})`,
    async () => {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
        throw new Error(`nginx ${name} exited early; see ${errorLog} and ${proc.logFile}`);
      }
      return healthy(url);
    },
    timeout,
  );
  const handle: OpenRestyHandle = {
    url,
    host: opts.host,
    port: opts.port,
    get metricsPort() {
      return input.metricsPort;
    },
    get metricsUrl() {
      return `http://${opts.host}:${input.metricsPort}/metrics`;
    },
    prefix,
    confPath,
    errorLog,
    proc,
    get input() {
      return input;
    },
    async reload(more?: Partial<NginxConfigInput>, moreSpec?: DeepPartial<CacheTierSpec>) {
      if (more) input = { ...input, ...more };
      if (moreSpec) {
        spec = { ...(spec ?? {}), ...moreSpec };
        tier = localTier(spec);
      }
      write();
      process.kill(proc.pid, 'SIGHUP');
      // new workers start with the new config; old ones finish their requests and exit
      await new Promise((r) => setTimeout(r, 500));
      await waitFor(`nginx ${name} /healthz after reload`, () => healthy(url), timeout);
    },
    async stop() {
      await proc.kill('SIGQUIT', 5000);
    },
  };
  return handle;
}
