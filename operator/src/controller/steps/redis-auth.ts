// Part of the observe step: each Redis role's password. They live in an operator-owned Secret
// (redisPasswordsSecretName, owned by the CacheTier) that is created once with random passwords
// and never regenerated while it exists; a key missing from it is added, the others are kept.
// The admin (operator) password comes from spec.redis.auth.passwordSecretRef when set.
// Passwords never reach a log line, an event or the status; rendering gets them as an input.
import { randomBytes } from 'node:crypto';
import type { ResolvedCacheTier } from '../../api/types.js';
import type { KObject, KubeClient } from '../../runtime/kube.js';
import { describeError, isConflict } from '../../runtime/kube.js';
import { objectMeta } from '../../render/common.js';
import { redisPasswordsSecretName } from '../../render/names.js';
import { REDIS_ROLES, type RedisCredentials } from '../../render/config/redis-acl.js';
import type { RedisRole } from '../../../../packages/contract/src/index.js';

export interface RedisAuthObservation {
  credentials?: RedisCredentials;
  /** Why there are no credentials (names only, never a value). */
  problem?: string;
}

/** 32 random bytes, hex: printable, no quoting needed in auth.conf. */
export function generatePassword(): string {
  return randomBytes(32).toString('hex');
}

/** The roles whose passwords the operator generates (all but the admin one when the spec names it). */
export function generatedRoles(tier: ResolvedCacheTier): RedisRole[] {
  return REDIS_ROLES.filter((r) => !(r === 'operator' && tier.spec.redis.auth));
}

function secretBody(tier: ResolvedCacheTier, data: Record<string, string>): KObject {
  const encoded: Record<string, string> = {};
  for (const k of Object.keys(data).sort()) encoded[k] = Buffer.from(data[k], 'utf8').toString('base64');
  return { apiVersion: 'v1', kind: 'Secret', metadata: objectMeta(tier, 'redis', redisPasswordsSecretName(tier)), type: 'Opaque', data: encoded } as KObject;
}

/** Reads the passwords Secret, creating it or adding missing keys; never changes a key that exists. */
async function ensurePasswords(kube: KubeClient, tier: ResolvedCacheTier): Promise<Record<string, string>> {
  const { namespace } = tier.metadata;
  const name = redisPasswordsSecretName(tier);
  const roles = generatedRoles(tier);
  for (let attempt = 0; attempt < 2; attempt++) {
    const live = await kube.getSecret(namespace, name);
    const missing = roles.filter((r) => !live?.[r]);
    if (live && missing.length === 0) return live;
    const data: Record<string, string> = { ...(live ?? {}) };
    for (const r of missing) data[r] = generatePassword();
    try {
      // Created with POST; an existing one gets every key it had plus the new ones (apply would
      // drop keys this field manager owns but omits).
      if (live) await kube.apply(secretBody(tier, data));
      else await kube.create(secretBody(tier, data));
      return data;
    } catch (err) {
      // Another writer created it meanwhile: read theirs instead of overwriting it.
      if (!isConflict(err) || attempt > 0) throw err;
    }
  }
  throw new Error(`Secret ${name} could not be created`);
}

export async function observeRedisAuth(kube: KubeClient, tier: ResolvedCacheTier): Promise<RedisAuthObservation> {
  const { namespace } = tier.metadata;
  let generated: Record<string, string>;
  try {
    generated = await ensurePasswords(kube, tier);
  } catch (err) {
    return { problem: `Secret ${redisPasswordsSecretName(tier)}: ${describeError(err)}` };
  }
  let admin = generated.operator;
  const ref = tier.spec.redis.auth?.passwordSecretRef;
  if (ref) {
    try {
      const data = await kube.getSecret(namespace, ref.name);
      if (!data) return { problem: `Secret ${ref.name} not found` };
      if (data[ref.key] === undefined || data[ref.key] === '') return { problem: `Secret ${ref.name} has no key ${ref.key}` };
      admin = data[ref.key];
    } catch (err) {
      return { problem: `Secret ${ref.name}: ${describeError(err)}` };
    }
  }
  const credentials = { operator: admin } as RedisCredentials;
  for (const r of generatedRoles(tier)) credentials[r] = generated[r];
  return { credentials };
}
