import { configFromEnv } from '../../../src/runtime/config.js';
import { ownerKey, tierKey } from '../../../src/runtime/informers.js';
import { parseAddr, startServers } from '../../../src/runtime/servers.js';
import { Registry, Counter } from 'prom-client';

describe('configFromEnv (operator process contract)', () => {
  test('defaults', () => {
    const c = configFromEnv({ POD_NAMESPACE: 'cachetier-system', POD_NAME: 'op-0' });
    expect(c).toMatchObject({
      watchNamespaces: [],
      podNamespace: 'cachetier-system',
      podName: 'op-0',
      leaderElect: true,
      leaseNamespace: 'cachetier-system',
      leaseName: 'cachetier-operator',
      metricsAddr: ':8080',
      healthAddr: ':8081',
      logLevel: 'info',
      resyncSeconds: 300,
    });
  });
  test('overrides and validation', () => {
    const c = configFromEnv({ WATCH_NAMESPACE: 'shop', LEADER_ELECT: 'false', LEADER_ELECTION_NAMESPACE: 'x', RESYNC_SECONDS: '30' });
    expect(c).toMatchObject({ watchNamespaces: ['shop'], leaderElect: false, leaseNamespace: 'x', resyncSeconds: 30 });
    expect(() => configFromEnv({ LEADER_ELECT: 'yes' })).toThrow(/LEADER_ELECT/);
    expect(configFromEnv({ WATCH_NAMESPACE: ' shop, ops ,shop,' }).watchNamespaces).toEqual(['shop', 'ops']);
    expect(() => configFromEnv({ WATCH_NAMESPACE: 'shop,Not_A_Namespace' })).toThrow(/WATCH_NAMESPACE/);
    expect(() => configFromEnv({ RESYNC_SECONDS: 'soon' })).toThrow(/RESYNC_SECONDS/);
  });

  test('OPERATOR_POD_LABELS: the labels the tier NetworkPolicies admit (default: the chart name label)', () => {
    expect(configFromEnv({}).podLabels).toEqual({ 'app.kubernetes.io/name': 'cachetier-operator' });
    expect(configFromEnv({ OPERATOR_POD_LABELS: 'app.kubernetes.io/name=cachetier-operator, app.kubernetes.io/instance=ct' }).podLabels).toEqual({
      'app.kubernetes.io/name': 'cachetier-operator',
      'app.kubernetes.io/instance': 'ct',
    });
    expect(() => configFromEnv({ OPERATOR_POD_LABELS: 'just-a-name' })).toThrow(/OPERATOR_POD_LABELS/);
  });
});

describe('informer event -> CacheTier key', () => {
  test('a CacheTier maps to itself', () => {
    expect(tierKey({ metadata: { name: 'shop', namespace: 'ns' } })).toBe('ns/shop');
  });
  test('a child maps to its CacheTier owner; a pod (owned by a StatefulSet) by its instance label', () => {
    expect(
      ownerKey({
        metadata: {
          namespace: 'ns',
          ownerReferences: [{ apiVersion: 'cachetier.io/v1alpha1', kind: 'CacheTier', name: 'shop' }],
          labels: { 'app.kubernetes.io/instance': 'other' },
        },
      }),
    ).toBe('ns/shop');
    expect(
      ownerKey({
        metadata: {
          namespace: 'ns',
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'shop-redis' }],
          labels: { 'app.kubernetes.io/instance': 'shop' },
        },
      }),
    ).toBe('ns/shop');
    expect(ownerKey({ metadata: { namespace: 'ns', labels: {} } })).toBeUndefined();
  });
});

describe('servers', () => {
  test('parseAddr', () => {
    expect(parseAddr(':8080')).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(parseAddr('127.0.0.1:9')).toEqual({ host: '127.0.0.1', port: 9 });
    expect(parseAddr('[::1]:80')).toEqual({ host: '::1', port: 80 });
    expect(() => parseAddr('8080')).toThrow(/bad listen address/);
  });

  test('/metrics, /healthz and /readyz (503 until ready)', async () => {
    const registry = new Registry();
    new Counter({ name: 'cachetier_test_total', help: 'x', registers: [registry] }).inc(3);
    let ready = false;
    const s = await startServers({
      metricsAddr: '127.0.0.1:0',
      healthAddr: '127.0.0.2:0',
      registry,
      ready: () => ({ ok: ready, detail: ready ? 'synced' : 'not synced' }),
    });
    try {
      expect(await (await fetch(`${s.metricsUrl}/metrics`)).text()).toMatch(/cachetier_test_total 3/);
      expect((await fetch(`${s.healthUrl}/healthz`)).status).toBe(200);
      expect((await fetch(`${s.healthUrl}/readyz`)).status).toBe(503);
      ready = true;
      expect((await fetch(`${s.healthUrl}/readyz`)).status).toBe(200);
      expect((await fetch(`${s.healthUrl}/metrics`)).status).toBe(404);
    } finally {
      await s.close();
    }
  });
});
