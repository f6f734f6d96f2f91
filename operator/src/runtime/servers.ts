// The operator's two small HTTP servers: /metrics on METRICS_ADDR, /healthz and /readyz on
// HEALTH_ADDR (both may be the same address). /healthz: the process is alive. /readyz: the
// informers have synced (leader) or the process is a standby waiting for the lease.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** ":8080" -> all interfaces; "127.0.0.1:8080"; "[::1]:8080". */
export function parseAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr.trim());
  if (!m) throw new Error(`bad listen address "${addr}" (want host:port or :port)`);
  const host = m[1] ?? m[2] ?? '';
  return { host: host || '0.0.0.0', port: Number(m[3]) };
}

export interface Servers {
  metricsUrl: string;
  healthUrl: string;
  close(): Promise<void>;
}

export interface ServersOptions {
  metricsAddr: string;
  healthAddr: string;
  registry: Registry;
  ready: () => { ok: boolean; detail: string };
}

function listen(server: http.Server, addr: string): Promise<string> {
  const { host, port } = parseAddr(addr);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      resolve(`http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`);
    });
  });
}

export async function startServers(opts: ServersOptions): Promise<Servers> {
  const handler = (withMetrics: boolean, withHealth: boolean) => async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (withMetrics && path === '/metrics') {
        const body = await opts.registry.metrics();
        res.writeHead(200, { 'content-type': opts.registry.contentType });
        res.end(body);
        return;
      }
      if (withHealth && path === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok\n');
        return;
      }
      if (withHealth && path === '/readyz') {
        const r = opts.ready();
        res.writeHead(r.ok ? 200 : 503, { 'content-type': 'text/plain' });
        res.end(`${r.detail}\n`);
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`${err instanceof Error ? err.message : String(err)}\n`);
    }
  };
  const same = opts.metricsAddr === opts.healthAddr;
  const servers: http.Server[] = [];
  const metrics = http.createServer(handler(true, same));
  servers.push(metrics);
  const metricsUrl = await listen(metrics, opts.metricsAddr);
  let healthUrl = metricsUrl;
  if (!same) {
    const health = http.createServer(handler(false, true));
    servers.push(health);
    try {
      healthUrl = await listen(health, opts.healthAddr);
    } catch (err) {
      metrics.close();
      throw err;
    }
  }
  return {
    metricsUrl,
    healthUrl,
    close: () =>
      Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeAllConnections?.();
            }),
        ),
      ).then(() => undefined),
  };
}
