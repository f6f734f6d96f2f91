// Every rendered object survives a round trip through @kubernetes/client-node's generated
// models (the Kubernetes OpenAPI types): a misspelled or misplaced field would be dropped and
// the objects would differ. Server-side apply would reject such a field (or silently own junk).
import { ObjectSerializer } from '@kubernetes/client-node/dist/gen/models/ObjectSerializer.js';
import { renderAll } from '../../../src/render/index.js';
import { makeTier, type SpecPatch } from './helpers.js';

const MODEL: Record<string, string> = {
  'v1/ConfigMap': 'V1ConfigMap',
  'v1/Service': 'V1Service',
  'apps/v1/StatefulSet': 'V1StatefulSet',
  'apps/v1/Deployment': 'V1Deployment',
  'policy/v1/PodDisruptionBudget': 'V1PodDisruptionBudget',
  'networking.k8s.io/v1/NetworkPolicy': 'V1NetworkPolicy',
};

describe.each([
  ['defaults', {}],
  ['auth + hard anti-affinity + storage class', { podAntiAffinity: 'hard', redis: { auth: { passwordSecretRef: { name: 's', key: 'k' } }, storage: { storageClassName: 'fast', size: '2Gi', persistent: true } } }],
  ['ephemeral storage', { zookeeper: { storage: { persistent: false, size: '1Gi' } } }],
  [
    'network policy peers named',
    {
      networkPolicy: {
        clients: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }],
        sources: [{ namespaceSelector: { matchLabels: { team: 'catalog' } }, podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['source'] }] } }],
        redisClients: [{ podSelector: { matchLabels: { role: 'debug' } } }],
        monitoring: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
      },
    },
  ],
] as const)('OpenAPI round trip: %s', (_n, spec) => {
  const objs = renderAll(makeTier(spec as SpecPatch));
  test.each(objs.map((o) => [`${o.kind}/${o.metadata.name}`, o] as const))('%s has only known fields', (_id, o) => {
    const model = MODEL[`${o.apiVersion}/${o.kind}`];
    expect(model).toBeDefined();
    const typed = ObjectSerializer.deserialize(o, model, '');
    const back = JSON.parse(JSON.stringify(ObjectSerializer.serialize(typed, model, '')));
    expect(back).toEqual(o);
  });

  test('the round trip would catch an unknown field', () => {
    const sts = structuredClone(objs.find((o) => o.kind === 'StatefulSet')!) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    sts.spec.template.spec.containers[0].readinesProbe = sts.spec.template.spec.containers[0].readinessProbe;
    const back = ObjectSerializer.serialize(ObjectSerializer.deserialize(sts, 'V1StatefulSet', ''), 'V1StatefulSet', '');
    expect(JSON.parse(JSON.stringify(back))).not.toEqual(sts);
  });
});
