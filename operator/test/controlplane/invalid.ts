// The invalid CacheTiers (operator/test/fixtures/invalid-cachetiers.ts) as the control-plane
// tier applies them, plus the list of CEL rules in the CRD so the tier can prove every rule
// fired on a real API server.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { INVALID_CACHETIERS } from '../fixtures/invalid-cachetiers.js';

export interface InvalidCase {
  name: string;
  /** 'schema' (OpenAPI keywords) or 'cel' (x-kubernetes-validations). */
  checkedBy: string;
  field: string;
  /** The manifest, in namespace `ns`. */
  object(ns: string): Record<string, unknown>;
  /** Substrings the API server's refusal must contain. */
  expect: string[];
}

export function invalidCases(): InvalidCase[] {
  return INVALID_CACHETIERS.map((c) => ({
    name: c.name,
    checkedBy: c.checkedBy,
    field: c.field,
    object: (ns: string) => ({ ...c.manifest, metadata: { ...c.manifest.metadata, namespace: ns } }),
    expect: [c.expect],
  }));
}

export interface CelRule {
  /** Where the rule is declared, e.g. "spec.kafka" ("" = the object root). */
  path: string;
  rule: string;
  message: string;
}

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  additionalProperties?: SchemaNode | boolean;
  'x-kubernetes-validations'?: Array<{ rule: string; message?: string; messageExpression?: string }>;
}

/** Every x-kubernetes-validations rule of every version of the CRD(s) in `file`. */
export function rulesOfCrd(file: string): CelRule[] {
  const out: CelRule[] = [];
  const walk = (node: SchemaNode | undefined, at: string) => {
    if (!node || typeof node !== 'object') return;
    for (const v of node['x-kubernetes-validations'] ?? []) {
      out.push({ path: at, rule: v.rule, message: v.message ?? v.messageExpression ?? '' });
    }
    for (const [k, child] of Object.entries(node.properties ?? {})) walk(child, at ? `${at}.${k}` : k);
    if (node.items) walk(node.items, `${at}[*]`);
    if (node.additionalProperties && typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${at}.*`);
  };
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const crd = doc.toJS() as { kind?: string; spec?: { versions?: Array<{ schema?: { openAPIV3Schema?: SchemaNode } }> } };
    if (crd?.kind !== 'CustomResourceDefinition') continue;
    for (const v of crd.spec?.versions ?? []) walk(v.schema?.openAPIV3Schema, '');
  }
  return out;
}

export const normalize = (s: string) => s.replace(/\s+/g, ' ').trim();
