// The shape every rendered child has, apart from the renderers that build them (so the
// reconciler, tests and renderers import it without importing each other).
import type { V1ObjectMeta } from '@kubernetes/client-node';

/** A child as the reconciler sees it: identity plus whatever fields its kind has. */
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

/**
 * A rendered object of one kind: client-node's model type (e.g. V1StatefulSet), with the
 * identity fields a child always has. Type-only: the objects stay plain JSON, no client classes.
 */
export type Rendered<T extends { apiVersion?: string; kind?: string; metadata?: V1ObjectMeta }> = T &
  KubeObject & { metadata: V1ObjectMeta & { name: string } };
