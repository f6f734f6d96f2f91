// A JavaScript mirror of every x-kubernetes-validations rule in crds/cachetier.yaml, keyed by
// "<schema path>#<index>". Unit tests can't run CEL, so they use this to check that the examples
// pass the CEL rules and that each 'cel' fixture breaks the rule it targets. crd-schema.test.ts
// fails if a rule is added or removed without updating this table; the control-plane tier checks
// the real CEL against a real API server.
/* eslint-disable @typescript-eslint/no-explicit-any */
import type { Schema } from './load.js';

type Rule = (self: any) => boolean;

const topicRfs = (k: any): number[] => [
  k.topics.cacheMessage.replicationFactor,
  k.topics.accessLog.replicationFactor,
  k.topics.deadLetter.replicationFactor,
];
const notIn = (self: Record<string, unknown>, keys: string[]) => keys.every((k) => !(k in self));
const oneLine = (c: Record<string, string>) => Object.entries(c).every(([k, v]) => !/[\r\n\0]/.test(k) && !/[\r\n\0]/.test(v));
const topicName: Rule = (s: string) => s !== '.' && s !== '..';

export const CEL_MIRROR: Record<string, Rule> = {
  '#0': (o) => o.metadata.name.length <= 31,
  '#1': (o) => /^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(o.metadata.name),
  'spec.zookeeper.replicas#0': (n: number) => n % 2 === 1,
  'spec.zookeeper.config#0': (c) => notIn(c, ['dataDir', 'clientPort', 'clientPortAddress']),
  'spec.zookeeper.config#1': (c) => Object.keys(c).every((k) => !k.startsWith('server.')),
  'spec.zookeeper.config#2': oneLine,
  'spec.kafka#0': (k) => topicRfs(k).every((rf) => rf <= k.replicas),
  'spec.kafka#1': (k) => k.minInsyncReplicas <= k.replicas,
  'spec.kafka#2': (k) => topicRfs(k).every((rf) => k.minInsyncReplicas < rf || (rf === 1 && k.minInsyncReplicas === 1)),
  'spec.kafka.image#0': (s: string) => !/^.*:4([.][^/@]*)?(@.*)?$/.test(s),
  'spec.kafka.image#1': (s: string) => !s.endsWith(':latest') && (s.includes('@') || /:[^/]+$/.test(s)),
  'spec.kafka.version#0': (s: string) => s.startsWith('3.'),
  'spec.kafka.config#0': (c) =>
    notIn(c, ['broker.id', 'node.id', 'listeners', 'advertised.listeners', 'zookeeper.connect', 'log.dirs', 'process.roles']),
  'spec.kafka.config#1': oneLine,
  'spec.kafka.topics#0': (t) =>
    t.cacheMessage.name !== t.accessLog.name && t.cacheMessage.name !== t.deadLetter.name && t.accessLog.name !== t.deadLetter.name,
  'spec.kafka.topics.cacheMessage.name#0': topicName,
  'spec.kafka.topics.accessLog.name#0': topicName,
  'spec.kafka.topics.deadLetter.name#0': topicName,
  'spec.redis.config#0': (c) =>
    notIn(c, ['port', 'bind', 'dir', 'cluster-enabled', 'cluster-config-file', 'cluster-announce-ip', 'requirepass', 'masterauth', 'appendonly']),
  'spec.redis.config#1': oneLine,
  'spec.openresty.l1#0': (l) => l.negativeTtlSeconds <= l.ttlSeconds,
};

export interface CelRule {
  key: string;
  path: string;
  rule: string;
  message: string;
}

/** Every CEL rule in the schema, with the dotted path of the node it sits on ('' = root). */
export function collectRules(node: Schema, path = ''): CelRule[] {
  const out: CelRule[] = (node['x-kubernetes-validations'] ?? []).map((v, i) => ({
    key: `${path}#${i}`,
    path,
    rule: v.rule,
    message: v.message,
  }));
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    out.push(...collectRules(child, path ? `${path}.${name}` : name));
  }
  if (node.items) out.push(...collectRules(node.items, `${path}[]`));
  return out;
}

function at(obj: any, path: string): any {
  return path === '' ? obj : path.split('.').reduce((o, p) => (o === undefined ? undefined : o[p]), obj);
}

/** Messages of the rules a (defaulted) object breaks, per the mirror. */
export function celViolations(obj: unknown, rules: CelRule[]): CelRule[] {
  return rules.filter((r) => {
    const self = at(obj, r.path);
    if (self === undefined) return false;
    const fn = CEL_MIRROR[r.key];
    if (!fn) throw new Error(`no CEL mirror for ${r.key}: ${r.rule}`);
    return !fn(self);
  });
}
