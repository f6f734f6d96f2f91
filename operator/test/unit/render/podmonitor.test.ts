// PodMonitors: rendered only when the cluster serves the Prometheus Operator's PodMonitor API and
// the CR does not turn them off; one per component that exports metrics, selecting exactly that
// component's pods, on the container port that really serves /metrics, with the job names the
// shipped alerts and dashboards match and the user's labels.
import { renderAll, renderContext, renderPodMonitors } from '../../../src/render/index.js';
import { scrapeJob, type RenderedPodMonitor } from '../../../src/render/podmonitor.js';
import { makeTier, type J, type SpecPatch } from './helpers.js';

const monitors = (spec: SpecPatch = {}, podMonitorApi = true): RenderedPodMonitor[] => renderPodMonitors(makeTier(spec), renderContext({ podMonitorApi }));
const names = (ms: { metadata: { name: string } }[]) => ms.map((m) => m.metadata.name);
const ALL = ['shop-zookeeper', 'shop-kafka', 'shop-redis', 'shop-producer', 'shop-openresty-distribution', 'shop-openresty-app'];

/** The container ports (name -> number) of a component's pods, from the rendered workload. */
function podPorts(objs: J[], component: string): Map<string, number> {
  const w = objs.find((o) => (o.kind === 'StatefulSet' || o.kind === 'Deployment') && o.metadata.name === `shop-${component}`);
  const out = new Map<string, number>();
  for (const c of w.spec.template.spec.containers as { ports?: { name: string; containerPort: number }[] }[]) {
    for (const p of c.ports ?? []) out.set(p.name, p.containerPort);
  }
  return out;
}

describe('PodMonitors', () => {
  test('none without the PodMonitor API (the default), even when the CR asks for them', () => {
    expect(monitors({}, false)).toEqual([]);
    expect(monitors({ metrics: { podMonitor: { enabled: true } } }, false)).toEqual([]);
    expect(renderAll(makeTier()).filter((o) => o.kind === 'PodMonitor')).toEqual([]);
  });

  test('with the API: one per component, owned by the tier, after every other child in renderAll', () => {
    const ms = monitors();
    expect(names(ms)).toEqual(ALL);
    for (const m of ms) {
      expect(m.apiVersion).toBe('monitoring.coreos.com/v1');
      expect(m.metadata.namespace).toBe('prod');
      expect(m.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'CacheTier', name: 'shop', controller: true })]);
    }
    const all = renderAll(makeTier(), { podMonitorApi: true });
    expect(all.slice(-6).map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(ALL.map((n) => `PodMonitor/${n}`));
  });

  test('each selects exactly its component\'s pods, on a port those pods declare, path /metrics', () => {
    const objs = renderAll(makeTier(), { podMonitorApi: true });
    const expected: Record<string, [string, number]> = {
      zookeeper: ['metrics', 7000],
      kafka: ['metrics', 9404],
      redis: ['metrics', 9121],
      producer: ['metrics', 9464],
      'openresty-distribution': ['metrics', 9145],
      'openresty-app': ['metrics', 9145],
    };
    for (const m of objs.filter((o): o is RenderedPodMonitor => o.kind === 'PodMonitor')) {
      const c = m.metadata.name.slice('shop-'.length);
      expect(m.spec.selector).toEqual({ matchLabels: { 'app.kubernetes.io/name': c, 'app.kubernetes.io/instance': 'shop' } });
      const [ep] = m.spec.podMetricsEndpoints;
      expect(m.spec.podMetricsEndpoints).toHaveLength(1);
      expect(ep.path).toBe('/metrics');
      expect([ep.port, podPorts(objs, c).get(ep.port)]).toEqual(expected[c]);
    }
  });

  test('the job label is the one the rules and dashboards match; the tier name lands in a label', () => {
    const jobs = monitors().map((m) => m.spec.podMetricsEndpoints[0].relabelings.find((r) => r.targetLabel === 'job')?.replacement);
    expect(jobs).toEqual(['cachetier-zookeeper', 'cachetier-kafka', 'cachetier-redis', 'cachetier-producer', 'cachetier-openresty', 'cachetier-openresty']);
    expect(scrapeJob('openresty-app')).toBe('cachetier-openresty');
    for (const m of monitors()) {
      expect(m.spec.podMetricsEndpoints[0].relabelings).toContainEqual({
        sourceLabels: ['__meta_kubernetes_pod_label_app_kubernetes_io_instance'],
        targetLabel: 'cachetier',
        action: 'replace',
      });
    }
  });

  test('the user\'s labels are on every PodMonitor; the operator\'s own labels win a clash', () => {
    const ms = monitors({ metrics: { podMonitor: { labels: { release: 'kube-prometheus', 'app.kubernetes.io/instance': 'evil' } } } });
    for (const m of ms) {
      expect(m.metadata.labels?.release).toBe('kube-prometheus');
      expect(m.metadata.labels?.['app.kubernetes.io/instance']).toBe('shop');
      expect(m.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('cachetier-operator');
    }
  });

  test('podMonitor.enabled false: none; metrics.enabled false: only the producer and OpenResty (the exporters are gone)', () => {
    expect(monitors({ metrics: { podMonitor: { enabled: false } } })).toEqual([]);
    expect(names(monitors({ metrics: { enabled: false } }))).toEqual(['shop-producer', 'shop-openresty-distribution', 'shop-openresty-app']);
  });

  test('pure: the same tier renders the same PodMonitors, never aliasing the spec', () => {
    const t = makeTier({ metrics: { podMonitor: { labels: { a: 'b' } } } });
    const a = renderPodMonitors(t, { podMonitorApi: true });
    expect(renderPodMonitors(t, { podMonitorApi: true })).toEqual(a);
    a[0].metadata.labels!.a = 'changed';
    expect(t.spec.metrics.podMonitor.labels.a).toBe('b');
  });
});
