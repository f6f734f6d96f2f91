// Loads crds/cachetier.yaml and builds an ajv validator that behaves like the API server's
// OpenAPI step: structural defaults (useDefaults), formats, every error reported. The x-kubernetes-*
// keywords (CEL rules, list types) are API-server-only and ignored here (strict: false).
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse, parseAllDocuments } from 'yaml';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
export const CRD_PATH = resolve(REPO_ROOT, 'crds/cachetier.yaml');
export const CHART_CRD_PATH = resolve(REPO_ROOT, 'charts/cachetier-operator/crds/cachetier.yaml');

export type Schema = {
  type?: string;
  description?: string;
  default?: unknown;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  required?: string[];
  'x-kubernetes-validations'?: { rule: string; message: string }[];
  [k: string]: unknown;
};

export interface Crd {
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; singular: string; shortNames: string[]; categories: string[] };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources: { status?: object; scale?: { specReplicasPath: string; statusReplicasPath: string } };
      additionalPrinterColumns: { name: string; type: string; jsonPath: string }[];
      schema: { openAPIV3Schema: Schema };
    }[];
  };
}

export function loadCrd(path = CRD_PATH): Crd {
  return parse(readFileSync(path, 'utf8')) as Crd;
}

export function rootSchema(crd = loadCrd()): Schema {
  return crd.spec.versions[0].schema.openAPIV3Schema;
}

/** Schema node at a dotted path ("spec.redis.masters"). */
export function schemaAt(path: string, root = rootSchema()): Schema {
  let node = root;
  for (const part of path.split('.')) {
    const next = node.properties?.[part];
    if (!next) throw new Error(`no schema for ${path} (stopped at ${part})`);
    node = next;
  }
  return node;
}

// ajv-formats is CommonJS; under ESM its function may sit on .default.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: Ajv,
) => Ajv;

export function compile(root = rootSchema()): ValidateFunction {
  const ajv = new Ajv({ strict: false, useDefaults: true, allErrors: true });
  addFormats(ajv);
  return ajv.compile(root);
}

/** "spec.redis.masters: must be >= 3" lines; a missing required property is named in the path. */
export function describeErrors(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => {
    let path = e.instancePath.replace(/^\//, '').split('/').filter(Boolean).join('.');
    if (e.keyword === 'required') path = [path, (e.params as { missingProperty: string }).missingProperty].filter(Boolean).join('.');
    return `${path}: ${e.message ?? e.keyword}`;
  });
}

export function loadYamlDocs(path: string): unknown[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).map((d) => d.toJSON());
}

/** Paths the API server would prune (or `kubectl apply --validate=strict` refuse): keys the schema doesn't declare. */
export function unknownFields(value: unknown, schema: Schema, path: string): string[] {
  if (typeof value !== 'object' || value === null) return [];
  if (Array.isArray(value)) return schema.items ? value.flatMap((v, i) => unknownFields(v, schema.items as Schema, `${path}[${i}]`)) : [];
  if (schema['x-kubernetes-preserve-unknown-fields']) return [];
  return Object.entries(value).flatMap(([k, v]) => {
    const child = schema.properties?.[k] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
    if (path === '' && k === 'metadata') return [];
    return child ? unknownFields(v, child, path ? `${path}.${k}` : k) : [path ? `${path}.${k}` : k];
  });
}
