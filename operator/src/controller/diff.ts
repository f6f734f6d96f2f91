// "Is what we want already there?" — the test that decides whether a child gets applied.
// The desired object must be a subset of the live one: every field we render must be present
// with an equal value; fields the API server defaults, other managers' fields (e.g. the
// restartedAt annotation of `kubectl rollout restart`) and status are ignored, so they are
// never seen as drift and never reverted. Arrays are compared element by element (same length:
// an item we stopped rendering is drift).

import { parseQuantity } from '../api/quantity.js';

export type Path = (string | number)[];

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Values the API server omits when serialising (omitempty): a desired "", 0, false, {}, [] or
 * null matches an absent live field.
 */
function isEmptyValue(v: unknown): boolean {
  if (v === undefined || v === null || v === '' || v === 0 || v === false) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (isPlainObject(v)) return Object.values(v).every((x) => x === undefined);
  return false;
}

/** Resource quantities are canonicalised by the API server ("0.5" -> "500m"); compare values. */
function isQuantityPath(path: Path): boolean {
  return path.some((p) => p === 'requests' || p === 'limits' || p === 'capacity');
}

function scalarEqual(desired: unknown, live: unknown, path: Path): boolean {
  if (desired === live) return true;
  if (isQuantityPath(path)) {
    const a = typeof desired === 'number' ? desired : typeof desired === 'string' ? parseQuantity(desired) : undefined;
    const b = typeof live === 'number' ? live : typeof live === 'string' ? parseQuantity(live) : undefined;
    if (a !== undefined && b !== undefined) return Math.abs(a - b) <= Math.abs(a) * 1e-12;
  }
  return false;
}

/** The first path where `desired` is not contained in `live`, or undefined when it is. */
export function firstDifference(desired: unknown, live: unknown, path: Path = []): Path | undefined {
  if (live === undefined || live === null) return isEmptyValue(desired) ? undefined : path;
  if (isPlainObject(desired)) {
    if (!isPlainObject(live)) return isEmptyValue(desired) ? undefined : path;
    for (const [k, v] of Object.entries(desired)) {
      if (v === undefined) continue;
      const d = firstDifference(v, live[k], [...path, k]);
      if (d) return d;
    }
    return undefined;
  }
  if (Array.isArray(desired)) {
    if (!Array.isArray(live) || live.length !== desired.length) return path;
    for (let i = 0; i < desired.length; i++) {
      const d = firstDifference(desired[i], live[i], [...path, i]);
      if (d) return d;
    }
    return undefined;
  }
  return scalarEqual(desired, live, path) ? undefined : path;
}

export function isSubset(desired: unknown, live: unknown): boolean {
  return firstDifference(desired, live) === undefined;
}

export function formatPath(path: Path): string {
  return path.length === 0 ? '(object)' : path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('').slice(1);
}

/** Structural equality for JSON values, ignoring key order and undefined members. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}
