// Redis side of the producer: the compare-and-set that fences every write, reads, and the short
// "fill" lock that makes HTTP cache fills single-flight across replicas.
import { randomUUID } from 'node:crypto';
import type { Cluster } from 'ioredis';

/**
 * KEYS[1] key; ARGV[1] new version; ARGV[2] new value (JSON, starting with {"_v":N);
 * ARGV[3] TTL ms ("0" = none); ARGV[4] invalidation channel ("" = don't publish; the message is
 * "<key> <version written>", see the contract's INVALIDATION_CHANNEL);
 * ARGV[5] "1" = announce every write, "0" = only writes that replace a stored value (a read-through
 * fill of an absent key: no L1 anywhere holds a copy of it, and announcing would make every app
 * layer drop the fill it just made);
 * ARGV[6] "1" = a tombstone with no version of its own (the source said "not found" without
 * saying when): it takes the stored record's version, so it hides that record and every older
 * one but never a newer record the source makes later; over a tombstone it changes nothing.
 * Returns {1} written | {0, cur} older than stored | {2, cur} same version (no-op).
 * The stored version is read with a pattern first (we always write `_v` first) and cjson as a
 * fallback, so a value written by anything else still compares correctly.
 */
export const CAS_LUA = `
local cur = redis.call('GET', KEYS[1])
local newv = tonumber(ARGV[1])
local value = ARGV[2]
if cur then
  local curv = tonumber(string.match(cur, '^{"_v":(%d+)'))
  local deleted = string.find(cur, '"_deleted":true', 1, true) ~= nil
  if not curv then
    local ok, obj = pcall(cjson.decode, cur)
    if ok and type(obj) == 'table' then curv = tonumber(obj['_v']); deleted = obj['_deleted'] == true end
  end
  if ARGV[6] == '1' then
    if deleted then return {2, cur} end
    if curv then
      newv = curv
      value = '{"_v":' .. string.format('%d', curv) .. ',"_deleted":true}'
    end
  elseif curv then
    if newv < curv then return {0, cur} end
    if newv == curv then return {2, cur} end
  end
end
local ttl = tonumber(ARGV[3])
if ttl and ttl > 0 then
  redis.call('SET', KEYS[1], value, 'PX', ttl)
else
  redis.call('SET', KEYS[1], value)
end
if ARGV[4] ~= '' and (cur or ARGV[5] == '1') then
  redis.call('PUBLISH', ARGV[4], KEYS[1] .. ' ' .. string.format('%d', newv))
end
return {1, value}
`;

const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export type CasOutcome = { result: 'written'; value: string } | { result: 'stale' | 'equal'; value: string };

interface CasCommands {
  cachetierCas(key: string, version: string, value: string, ttl: string, channel: string, announceNew: string, weakTombstone: string): Promise<[number, string?]>;
  cachetierRelease(key: string, token: string): Promise<number>;
}

/** Serialises a record for Redis with `_v` first (the Lua script's fast path relies on it). */
export function encodeRecord(record: Record<string, unknown>, version: number): string {
  const rest = { ...record };
  delete rest._v;
  delete rest._deleted;
  return JSON.stringify({ _v: version, ...rest });
}
export function encodeTombstone(version: number): string {
  return JSON.stringify({ _v: version, _deleted: true });
}

export interface StoredValue {
  raw: string;
  version: number;
  deleted: boolean;
}
export function decodeStored(raw: string | null | undefined): StoredValue | undefined {
  if (raw === null || raw === undefined) return undefined;
  try {
    const obj = JSON.parse(raw) as Record<string, unknown>;
    const v = typeof obj._v === 'number' ? obj._v : Number(obj._v);
    return { raw, version: Number.isFinite(v) ? v : 0, deleted: obj._deleted === true };
  } catch {
    return undefined;
  }
}

export class RedisStore {
  private readonly cmd: CasCommands;
  constructor(
    readonly redis: Cluster,
    private readonly channel: string,
  ) {
    redis.defineCommand('cachetierCas', { numberOfKeys: 1, lua: CAS_LUA });
    redis.defineCommand('cachetierRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
    this.cmd = redis as unknown as CasCommands;
  }

  /**
   * Atomic compare-and-set on `_v`: newer wins, equal is a no-op, older is refused. A weak
   * tombstone (no version of its own) takes the stored record's version (see CAS_LUA).
   */
  async cas(key: string, value: string, version: number, ttlMs = 0, announceNew = true, weakTombstone = false): Promise<CasOutcome> {
    const r = await this.cmd.cachetierCas(key, String(version), value, String(ttlMs), this.channel, announceNew ? '1' : '0', weakTombstone ? '1' : '0');
    const code = Number(r[0]);
    if (code === 1) return { result: 'written', value: String(r[1] ?? value) };
    return { result: code === 0 ? 'stale' : 'equal', value: String(r[1] ?? '') };
  }

  /**
   * Waits (bounded) until every master's writes on our connection to it have reached `replicas`
   * replicas. Resolves to the masters that timed out short of that; throws when a master cannot
   * be asked (it may have died with writes its replica never got: the caller must redo them).
   */
  async waitReplicated(replicas: number, timeoutMs: number): Promise<string[]> {
    if (replicas <= 0) return [];
    const masters = this.redis.nodes('master');
    const acks = await Promise.all(masters.map((m) => m.call('WAIT', replicas, timeoutMs) as Promise<number>));
    return masters.filter((_, i) => Number(acks[i]) < replicas).map((m) => `${m.options.host}:${m.options.port}`);
  }

  async get(key: string): Promise<string | null> {
    return this.redis.get(key);
  }

  /** Try to take the cross-replica fill lock for a key; returns a release function or undefined. */
  async tryFillLock(key: string, ttlMs: number): Promise<(() => Promise<void>) | undefined> {
    const lockKey = `cachetier:fill:${key}`;
    const token = randomUUID();
    const ok = await this.redis.set(lockKey, token, 'PX', ttlMs, 'NX');
    if (ok !== 'OK') return undefined;
    return async () => {
      await this.cmd.cachetierRelease(lockKey, token).catch(() => undefined);
    };
  }

  async fillLockHeld(key: string): Promise<boolean> {
    return (await this.redis.exists(`cachetier:fill:${key}`)) === 1;
  }
}
