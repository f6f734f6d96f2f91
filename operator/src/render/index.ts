// renderAll: the whole desired state of one CacheTier, as plain Kubernetes objects.
// OWNER: the renderers (issue 2). Pure: same tier in, same objects out.
import type { ResolvedCacheTier } from '../api/types.js';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: unknown[];
  };
  [field: string]: unknown;
}

export interface RenderOptions {
  /**
   * Replicas for the Redis StatefulSet. The orchestration decides this (it grows before new
   * masters join and shrinks only after a drain is verified); defaults to the spec's shape.
   */
  redisStatefulSetReplicas?: number;
}

export function renderAll(tier: ResolvedCacheTier, opts: RenderOptions = {}): KubeObject[] {
  void tier;
  void opts;
  return [];
}
