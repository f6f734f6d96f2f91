// The per-component ingress NetworkPolicies: who each component admits, on which ports, where the
// CR's peers land, and that switching them off renders none.
import { renderAll, renderNetworkPolicies, renderContext } from '../../../src/render/index.js';
import { DEFAULT_OPERATOR_IDENTITY, type IngressRule, type RenderedNetworkPolicy } from '../../../src/render/networkpolicy.js';
import { makeTier, type SpecPatch } from './helpers.js';
import type { NetworkPolicyPeer } from '../../../src/api/types.js';

const OP = { namespace: 'ops', podLabels: { 'app.kubernetes.io/name': 'cachetier-operator', 'app.kubernetes.io/instance': 'ct' } };
const OP_PEER = {
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ops' } },
  podSelector: { matchLabels: OP.podLabels },
};

function policies(spec: SpecPatch = {}): Map<string, RenderedNetworkPolicy> {
  const ctx = renderContext({ operator: OP });
  return new Map(renderNetworkPolicies(makeTier(spec), ctx).map((p) => [p.metadata.name, p]));
}

const peer = (component: string): NetworkPolicyPeer => ({
  podSelector: { matchLabels: { 'app.kubernetes.io/name': component, 'app.kubernetes.io/instance': 'shop' } },
});

/** port -> the peers admitted on it ('*' = anyone). */
function admitted(p: RenderedNetworkPolicy): Map<number, unknown[]> {
  const out = new Map<number, unknown[]>();
  for (const r of p.spec.ingress as IngressRule[]) {
    for (const port of r.ports) {
      expect(port.protocol).toBe('TCP');
      out.set(port.port, [...(out.get(port.port) ?? []), ...(r.from ?? ['*'])]);
    }
  }
  return out;
}

describe('NetworkPolicies (rendered by default)', () => {
  const all = policies();

  test('one per component, each selecting exactly its pods, Ingress only, owned by the tier', () => {
    expect([...all.keys()]).toEqual([
      'shop-zookeeper',
      'shop-kafka',
      'shop-redis',
      'shop-producer',
      'shop-openresty-distribution',
      'shop-openresty-app',
    ]);
    for (const [name, p] of all) {
      const component = name.slice('shop-'.length);
      expect(p.apiVersion).toBe('networking.k8s.io/v1');
      expect(p.metadata.namespace).toBe('prod');
      expect(p.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'CacheTier', name: 'shop', controller: true })]);
      expect(p.spec.podSelector).toEqual(peer(component).podSelector);
      expect(p.spec.policyTypes).toEqual(['Ingress']);
      expect(Object.keys(p.spec).sort()).toEqual(['ingress', 'podSelector', 'policyTypes']);
    }
  });

  test('ZooKeeper: peers on client, quorum and election ports; Kafka, the producer and the operator on the client port only', () => {
    const a = admitted(all.get('shop-zookeeper')!);
    expect([...a.keys()].sort()).toEqual([2181, 2888, 3888]);
    expect(a.get(2888)).toEqual([peer('zookeeper')]);
    expect(a.get(3888)).toEqual([peer('zookeeper')]);
    expect(a.get(2181)).toEqual([peer('zookeeper'), peer('kafka'), peer('producer'), OP_PEER]);
  });

  test('Kafka: its peers, the producer, the app layer (access log), the operator; no sources unless named', () => {
    const a = admitted(all.get('shop-kafka')!);
    expect([...a.keys()]).toEqual([9092]);
    expect(a.get(9092)).toEqual([peer('kafka'), peer('producer'), peer('openresty-app'), OP_PEER]);
  });

  test('Redis: its peers on the client and cluster-bus ports; app, distribution, producer and operator on the client port', () => {
    const a = admitted(all.get('shop-redis')!);
    expect([...a.keys()].sort()).toEqual([16379, 6379]);
    expect(a.get(16379)).toEqual([peer('redis')]);
    expect(a.get(6379)).toEqual([peer('redis'), peer('openresty-app'), peer('openresty-distribution'), peer('producer'), OP_PEER]);
  });

  test('the producer (L3) only from the app layer and the operator (ChangesFlowing); the app layer only from the distribution layer', () => {
    expect(admitted(all.get('shop-producer')!)).toEqual(new Map([[8080, [peer('openresty-app'), OP_PEER]]]));
    expect(admitted(all.get('shop-openresty-app')!)).toEqual(new Map([[8080, [peer('openresty-distribution')]]]));
  });

  test('the distribution layer: from anywhere by default (a rule with no from); no metrics port without monitoring', () => {
    const p = all.get('shop-openresty-distribution')!;
    expect(p.spec.ingress).toEqual([{ ports: [{ protocol: 'TCP', port: 8080 }] }]);
  });

  test('the /metrics ports admit no one without spec.networkPolicy.monitoring (not even the tier)', () => {
    for (const p of all.values()) for (const port of admitted(p).keys()) expect([9464, 9145]).not.toContain(port);
  });

  test('nothing but the operator comes from outside the tier namespace by default', () => {
    for (const p of all.values()) {
      for (const r of p.spec.ingress) {
        for (const f of r.from ?? []) {
          if (f.namespaceSelector) expect(f).toEqual(OP_PEER);
        }
      }
    }
  });

  test('the operator peer defaults to the chart (cachetier-system, app.kubernetes.io/name=cachetier-operator)', () => {
    const p = renderAll(makeTier()).find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'shop-kafka') as RenderedNetworkPolicy;
    expect(p.spec.ingress[0].from).toContainEqual({
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': DEFAULT_OPERATOR_IDENTITY.namespace } },
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'cachetier-operator' } },
    });
  });
});

describe('NetworkPolicies: what the CR names', () => {
  const SOURCES: NetworkPolicyPeer[] = [
    { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'source-service' } } },
    { namespaceSelector: { matchLabels: { team: 'catalog' } }, podSelector: { matchExpressions: [{ key: 'role', operator: 'In', values: ['source'] }] } },
  ];
  const REDIS_CLIENTS: NetworkPolicyPeer[] = [{ podSelector: { matchLabels: { 'app.kubernetes.io/part-of': 'cachetier-e2e' } } }];
  const CLIENTS: NetworkPolicyPeer[] = [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress' } } }, { ipBlock: { cidr: '10.0.0.0/8' } }];
  const MONITORING: NetworkPolicyPeer[] = [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { app: 'prometheus' } } }];
  const named = policies({ networkPolicy: { sources: SOURCES, redisClients: REDIS_CLIENTS, clients: CLIENTS, monitoring: MONITORING } });

  test('sources land on Kafka only', () => {
    expect(admitted(named.get('shop-kafka')!).get(9092)).toEqual([peer('kafka'), peer('producer'), peer('openresty-app'), OP_PEER, ...SOURCES]);
    for (const [name, p] of named) if (name !== 'shop-kafka') expect(JSON.stringify(p)).not.toContain('source-service');
  });

  test("redisClients land on Redis's client port only, never the cluster bus", () => {
    const a = admitted(named.get('shop-redis')!);
    expect(a.get(6379)).toEqual(expect.arrayContaining(REDIS_CLIENTS));
    expect(a.get(16379)).toEqual([peer('redis')]);
    for (const [name, p] of named) if (name !== 'shop-redis') expect(JSON.stringify(p)).not.toContain('cachetier-e2e');
  });

  test('clients replace "anyone" at the distribution layer', () => {
    expect(admitted(named.get('shop-openresty-distribution')!).get(8080)).toEqual(CLIENTS);
  });

  test('monitoring lands on the /metrics ports (producer 9464, both OpenResty layers 9145) and on the exporter ports, nowhere else', () => {
    expect(admitted(named.get('shop-producer')!)).toEqual(
      new Map<number, unknown[]>([
        [8080, [peer('openresty-app'), OP_PEER]],
        [9464, MONITORING],
      ]),
    );
    expect(admitted(named.get('shop-openresty-app')!)).toEqual(
      new Map<number, unknown[]>([
        [8080, [peer('openresty-distribution')]],
        [9145, MONITORING],
      ]),
    );
    expect(admitted(named.get('shop-openresty-distribution')!)).toEqual(
      new Map<number, unknown[]>([
        [8080, CLIENTS],
        [9145, MONITORING],
      ]),
    );
    expect(admitted(named.get('shop-zookeeper')!).get(7000)).toEqual(MONITORING);
    expect(admitted(named.get('shop-kafka')!).get(9404)).toEqual(MONITORING);
    expect(admitted(named.get('shop-redis')!).get(9121)).toEqual(MONITORING);
    for (const [name, port] of [['shop-zookeeper', 2181], ['shop-kafka', 9092], ['shop-redis', 6379]] as const) {
      expect(JSON.stringify(admitted(named.get(name)!).get(port))).not.toContain('prometheus');
    }
    // Exporters off: no exporter port is opened.
    const off = policies({ networkPolicy: { monitoring: MONITORING }, metrics: { enabled: false } });
    for (const name of ['shop-zookeeper', 'shop-kafka', 'shop-redis']) expect(JSON.stringify(off.get(name))).not.toContain('prometheus');
  });

  test('monitoring alone leaves the distribution layer open to anyone on 8080, its metrics port to monitoring only', () => {
    const p = policies({ networkPolicy: { monitoring: MONITORING } }).get('shop-openresty-distribution')!;
    expect(p.spec.ingress).toEqual([{ ports: [{ protocol: 'TCP', port: 8080 }] }, { from: MONITORING, ports: [{ protocol: 'TCP', port: 9145 }] }]);
  });

  test('rendered peers are copies: editing one never changes the spec', () => {
    const tier = makeTier({ networkPolicy: { sources: SOURCES } });
    const [, kafka] = renderNetworkPolicies(tier, renderContext({ operator: OP }));
    (kafka.spec.ingress[0].from![4].podSelector!.matchLabels as Record<string, string>).x = 'y';
    expect(tier.spec.networkPolicy.sources[0].podSelector?.matchLabels).toEqual({ 'app.kubernetes.io/name': 'source-service' });
  });
});

describe('spec.networkPolicy.enabled: false', () => {
  test('renders no NetworkPolicy, and every other child unchanged', () => {
    const on = renderAll(makeTier());
    const off = renderAll(makeTier({ networkPolicy: { enabled: false } }));
    expect(off.filter((o) => o.kind === 'NetworkPolicy')).toEqual([]);
    expect(off).toEqual(on.filter((o) => o.kind !== 'NetworkPolicy'));
  });
});
