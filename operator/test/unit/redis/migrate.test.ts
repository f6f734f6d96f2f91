// Executor logic against a fake connection: atomic-migration detection and command shapes
// (Redis 8.4 / Valkey 9 aren't installed here), and the legacy protocol's ordering and abort rule.
import { describe, expect, test } from '@jest/globals';
import { ConnPool, type Arg, type RedisConn } from '../../../src/redis/client.js';
import { atomicMove, detectAtomicMigration, SlotMigrator } from '../../../src/redis/migrate.js';

type Handler = (args: Arg[]) => unknown;
function fake(handler: Handler, log: string[], name = 'n'): RedisConn {
  return {
    async call(...args: Arg[]) {
      log.push(`${name}: ${args.join(' ')}`);
      const r = handler(args);
      if (r instanceof Error) throw r;
      return r;
    },
    close() {},
  };
}

describe('atomic slot migration', () => {
  test('detects Redis 8.4 CLUSTER MIGRATION, Valkey 9 MIGRATESLOTS, and neither (Redis 7.0)', async () => {
    const log: string[] = [];
    const redis84 = fake((a) => (a[2] === 'cluster|migration' ? [['cluster|migration', -2]] : [null]), log);
    const valkey9 = fake((a) => (a[2] === 'cluster|migrateslots' ? [['cluster|migrateslots', -4]] : [null]), log);
    const redis70 = fake(() => [null], log);
    expect(await detectAtomicMigration(redis84)).toBe('redis-cluster-migration');
    expect(await detectAtomicMigration(valkey9)).toBe('valkey-migrateslots');
    expect(await detectAtomicMigration(redis70)).toBe('none');
  });

  test('Redis 8.4: IMPORT ranges on the target, poll STATUS until completed', async () => {
    const log: string[] = [];
    let polls = 0;
    const dst = fake((a) => {
      if (a[2] === 'IMPORT') return 'task-1';
      if (a[2] === 'STATUS') return [['id', 'task-1', 'state', ++polls < 3 ? 'running' : 'completed']];
      return 'OK';
    }, log, 'dst');
    const src = fake(() => 'OK', log, 'src');
    await atomicMove('redis-cluster-migration', src, dst, [5, 6, 7, 100], { id: 'T', host: 'h', port: 1 }, 5000, 1);
    expect(log[0]).toBe('dst: CLUSTER MIGRATION IMPORT 5 7 100 100');
    expect(log.filter((l) => l.includes('STATUS ID task-1'))).toHaveLength(3);
  });

  test('Valkey 9: MIGRATESLOTS on the source; a failed job surfaces as an error', async () => {
    const log: string[] = [];
    const src = fake((a) => {
      if (a[1] === 'MIGRATESLOTS') return 'OK';
      if (a[1] === 'GETSLOTMIGRATIONS') return [['name', 'x', 'operation', 'EXPORT', 'slot_ranges', '0-9', 'target_node', 'T', 'state', 'failed', 'message', 'boom']];
      return 'OK';
    }, log, 'src');
    await expect(atomicMove('valkey-migrateslots', src, src, [...Array(10).keys()], { id: 'T', host: 'h', port: 1 }, 5000, 1)).rejects.toThrow(/failed: boom/);
    expect(log[0]).toBe('src: CLUSTER MIGRATESLOTS SLOTSRANGE 0 9 NODE T');
  });
});

describe('legacy protocol', () => {
  function cluster(opts: { migrateFails: boolean }) {
    const log: string[] = [];
    const srcKeys = new Set(['a', 'b', 'c']);
    const dstKeys = new Set<string>();
    const handlers: Record<string, Handler> = {
      'h1:1': (a) => {
        if (a[1] === 'GETKEYSINSLOT') return [...srcKeys].slice(0, Number(a[3]));
        if (a[1] === 'COUNTKEYSINSLOT') return srcKeys.size;
        if (a[0] === 'MIGRATE') {
          if (opts.migrateFails) return new Error('ERR Target instance replied with error: OOM command not allowed');
          const ks = a.slice(a.indexOf('KEYS') + 1).map(String);
          for (const k of ks) {
            srcKeys.delete(k);
            dstKeys.add(k);
          }
          return 'OK';
        }
        return 'OK';
      },
      'h2:2': (a) => {
        if (a[1] === 'GETKEYSINSLOT') return [...dstKeys];
        return 'OK';
      },
    };
    const pool = new ConnPool((host, port) => fake(handlers[`${host}:${port}`] ?? (() => 'OK'), log, `${host}`), undefined);
    return { log, pool, srcKeys, dstKeys };
  }
  const A = { id: 'A', host: 'h1', port: 1 };
  const B = { id: 'B', host: 'h2', port: 2 };
  const C = { id: 'C', host: 'h3', port: 3 };

  test('IMPORTING before MIGRATING; SETSLOT NODE only after COUNTKEYSINSLOT is 0; target, source, then others', async () => {
    const c = cluster({ migrateFails: false });
    const m = new SlotMigrator(c.pool, { batchKeys: 2, migrateTimeoutMs: 1000, retries: 1 }, [A, B, C]);
    const r = await m.move(7, A, B);
    expect(r.ok).toBe(true);
    expect(r.keys).toBe(3);
    const idx = (s: string) => c.log.findIndex((l) => l.includes(s));
    expect(idx('h2: CLUSTER SETSLOT 7 IMPORTING A')).toBeLessThan(idx('h1: CLUSTER SETSLOT 7 MIGRATING B'));
    expect(c.log.filter((l) => l.startsWith('h1: MIGRATE'))).toHaveLength(2); // batches of 2
    expect(c.log.find((l) => l.startsWith('h1: MIGRATE'))).toContain('KEYS a b');
    expect(idx('h1: CLUSTER COUNTKEYSINSLOT 7')).toBeLessThan(idx('h2: CLUSTER SETSLOT 7 NODE B'));
    expect(idx('h2: CLUSTER SETSLOT 7 NODE B')).toBeLessThan(idx('h1: CLUSTER SETSLOT 7 NODE B'));
    expect(idx('h3: CLUSTER SETSLOT 7 NODE B')).toBeGreaterThan(idx('h1: CLUSTER SETSLOT 7 NODE B'));
  });

  test('a MIGRATE that keeps failing is aborted: no SETSLOT NODE anywhere, both sides STABLE', async () => {
    const c = cluster({ migrateFails: true });
    const m = new SlotMigrator(c.pool, { batchKeys: 10, migrateTimeoutMs: 1000, retries: 2 }, [A, B, C]);
    const r = await m.move(7, A, B);
    expect(r.ok).toBe(false);
    expect(r.aborted).toBe(true);
    expect(r.error).toMatch(/OOM/);
    expect(c.log.filter((l) => l.startsWith('h1: MIGRATE'))).toHaveLength(3); // 1 + 2 retries
    expect(c.log.some((l) => l.includes('SETSLOT 7 NODE'))).toBe(false);
    expect(c.log).toContain('h1: CLUSTER SETSLOT 7 STABLE');
    expect(c.log).toContain('h2: CLUSTER SETSLOT 7 STABLE');
    expect(c.srcKeys.size).toBe(3);
  });
});
