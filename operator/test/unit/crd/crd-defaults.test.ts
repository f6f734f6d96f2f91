// The API server fills CacheTier defaults from crds/cachetier.yaml; the operator fills them from
// DEFAULT_SPEC (resolveSpec). These tests prove both give the same spec, so `kubectl get -o yaml`
// shows what the operator actually runs.
import { DEFAULT_SPEC, resolveSpec } from '../../../src/api/defaults.js';
import type { CacheTierSpec, DeepPartial } from '../../../src/api/types.js';
import { compile, describeErrors } from './load.js';

const validate = compile();

function defaulted(spec: unknown): CacheTierSpec {
  const obj: Record<string, unknown> = { apiVersion: 'cachetier.io/v1alpha1', kind: 'CacheTier', metadata: { name: 'shop' } };
  if (spec !== undefined) obj.spec = structuredClone(spec);
  const ok = validate(obj);
  if (!ok) throw new Error(`rejected: ${describeErrors(validate.errors).join('; ')}`);
  // JSON round trip: ajv's default objects and structuredClone come from another realm under jest.
  return JSON.parse(JSON.stringify(obj.spec)) as CacheTierSpec;
}

describe('CRD defaults == DEFAULT_SPEC', () => {
  it('an empty spec defaults to exactly DEFAULT_SPEC', () => {
    expect(defaulted({})).toStrictEqual(DEFAULT_SPEC);
  });

  it('an omitted spec defaults to exactly DEFAULT_SPEC', () => {
    expect(defaulted(undefined)).toStrictEqual(DEFAULT_SPEC);
  });

  it('omitted sections get their nested defaults (objects default to {})', () => {
    const spec = defaulted({ kafka: {}, redis: { storage: {} }, openresty: { l1: {} } });
    expect(spec).toStrictEqual(DEFAULT_SPEC);
  });

  // Plain objects: api/types.ts's DeepPartial only recurses into Record-typed fields, not interfaces.
  const partials: [string, Record<string, unknown>][] = [
    ['scalar override', { redis: { masters: 5 } }],
    ['nested scalar override', { openresty: { l1: { ttlSeconds: 120 } }, producer: { lock: { enabled: false } } }],
    ['one flood limit turned off', { openresty: { distribution: { limits: { requestsPerSecond: 0 } }, app: { replicas: 5 } } }],
    ['one resource key (other keys keep their defaults, as deepMerge does)', { redis: { resources: { requests: { cpu: '1' } } } }],
    ['storage class added', { kafka: { storage: { storageClassName: 'fast', persistent: false } } }],
    ['topic partially overridden', { kafka: { topics: { cacheMessage: { partitions: 12 } } } }],
    ['auth + extra config', { redis: { auth: { passwordSecretRef: { name: 'redis-auth', key: 'password' } }, config: { 'hz': '20' } } }],
    [
      'kind-sized tier',
      {
        zookeeper: { replicas: 1 },
        kafka: { replicas: 1, minInsyncReplicas: 1, topics: { cacheMessage: { replicationFactor: 1 }, accessLog: { replicationFactor: 1 }, deadLetter: { replicationFactor: 1 } } },
      },
    ],
  ];
  it.each(partials)('a partial spec (%s) defaults like resolveSpec()', (_label, partial) => {
    expect(defaulted(partial)).toStrictEqual(resolveSpec(partial as DeepPartial<CacheTierSpec>));
  });

  it('does not invent fields the code has no default for (auth, storageClassName)', () => {
    const spec = defaulted({});
    expect(spec.redis.auth).toBeUndefined();
    expect(spec.kafka.storage.storageClassName).toBeUndefined();
  });
});
