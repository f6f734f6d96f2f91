// crds/cachetier.yaml: shape, documentation, subresources, and that it rejects what it should.
import { readFileSync } from 'node:fs';
import { INVALID_CACHETIERS } from '../../fixtures/invalid-cachetiers.js';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../../../src/api/types.js';
import { KAFKA_RESERVED_KEYS } from '../../../src/render/config/kafka.js';
import { REDIS_RESERVED_KEYS } from '../../../src/render/config/redis.js';
import { ZK_RESERVED_KEYS } from '../../../src/render/config/zookeeper.js';
import { CEL_MIRROR, celViolations, collectRules } from './cel-mirror.js';
import {
  CHART_CRD_PATH,
  CRD_PATH,
  compile,
  describeErrors,
  loadCrd,
  rootSchema,
  schemaAt,
  unknownFields,
  type Schema,
} from './load.js';

const crd = loadCrd();
const version = crd.spec.versions[0];
const root = rootSchema(crd);
const validate = compile(root);
const rules = collectRules(root);

function check(manifest: unknown): { ok: boolean; errors: string[]; obj: unknown } {
  const obj = structuredClone(manifest);
  const ok = validate(obj) as boolean;
  return { ok, errors: describeErrors(validate.errors), obj };
}

describe('CRD identity', () => {
  it('names the API the operator code uses', () => {
    expect(crd.metadata.name).toBe(`${PLURAL}.${GROUP}`);
    expect(crd.spec.group).toBe(GROUP);
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.names).toMatchObject({ kind: KIND, plural: PLURAL, singular: 'cachetier', shortNames: ['ct'], categories: ['cachetier'] });
    expect(crd.spec.versions).toHaveLength(1);
    expect(version).toMatchObject({ name: VERSION, served: true, storage: true });
    expect(API_VERSION).toBe(`${crd.spec.group}/${version.name}`);
  });

  it('has status and scale subresources (kubectl scale edits spec.redis.masters)', () => {
    expect(version.subresources.status).toEqual({});
    expect(version.subresources.scale).toEqual({
      specReplicasPath: '.spec.redis.masters',
      statusReplicasPath: '.status.redis.readyMasters',
    });
    // Both scale paths exist in the schema as integers.
    expect(schemaAt('spec.redis.masters').type).toBe('integer');
    expect(schemaAt('status.redis.readyMasters').type).toBe('integer');
  });

  it('prints Ready, Masters, Replicas, Reshard, Roll and Age columns', () => {
    expect(version.additionalPrinterColumns.map((c) => [c.name, c.type, c.jsonPath])).toEqual([
      ['Ready', 'string', '.status.conditions[?(@.type=="Ready")].status'],
      ['Masters', 'integer', '.spec.redis.masters'],
      ['Replicas', 'integer', '.spec.redis.replicasPerMaster'],
      ['Reshard', 'string', '.status.redis.migration.progress'],
      ['Roll', 'string', '.status.roll.progress'],
      ['Age', 'date', '.metadata.creationTimestamp'],
    ]);
  });

  it('keeps status conditions a list-map keyed by type', () => {
    const conditions = schemaAt('status.conditions');
    expect(conditions['x-kubernetes-list-type']).toBe('map');
    expect(conditions['x-kubernetes-list-map-keys']).toEqual(['type']);
    expect(conditions.items?.required).toEqual(expect.arrayContaining(['type', 'status']));
    expect(schemaAt('status.redis.migration')['x-kubernetes-preserve-unknown-fields']).toBe(true);
  });

  it('the chart ships a byte-identical copy (make sync-crds)', () => {
    expect(readFileSync(CHART_CRD_PATH, 'utf8')).toBe(readFileSync(CRD_PATH, 'utf8'));
  });
});

describe('CRD documentation and structure', () => {
  function walk(node: Schema, path: string, visit: (n: Schema, p: string) => void): void {
    visit(node, path);
    for (const [k, child] of Object.entries(node.properties ?? {})) walk(child, path ? `${path}.${k}` : k, visit);
    if (node.items) walk(node.items, `${path}[]`, visit);
    if (node.additionalProperties && typeof node.additionalProperties === 'object') {
      walk(node.additionalProperties, `${path}{}`, visit);
    }
  }

  it('every field has a description (kubectl explain)', () => {
    const missing: string[] = [];
    let fields = 0;
    walk(root, '', (n, p) => {
      fields++;
      // The API server forbids anything on `metadata` but name/generateName restrictions, even a description.
      if (p === 'metadata') return;
      if (!n.description || n.description.trim().length < 5) missing.push(p || '<root>');
    });
    expect(missing).toEqual([]);
    expect(fields).toBeGreaterThan(150);
  });

  it('every node has a type unless it preserves unknown fields (structural schema)', () => {
    const untyped: string[] = [];
    walk(root, '', (n, p) => {
      if (!n.type && !n['x-kubernetes-preserve-unknown-fields']) untyped.push(p);
    });
    expect(untyped).toEqual([]);
  });

  it('every spec object defaults to {} so nested defaults apply when a section is omitted', () => {
    const noDefault: string[] = [];
    walk(schemaAt('spec'), 'spec', (n, p) => {
      // List items (NetworkPolicy peers) are the user's to write whole: a defaulted {} podSelector
      // would select every pod.
      if (n.type === 'object' && n.properties && n.default === undefined && !p.startsWith('spec.redis.auth') && !p.includes('[]')) noDefault.push(p);
    });
    expect(noDefault).toEqual([]);
  });

  it('every string, map and list a CEL rule can reach is bounded (CEL cost budget)', () => {
    const unbounded: string[] = [];
    walk(schemaAt('spec'), 'spec', (n, p) => {
      if (n.type === 'string' && n.enum === undefined && n.maxLength === undefined) unbounded.push(p);
      if (n.type === 'object' && n.additionalProperties && n.maxProperties === undefined) unbounded.push(p);
      if (n.type === 'array' && n.maxItems === undefined) unbounded.push(p);
    });
    expect(unbounded).toEqual([]);
    // The 31-character limit is the root CEL rule (its message says why), not a maxLength.
    expect(schemaAt('metadata.name').maxLength).toBeUndefined();
    // Only name/generateName may be constrained under metadata (the API server refuses anything else).
    expect(Object.keys(schemaAt('metadata')).sort()).toEqual(['properties', 'type']);
    expect(Object.keys(schemaAt('metadata').properties ?? {}).sort()).toEqual(['generateName', 'name']);
  });

  it('every CEL rule has a message naming the field to fix, and a JS mirror for the unit tier', () => {
    expect(rules.length).toBeGreaterThanOrEqual(15);
    for (const r of rules) {
      expect(r.message.length).toBeGreaterThan(20);
      expect(CEL_MIRROR[r.key]).toBeDefined();
    }
    expect(Object.keys(CEL_MIRROR).sort()).toEqual(rules.map((r) => r.key).sort());
    // No rule blocks shrinking partitions: the operator refuses that with a condition instead.
    expect(rules.filter((r) => r.rule.includes('oldSelf'))).toEqual([]);
  });

  it.each([
    ['spec.kafka.config#0', KAFKA_RESERVED_KEYS],
    ['spec.redis.config#0', REDIS_RESERVED_KEYS],
    ['spec.zookeeper.config#0', ZK_RESERVED_KEYS],
  ])('%s rejects every reserved key the renderer owns', (key, reserved) => {
    const rule = rules.find((r) => r.key === key);
    expect(rule).toBeDefined();
    for (const k of reserved) {
      expect(rule?.rule).toContain(`!('${k}' in self)`);
      expect(rule?.message).toContain(k);
    }
  });
});

describe('invalid CacheTier fixtures', () => {
  const schemaCases = INVALID_CACHETIERS.filter((f) => f.checkedBy === 'schema');
  const celCases = INVALID_CACHETIERS.filter((f) => f.checkedBy === 'cel');

  it('cover enough rules, with unique valid-looking names', () => {
    expect(INVALID_CACHETIERS.length).toBeGreaterThanOrEqual(30);
    expect(schemaCases.length).toBeGreaterThanOrEqual(20);
    expect(new Set(INVALID_CACHETIERS.map((f) => f.name)).size).toBe(INVALID_CACHETIERS.length);
    for (const f of INVALID_CACHETIERS) {
      // Declared fields only: an unknown one would be pruned, not rejected.
      expect([f.name, unknownFields(f.manifest, root, '')]).toEqual([f.name, []]);
      expect(f.manifest.apiVersion).toBe(API_VERSION);
      expect(f.manifest.kind).toBe(KIND);
    }
  });

  it('cover every CEL rule at least once', () => {
    const hit = new Set<string>();
    for (const f of celCases) {
      const { obj } = check(f.manifest);
      for (const r of celViolations(obj, rules)) hit.add(r.key);
    }
    // '#0'/'#1' (metadata.name) are exercised by the schema cases, which CEL backs up.
    const uncovered = rules.map((r) => r.key).filter((k) => !hit.has(k) && !k.startsWith('#'));
    expect(uncovered).toEqual([]);
  });

  it.each(schemaCases.map((f) => [f.name, f] as const))('schema case %s is rejected at its field', (_n, f) => {
    const { ok, errors } = check(f.manifest);
    expect(ok).toBe(false);
    expect(errors.some((e) => e.startsWith(`${f.field}:`) || e.startsWith(`${f.field}.`))).toBe(true);
    expect(errors.join('\n')).toContain(f.expect);
  });

  it.each(celCases.map((f) => [f.name, f] as const))('cel case %s passes the schema and breaks its CEL rule', (_n, f) => {
    const { ok, errors, obj } = check(f.manifest);
    expect(errors).toEqual([]);
    expect(ok).toBe(true);
    const broken = celViolations(obj, rules);
    // The broken rule sits at the fixture's field or above it (the name rule is at the root).
    const covering = broken.filter((r) => r.path === f.field || r.path === '' || f.field.startsWith(`${r.path}.`));
    expect(covering.map((r) => r.path)).not.toEqual([]);
    expect(covering.some((r) => r.message.includes(f.expect))).toBe(true);
  });
});
