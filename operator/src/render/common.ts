// Pieces every component renderer shares, so labels, pod security, affinity and config hashes
// are the same everywhere. Everything here is a pure function of its arguments.
import { createHash } from 'node:crypto';
import type { AntiAffinity, ResolvedCacheTier } from '../api/types.js';
import { API_VERSION, KIND } from '../api/types.js';
import type { V1Affinity, V1OwnerReference, V1PodDisruptionBudget, V1PodSecurityContext, V1SecurityContext } from '@kubernetes/client-node';
import type { Rendered } from './object.js';
import { childName, type Component } from './names.js';

/** Pod-template annotation holding the hash of the component's rendered config. */
export const CONFIG_HASH_ANNOTATION = 'cachetier.io/config-hash';
export const FIELD_MANAGER = 'cachetier-operator';
export const MANAGED_BY = 'cachetier-operator';

/** Labels that select one component's pods; never change them (selectors are immutable). */
export function selectorLabels(tier: ResolvedCacheTier, component: Component): Record<string, string> {
  return {
    'app.kubernetes.io/name': component,
    'app.kubernetes.io/instance': tier.metadata.name,
  };
}

export function labels(tier: ResolvedCacheTier, component: Component): Record<string, string> {
  return {
    ...selectorLabels(tier, component),
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/part-of': 'cachetier',
    'app.kubernetes.io/managed-by': MANAGED_BY,
  };
}

export function ownerReference(tier: ResolvedCacheTier): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: tier.metadata.name,
    uid: tier.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function objectMeta(tier: ResolvedCacheTier, component: Component, name = childName(tier, component)) {
  return {
    name,
    namespace: tier.metadata.namespace,
    labels: labels(tier, component),
    ownerReferences: [ownerReference(tier)],
  };
}

/** sha256 over the rendered config files, in key order: the pod-template annotation value. */
export function configHash(files: Record<string, string>): string {
  const h = createHash('sha256');
  for (const k of Object.keys(files).sort()) h.update(k).update('\0').update(files[k]).update('\0');
  return h.digest('hex').slice(0, 16);
}

/** Pod-level security context meeting the "restricted" Pod Security Standard. */
export function podSecurityContext(uid: number): V1PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    fsGroup: uid,
    fsGroupChangePolicy: 'OnRootMismatch',
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

export function containerSecurityContext(): V1SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    privileged: false,
    runAsNonRoot: true,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/**
 * Spread a component's pods over nodes by hostname. Soft by default so a one-node kind cluster
 * still schedules everything; "hard" refuses to co-locate.
 */
export function podAntiAffinity(tier: ResolvedCacheTier, component: Component, mode: AntiAffinity): V1Affinity {
  const term = {
    labelSelector: { matchLabels: selectorLabels(tier, component) },
    topologyKey: 'kubernetes.io/hostname',
  };
  if (mode === 'hard') return { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term] } };
  return {
    podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term }] },
  };
}

/** A PDB that keeps a quorum-sized majority up during voluntary disruptions. */
export function podDisruptionBudget(tier: ResolvedCacheTier, component: Component, maxUnavailable: number): Rendered<V1PodDisruptionBudget> {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: objectMeta(tier, component),
    spec: { maxUnavailable, selector: { matchLabels: selectorLabels(tier, component) } },
  };
}
