// nginx.conf for the OpenResty distribution and app layers.
// OWNER: workloads/openresty (issue 5). This file is the contract; the body is filled in there.
import type { ResolvedCacheTier } from '../../api/types.js';

export type OpenRestyLayer = 'distribution' | 'app';

export interface NginxConfigInput {
  layer: OpenRestyLayer;
  listenAddress: string;
  port: number;
  /** Directory holding the project's Lua modules (workloads/openresty/lua in tests, /opt/cachetier/lua in the image). */
  luaDir: string;
  workerProcesses: number | 'auto';
  /** Writable paths: pid, temp dirs, logs (the image runs non-root with a read-only root fs). */
  runDir: string;
  /** DNS resolver for pods (kube-dns); omitted in the integration tier. */
  resolver?: string;
  /** Distribution layer: app-layer members, static list or a DNS name re-resolved on a timer. */
  appUpstream?: { kind: 'static'; servers: string[] } | { kind: 'dns'; name: string; port: number };
  redisSeeds: string[];
  /** Read the Redis password from this environment variable (declared with `env` in nginx.conf). */
  redisPasswordEnv?: string;
  producerUrl: string;
  kafkaBrokers: string[];
}

export const OPENRESTY_PORT = 8080;

export function renderNginxConf(tier: ResolvedCacheTier, input: NginxConfigInput): string {
  // Placeholder until workloads/openresty lands: a valid config that serves /healthz.
  void tier;
  return [
    `worker_processes ${input.workerProcesses};`,
    `pid ${input.runDir}/nginx.pid;`,
    'events { worker_connections 1024; }',
    'http {',
    `  server { listen ${input.listenAddress}:${input.port}; location = /healthz { return 200 "ok\\n"; } }`,
    '}',
    '',
  ].join('\n');
}
