// "Is what we want already there?" — the test that decides whether a child gets applied.
// The desired object must be a subset of the live one: every field we render must be present
// with an equal value; fields the API server defaults, other managers' fields (e.g. the
// restartedAt annotation of `kubectl rollout restart`) and status are ignored, so they are
// never seen as drift and never reverted. Arrays are compared element by element (same length:
// an item we stopped rendering is drift).

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

const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei)|([numkMGTPE])|[eE]([+-]?\d+))?$/;
const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** Numeric value of a Kubernetes quantity ("500m", "1Gi", "1e3"), or undefined. */
export function parseQuantity(s: string): number | undefined {
  const m = QUANTITY.exec(s);
  if (!m) return undefined;
  const n = Number(m[1]);
  if (m[2]) return n * BINARY[m[2]];
  if (m[3]) return n * DECIMAL[m[3]];
  if (m[4]) return n * 10 ** Number(m[4]);
  return n;
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
