import { claimTemplateChange, volumesCondition, withLiveClaimTemplates } from '../../../src/controller/volumes.js';
import type { KObject } from '../../../src/runtime/kube.js';
import type { KubeObject } from '../../../src/render/object.js';

function sts(templates?: Array<{ name: string; size?: string; cls?: string; modes?: string[] }>, extra: Record<string, unknown> = {}): KubeObject & KObject {
  const spec: Record<string, unknown> = { replicas: 3, ...extra };
  if (templates) {
    spec.volumeClaimTemplates = templates.map((t) => ({
      metadata: { name: t.name },
      spec: { accessModes: t.modes ?? ['ReadWriteOnce'], storageClassName: t.cls, resources: { requests: { storage: t.size ?? '1Gi' } } },
    }));
  }
  return { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'shop-redis' }, spec } as unknown as KubeObject & KObject;
}

describe('claim template changes', () => {
  test('equal templates (quantities compared by value) are no change', () => {
    expect(claimTemplateChange(sts([{ name: 'data', size: '1Gi' }]), sts([{ name: 'data', size: '1024Mi' }]))).toBeUndefined();
    expect(claimTemplateChange(sts(), sts())).toBeUndefined();
  });
  test('a bigger size is a grow; smaller, another class, other modes are not', () => {
    expect(claimTemplateChange(sts([{ name: 'data', size: '2Gi' }]), sts([{ name: 'data', size: '1Gi' }]))).toEqual({
      statefulSet: 'shop-redis',
      changes: ['data: size 1Gi -> 2Gi'],
      growOnly: true,
    });
    expect(claimTemplateChange(sts([{ name: 'data', size: '512Mi' }]), sts([{ name: 'data', size: '1Gi' }]))?.growOnly).toBe(false);
    expect(claimTemplateChange(sts([{ name: 'data', size: '2Gi', cls: 'fast' }]), sts([{ name: 'data', size: '1Gi' }]))).toEqual({
      statefulSet: 'shop-redis',
      changes: ['data: size 1Gi -> 2Gi', 'data: storageClassName (cluster default) -> fast'],
      growOnly: false,
    });
    expect(claimTemplateChange(sts([{ name: 'data', modes: ['ReadWriteOncePod'] }]), sts([{ name: 'data' }]))?.changes).toEqual(['data: accessModes ReadWriteOnce -> ReadWriteOncePod']);
  });
  test('persistence switched on or off', () => {
    expect(claimTemplateChange(sts(), sts([{ name: 'data' }]))?.changes).toEqual(['volumes: PVC data -> none (emptyDir)']);
    expect(claimTemplateChange(sts([{ name: 'data' }]), sts())?.changes).toEqual(['volumes: none (emptyDir) -> PVC data']);
  });
  test('the applied StatefulSet keeps the live templates and everything else rendered', () => {
    const rendered = sts([{ name: 'data', size: '2Gi' }], { template: { metadata: { annotations: { hash: 'new' } } } });
    const live = sts([{ name: 'data', size: '1Gi' }], { template: { metadata: { annotations: { hash: 'old' } } } });
    const out = withLiveClaimTemplates(rendered, live) as unknown as { spec: Record<string, unknown> };
    expect(out.spec.volumeClaimTemplates).toEqual((live.spec as Record<string, unknown>).volumeClaimTemplates);
    expect(out.spec.template).toEqual({ metadata: { annotations: { hash: 'new' } } });
    expect((withLiveClaimTemplates(sts([{ name: 'data' }]), sts()) as unknown as { spec: Record<string, unknown> }).spec.volumeClaimTemplates).toBeUndefined();
  });
  test('the condition says what and how', () => {
    expect(volumesCondition([], 'ns')).toMatchObject({ status: 'True', reason: 'InSync' });
    const grow = volumesCondition([{ statefulSet: 'shop-redis', changes: ['data: size 1Gi -> 2Gi'], growOnly: true }], 'ns');
    expect(grow).toMatchObject({ status: 'False', reason: 'ExpansionNeedsSteps' });
    expect(grow.message).toMatch(/^shop-redis: data: size 1Gi -> 2Gi \(not applied: .*kubectl -n ns delete statefulset shop-redis --cascade=orphan/);
    const cls = volumesCondition([{ statefulSet: 'shop-kafka', changes: ['data: storageClassName a -> b'], growOnly: false }], 'ns');
    expect(cls).toMatchObject({ status: 'False', reason: 'ChangeNotPossibleInPlace' });
    expect(cls.message).toMatch(/cannot shrink or change class in place: set the spec back/);
  });
});
