import { parseQuantity } from '../../../src/api/quantity.js';
import { jvmHeapMiB, nodeHeapOptions, workerCount } from '../../../src/render/builders.js';
import { renderContext } from '../../../src/render/index.js';
import { tierEndpoints } from '../../../src/render/names.js';
import { nginxConfigInput } from '../../../src/render/openresty.js';
import { makeTier, NS } from './helpers.js';

describe('quantities', () => {
  test.each([
    ['512Mi', 512 * 2 ** 20],
    ['1Gi', 2 ** 30],
    ['1G', 1e9],
    ['1073741824', 2 ** 30],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['lots', undefined],
    [undefined, undefined],
  ])('memory %s -> %s bytes', (q, want) => expect(parseQuantity(q)).toBe(want));

  test.each([
    ['100m', 0.1],
    ['2', 2],
    ['1.5', 1.5],
    ['2000m', 2],
    ['two', undefined],
  ])('cpu %s -> %s cores', (q, want) => expect(parseQuantity(q)).toBe(want));

  test('JVM heap and Node old space: half the limit, else half the request, else the runtime default', () => {
    expect(jvmHeapMiB({ limits: { memory: '2Gi' }, requests: { memory: '1Gi' } })).toBe(1024);
    expect(jvmHeapMiB({ requests: { memory: '1Gi' } })).toBe(512);
    expect(jvmHeapMiB({})).toBeUndefined();
    expect(jvmHeapMiB({ limits: { memory: '64Mi' } })).toBe(64);
    expect(nodeHeapOptions({ limits: { memory: '256Mi' } })).toBe('--max-old-space-size=128');
    expect(nodeHeapOptions({})).toBeUndefined();
  });

  test('nginx workers follow the CPU limit (else request), 1..8, never "auto"', () => {
    expect(workerCount({ requests: { cpu: '100m' } })).toBe(1);
    expect(workerCount({ requests: { cpu: '100m' }, limits: { cpu: '3' } })).toBe(3);
    expect(workerCount({ limits: { cpu: '1500m' } })).toBe(2);
    expect(workerCount({ limits: { cpu: '64' } })).toBe(8);
    expect(workerCount({})).toBe(2);
    expect(nginxConfigInput(makeTier({ openresty: { resources: { limits: { cpu: '4' } } } }), 'app', renderContext()).workerProcesses).toBe(4);
    expect(nginxConfigInput(makeTier(), 'app', renderContext()).workerProcesses).toBe(1);
  });
});

test('tierEndpoints (status.endpoints) names every entry point by in-cluster DNS', () => {
  expect(tierEndpoints(makeTier())).toEqual({
    distribution: `http://shop-openresty-distribution.${NS}.svc:8080`,
    producer: `http://shop-producer.${NS}.svc:8080`,
    redisSeeds: [0, 1, 2, 3, 4, 5].map((i) => `shop-redis-${i}.shop-redis-headless.${NS}.svc:6379`).join(','),
    zookeeper: [0, 1, 2].map((i) => `shop-zookeeper-${i}.shop-zookeeper-headless.${NS}.svc:2181`).join(','),
    kafkaBootstrap: [0, 1, 2].map((i) => `shop-kafka-${i}.shop-kafka-headless.${NS}.svc:9092`).join(','),
  });
});
