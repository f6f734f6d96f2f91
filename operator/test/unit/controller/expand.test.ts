// Volume expansion: when the operator grows volumes itself, when it leaves the steps to the user
// (and says why), and that the StatefulSet is re-created only after the PVCs were raised.
import { resolve } from '../../../src/api/defaults.js';
import { expandVolumes, classFor, claimsOf } from '../../../src/controller/steps/expand.js';
import { volumesCondition, type ClaimTemplateChange } from '../../../src/controller/volumes.js';
import type { ChildState } from '../../../src/controller/steps/apply.js';
import type { KObject } from '../../../src/runtime/kube.js';
import { FakeKube } from '../runtime/fake-kube.js';
import { NAME, NS, makeTier } from './helpers.js';

const STS = `${NAME}-zookeeper`;
const tier = resolve(makeTier());
const LABELS = { 'app.kubernetes.io/name': 'zookeeper', 'app.kubernetes.io/instance': NAME };

function statefulSet(size: string, storageClassName?: string): KObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: STS, namespace: NS },
    spec: {
      replicas: 3,
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { ...(storageClassName ? { storageClassName } : {}), resources: { requests: { storage: size } } } }],
    },
  };
}

function setup(o: { allow: boolean; default?: boolean; className?: string }) {
  const kube = new FakeKube();
  kube.storageClasses = [{ name: 'std', isDefault: o.default ?? true, allowVolumeExpansion: o.allow }];
  kube.claims = [0, 1, 2].map((i) => ({ name: `data-${STS}-${i}`, namespace: NS, labels: LABELS, storageClassName: 'std', request: '1Gi', capacity: '1Gi' }));
  for (const c of kube.claims) kube.put({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: c.name, namespace: NS }, spec: { resources: { requests: { storage: '1Gi' } } } });
  kube.put(statefulSet('1Gi', o.className));
  const rendered = statefulSet('2Gi', o.className);
  const children = new Map<string, ChildState>([[`StatefulSet/${STS}`, { rendered: rendered as never, live: statefulSet('1Gi', o.className) }]]);
  const change: ClaimTemplateChange = { statefulSet: STS, changes: ['data: size 1Gi -> 2Gi'], growOnly: true };
  return { kube, children, change };
}

describe('expandVolumes', () => {
  test('StorageClass allows expansion: every PVC raised, then the StatefulSet deleted (orphan) and created with the new template', async () => {
    const { kube, children, change } = setup({ allow: true });
    const out = await expandVolumes(kube, tier, { changes: [change], children, goneTimeoutMs: 0 });
    expect(out.errors).toEqual([]);
    expect(out.expanded).toEqual([STS]);
    expect(kube.writes.map((w) => `${w.verb} ${w.kind} ${w.name}`)).toEqual([
      `apply PersistentVolumeClaim data-${STS}-0`,
      `apply PersistentVolumeClaim data-${STS}-1`,
      `apply PersistentVolumeClaim data-${STS}-2`,
      `delete-orphan StatefulSet ${STS}`,
      `create StatefulSet ${STS}`,
    ]);
    expect(kube.writes[0].body).toEqual({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: `data-${STS}-0`, namespace: NS }, spec: { resources: { requests: { storage: '2Gi' } } } });
    expect((kube.find('StatefulSet', STS)!.spec as { volumeClaimTemplates: { spec: { resources: { requests: { storage: string } } } }[] }).volumeClaimTemplates[0].spec.resources.requests.storage).toBe('2Gi');
    expect(out.events.map((e) => e.reason)).toEqual(['VolumesExpanded']);
    expect(volumesCondition([change], NS, out)).toMatchObject({ status: 'False', reason: 'Expanding' });
  });

  test('a PVC already at the new size is not written again', async () => {
    const { kube, children, change } = setup({ allow: true });
    kube.claims[1].request = '2Gi';
    await expandVolumes(kube, tier, { changes: [change], children, goneTimeoutMs: 0 });
    expect(kube.writes.filter((w) => w.kind === 'PersistentVolumeClaim').map((w) => w.name)).toEqual([`data-${STS}-0`, `data-${STS}-2`]);
  });

  test('StorageClass without expansion: nothing written, the condition keeps the manual steps and says why', async () => {
    const { kube, children, change } = setup({ allow: false });
    const out = await expandVolumes(kube, tier, { changes: [change], children });
    expect(kube.writes).toEqual([]);
    const c = volumesCondition([change], NS, out);
    expect(c).toMatchObject({ status: 'False', reason: 'ExpansionNeedsSteps' });
    expect(c.message).toContain('StorageClass std does not allow volume expansion');
    expect(c.message).toContain('--cascade=orphan');
  });

  test('no class named and no default StorageClass: not automatic', async () => {
    const { kube, children, change } = setup({ allow: true, default: false });
    kube.claims = kube.claims.map(({ storageClassName: _s, ...c }) => c);
    const out = await expandVolumes(kube, tier, { changes: [change], children });
    expect(kube.writes).toEqual([]);
    expect(out.notes.get(STS)).toContain('does not allow volume expansion');
  });

  test('waits while the component rolls, and Redis while its orchestration is busy', async () => {
    const { kube, children, change } = setup({ allow: true });
    const rolling = await expandVolumes(kube, tier, { changes: [change], children, rolling: 'zookeeper' });
    expect(rolling.notes.get(STS)).toBe('the expansion waits for the zookeeper roll');
    expect(kube.writes).toEqual([]);
  });

  test('a shrink or class change is never attempted', async () => {
    const { kube, children, change } = setup({ allow: true });
    const out = await expandVolumes(kube, tier, { changes: [{ ...change, growOnly: false }], children });
    expect(out).toEqual({ expanded: [], notes: new Map(), events: [], errors: [] });
    expect(kube.writes).toEqual([]);
  });
});

describe('helpers', () => {
  test('claims of a template: <template>-<statefulset>-<ordinal> only', () => {
    const claims = ['data-shop-zookeeper-0', 'data-shop-zookeeper-12', 'data-shop-zookeeper-x', 'data-shop-zookeeper-0-old', 'logs-shop-zookeeper-0'].map((name) => ({ name }));
    expect(claimsOf('data', 'shop-zookeeper', claims).map((c) => c.name)).toEqual(['data-shop-zookeeper-0', 'data-shop-zookeeper-12']);
  });

  test('the class: the template\'s, else the claims\', else the default', () => {
    const classes = [
      { name: 'a', isDefault: false, allowVolumeExpansion: true },
      { name: 'b', isDefault: true, allowVolumeExpansion: false },
    ];
    expect(classFor({ spec: { storageClassName: 'a' } }, [], classes)?.name).toBe('a');
    expect(classFor({ spec: {} }, [{ name: 'x', storageClassName: 'a' }], classes)?.name).toBe('a');
    expect(classFor({ spec: {} }, [{ name: 'x' }], classes)?.name).toBe('b');
  });
});
