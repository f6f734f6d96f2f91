import { deepEqual, firstDifference, formatPath, isSubset } from '../../../src/controller/diff.js';
import { parseQuantity } from '../../../src/api/quantity.js';

describe('isSubset (desired vs live)', () => {
  test('extra live fields, defaults and annotations are not drift', () => {
    const desired = { spec: { replicas: 3, template: { metadata: { annotations: { 'cachetier.io/config-hash': 'abc' } } } } };
    const live = {
      metadata: { uid: 'x', managedFields: [] },
      spec: {
        replicas: 3,
        revisionHistoryLimit: 10,
        template: { metadata: { annotations: { 'cachetier.io/config-hash': 'abc', 'kubectl.kubernetes.io/restartedAt': 'now' } } },
      },
      status: { readyReplicas: 1 },
    };
    expect(isSubset(desired, live)).toBe(true);
  });

  test('a changed or missing value is drift, with its path', () => {
    expect(firstDifference({ spec: { replicas: 3 } }, { spec: { replicas: 4 } })).toEqual(['spec', 'replicas']);
    expect(firstDifference({ data: { a: '1' } }, { data: {} })).toEqual(['data', 'a']);
    expect(formatPath(['spec', 'template', 'spec', 'containers', 0, 'image'])).toBe('spec.template.spec.containers[0].image');
  });

  test('arrays compare element by element and by length', () => {
    const c = (env: unknown[]) => ({ containers: [{ name: 'a', env }] });
    expect(isSubset(c([{ name: 'X', value: '1' }]), c([{ name: 'X', value: '1' }]))).toBe(true);
    expect(isSubset(c([{ name: 'X', value: '1' }]), c([{ name: 'X', value: '2' }]))).toBe(false);
    expect(isSubset(c([{ name: 'X', value: '1' }]), c([{ name: 'X', value: '1' }, { name: 'Y', value: '2' }]))).toBe(false);
    expect(isSubset(c([{ name: 'X' }, { name: 'Y' }]), c([{ name: 'Y' }, { name: 'X' }]))).toBe(false);
    // element-wise subset: server defaults inside an element are fine
    expect(isSubset({ ports: [{ port: 80 }] }, { ports: [{ port: 80, protocol: 'TCP' }] })).toBe(true);
  });

  test('empty desired values match omitted live fields (omitempty)', () => {
    expect(isSubset({ env: [{ name: 'E', value: '' }] }, { env: [{ name: 'E' }] })).toBe(true);
    expect(isSubset({ emptyDir: {}, args: [], hostNetwork: false }, {})).toBe(true);
    expect(isSubset({ hostNetwork: true }, {})).toBe(false);
  });

  test('resource quantities compare by value', () => {
    expect(isSubset({ resources: { requests: { cpu: '0.5', memory: '1Gi' } } }, { resources: { requests: { cpu: '500m', memory: '1024Mi' } } })).toBe(true);
    expect(isSubset({ resources: { limits: { memory: '512Mi' } } }, { resources: { limits: { memory: '256Mi' } } })).toBe(false);
    // elsewhere strings are strings
    expect(isSubset({ data: { x: '0.5' } }, { data: { x: '500m' } })).toBe(false);
    expect(parseQuantity('1Ki')).toBe(1024);
    expect(parseQuantity('100m')).toBeCloseTo(0.1);
    expect(parseQuantity('1e3')).toBe(1000);
    expect(parseQuantity('abc')).toBeUndefined();
  });
});

describe('deepEqual', () => {
  test('ignores key order and undefined members', () => {
    expect(deepEqual({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1, d: undefined })).toBe(true);
    expect(deepEqual({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(deepEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false);
  });
});
