// Product and shop ids, one rule for every layer: the distribution and app layers (Lua repeats
// the pattern in workloads/openresty/lua/cachetier), the cache-producer (HTTP and change
// messages) and the sample source service. Decimal integers from 1 to 10^15-1: exact in a
// JavaScript number and in a Lua double, and short enough to bound every key built from one.

export const ID_MAX = 10 ** 15 - 1;
/** The whole rule as a pattern: no sign, no leading zero, at most 15 digits. */
export const ID_PATTERN = /^[1-9][0-9]{0,14}$/;

/** The id, from a number or a decimal string, when it follows the rule; undefined otherwise. */
export function parseEntityId(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 1 && v <= ID_MAX ? v : undefined;
  if (typeof v === 'string' && ID_PATTERN.test(v)) return Number(v);
  return undefined;
}
