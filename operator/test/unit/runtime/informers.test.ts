// The InformerSet against a tiny HTTP API server that records what it is asked: a namespaced
// install (WATCH_NAMESPACE="a,b") lists and watches only inside its namespaces, never
// cluster-wide (its RBAC is Roles in those namespaces), and enqueues the CacheTiers of each.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { InformerSet } from '../../../src/runtime/informers.js';

interface Fake {
  url: string;
  paths: string[];
  close(): Promise<void>;
}

async function fakeApi(tiers: Record<string, string[]>): Promise<Fake> {
  const paths: string[] = [];
  const open = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    paths.push(`${u.pathname}${u.searchParams.get('watch') ? '?watch' : ''}`);
    if (u.searchParams.get('watch')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      open.add(res); // a watch that stays open and quiet
      res.on('close', () => open.delete(res));
      return;
    }
    const m = /^\/apis\/cachetier\.io\/v1alpha1\/namespaces\/([^/]+)\/cachetiers$/.exec(u.pathname);
    const items = m
      ? (tiers[m[1]] ?? []).map((name) => ({ apiVersion: 'cachetier.io/v1alpha1', kind: 'CacheTier', metadata: { name, namespace: m[1], resourceVersion: '1' } }))
      : [];
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '1' }, items }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    paths,
    close: async () => {
      for (const r of open) r.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function kubeConfig(server: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

describe('InformerSet namespaces', () => {
  test('a namespace list: every list and watch is inside a watched namespace; CacheTiers of each are enqueued', async () => {
    const api = await fakeApi({ a: ['t1'], b: ['t2'], other: ['nope'] });
    const keys = new Set<string>();
    const set = new InformerSet({ kc: kubeConfig(api.url), namespaces: ['a', 'b'], enqueue: (k) => keys.add(k), resyncSeconds: 0 });
    try {
      await set.start();
      expect(set.synced).toBe(true);
      await set.resync();
      expect([...keys].sort()).toEqual(['a/t1', 'b/t2']);
      expect(api.paths.length).toBeGreaterThan(0);
      const outside = api.paths.filter((p) => !/\/namespaces\/(a|b)\//.test(p));
      expect(outside).toEqual([]);
      for (const ns of ['a', 'b']) {
        for (const r of ['cachetiers', 'statefulsets', 'deployments', 'pods']) {
          expect(api.paths.some((p) => p.includes(`/namespaces/${ns}/${r}`))).toBe(true);
        }
      }
    } finally {
      await set.stop();
      await api.close();
    }
  }, 20_000);

  test('no list: cluster-wide lists and watches (the default install)', async () => {
    const api = await fakeApi({});
    const set = new InformerSet({ kc: kubeConfig(api.url), namespaces: [], enqueue: () => undefined, resyncSeconds: 0 });
    try {
      await set.start();
      expect(api.paths.some((p) => p.includes('/namespaces/'))).toBe(false);
      expect(api.paths).toEqual(expect.arrayContaining(['/apis/cachetier.io/v1alpha1/cachetiers', '/apis/apps/v1/statefulsets', '/api/v1/pods']));
    } finally {
      await set.stop();
      await api.close();
    }
  }, 20_000);
});
