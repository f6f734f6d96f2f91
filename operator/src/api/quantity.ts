// Kubernetes resource quantities ("500m", "1Gi", "1e3"): the one parser the operator uses, both
// to size heaps and workers from spec resources and to compare rendered with live resources.

const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei)|([numkKMGTPE])|[eE]([+-]?\d+))?$/;
const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
/** Decimal suffixes as powers of ten; "K" is not Kubernetes syntax but users write it for kilo. */
const DECIMAL_EXP: Record<string, number> = { n: -9, u: -6, m: -3, k: 3, K: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

/** Numeric value of a Kubernetes quantity, or undefined when it is not one. */
export function parseQuantity(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const m = QUANTITY.exec(s.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  if (m[2]) return n * BINARY[m[2]];
  const exp = m[3] ? DECIMAL_EXP[m[3]] : m[4] ? Number(m[4]) : 0;
  // Divide for negative exponents: 100 / 1e3 is exactly 0.1, 100 * 1e-3 is not.
  return exp >= 0 ? n * 10 ** exp : n / 10 ** -exp;
}
