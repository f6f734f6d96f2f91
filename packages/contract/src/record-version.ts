// Record versions, shared by the source service (writes them) and the cache-producer (orders
// writes by them). The contract: version = the record's explicit integer `version` if present,
// else `modifiedTime` ("YYYY-MM-DD HH:mm:ss", optional ".SSS") read as UTC, in epoch ms.

const MODIFIED_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/;

/** Parses "YYYY-MM-DD HH:mm:ss[.SSS]" as UTC; undefined when malformed or not a real date. */
export function parseModifiedTime(s: unknown): number | undefined {
  if (typeof s !== 'string') return undefined;
  const m = MODIFIED_TIME.exec(s.trim());
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number);
  const ms = m[7] ? Number(m[7].padEnd(3, '0')) : 0;
  const t = Date.UTC(y, mo - 1, d, h, mi, se, ms);
  const back = new Date(t);
  // Reject rollovers such as 2026-02-31 or 25:00:00.
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || back.getUTCHours() !== h || back.getUTCMinutes() !== mi || back.getUTCSeconds() !== se) {
    return undefined;
  }
  return t;
}

export function formatModifiedTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, '');
}

/** A record's version: explicit non-negative safe-integer `version`, else modifiedTime; undefined if neither. */
export function recordVersion(rec: Record<string, unknown>): number | undefined {
  const v = rec.version;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && /^\d{1,15}$/.test(v)) return Number(v);
  return parseModifiedTime(rec.modifiedTime);
}
