// examples/*.yaml must be accepted by the CRD (schema via ajv, CEL via its JS mirror) and have the
// shapes the docs promise.
import { resolve } from 'node:path';
import { DEFAULT_SPEC } from '../../../src/api/defaults.js';
import type { CacheTierSpec } from '../../../src/api/types.js';
import { celViolations, collectRules } from './cel-mirror.js';
import { REPO_ROOT, compile, describeErrors, loadYamlDocs, rootSchema, unknownFields } from './load.js';

const root = rootSchema();
const validate = compile(root);
const rules = collectRules(root);

function load(file: string): { name: string; spec: CacheTierSpec } {
  const docs = loadYamlDocs(resolve(REPO_ROOT, 'examples', file));
  expect(docs).toHaveLength(1);
  const obj = docs[0] as { apiVersion: string; kind: string; metadata: { name: string }; spec?: CacheTierSpec };
  expect(obj.apiVersion).toBe('cachetier.io/v1alpha1');
  expect(obj.kind).toBe('CacheTier');
  expect(unknownFields(obj, root, '')).toEqual([]);
  const ok = validate(obj);
  expect(describeErrors(validate.errors)).toEqual([]);
  expect(ok).toBe(true);
  expect(celViolations(obj, rules).map((r) => r.message)).toEqual([]);
  return { name: obj.metadata.name, spec: JSON.parse(JSON.stringify(obj.spec)) as CacheTierSpec };
}

describe('examples', () => {
  it('the unknown-field check catches a typo', () => {
    expect(unknownFields({ spec: { redis: { mastrs: 4, config: { hz: '10' } } } }, root, '')).toEqual(['spec.redis.mastrs']);
  });

  it('cachetier.yaml: the demo tier (3 ZK, 3 Kafka, 3 masters + 1 replica, producer, OpenResty)', () => {
    const { name, spec } = load('cachetier.yaml');
    expect(name).toBe('shop');
    expect(spec.zookeeper.replicas).toBe(3);
    expect(spec.kafka.replicas).toBe(3);
    expect(spec.redis.masters).toBe(3);
    expect(spec.redis.replicasPerMaster).toBe(1);
    expect(spec.producer.replicas).toBeGreaterThanOrEqual(1);
    expect(spec.openresty.app.replicas).toBeGreaterThanOrEqual(1);
    expect(spec.openresty.distribution.replicas).toBeGreaterThanOrEqual(1);
    expect(spec.redis.auth?.passwordSecretRef).toEqual({ name: 'shop-redis-auth', key: 'password' });
  });

  it('cachetier-minimal.yaml: just a name, defaults to DEFAULT_SPEC', () => {
    const { spec } = load('cachetier-minimal.yaml');
    expect(spec).toStrictEqual(DEFAULT_SPEC);
  });

  it('cachetier-kind.yaml: small, no volumes, one broker with RF 1 topics', () => {
    const { spec } = load('cachetier-kind.yaml');
    expect(spec.kafka.replicas).toBe(1);
    expect(spec.zookeeper.replicas).toBe(1);
    expect(spec.redis.masters).toBe(3);
    for (const c of [spec.zookeeper, spec.kafka, spec.redis]) expect(c.storage.persistent).toBe(false);
    expect(spec.podAntiAffinity).toBe('soft');
  });
});
