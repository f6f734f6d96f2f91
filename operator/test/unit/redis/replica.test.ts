// attachReplica against a fake connection: the race CI hit (a restarted master turning replica
// between observation and FLUSHALL) re-observes; every other failure still fails the reconcile.
import { describe, expect, test } from '@jest/globals';
import type { Arg, RedisConn } from '../../../src/redis/client.js';
import { attachReplica } from '../../../src/redis/replica.js';

function fake(reply: (args: Arg[]) => unknown, log: string[]): RedisConn {
  return {
    async call(...args: Arg[]) {
      log.push(args.join(' '));
      const r = reply(args);
      if (r instanceof Error) throw r;
      return r;
    },
    close() {},
  };
}
const readonly = () => new Error("READONLY You can't write against a read only replica.");

describe('attachReplica', () => {
  test('an empty master with keys is flushed, then attached', async () => {
    const log: string[] = [];
    expect(await attachReplica(fake(() => 'OK', log), 'M1', { master: true, keys: 3 })).toBe('attached');
    expect(log).toEqual(['FLUSHALL', 'CLUSTER REPLICATE M1']);
  });

  test('a replica moving to another master is never flushed', async () => {
    const log: string[] = [];
    expect(await attachReplica(fake(() => 'OK', log), 'M2', { master: false, keys: 100 })).toBe('attached');
    expect(log).toEqual(['CLUSTER REPLICATE M2']);
  });

  test('seen as master, now a replica: FLUSHALL fails READONLY -> changed, no REPLICATE sent', async () => {
    const log: string[] = [];
    const conn = fake((a) => (a[0] === 'FLUSHALL' ? readonly() : a[0] === 'ROLE' ? ['slave', '127.0.1.5', 7000, 'connected', 10] : 'OK'), log);
    expect(await attachReplica(conn, 'M1', { master: true, keys: 5 })).toBe('changed');
    expect(log).toEqual(['FLUSHALL', 'ROLE']);
  });

  test('a failure on a member that is still a master is raised', async () => {
    const log: string[] = [];
    const conn = fake((a) => (a[1] === 'REPLICATE' ? new Error('ERR Unknown node M9') : a[0] === 'ROLE' ? ['master', 0, []] : 'OK'), log);
    await expect(attachReplica(conn, 'M9', { master: true, keys: 0 })).rejects.toThrow('Unknown node');
  });

  test('a failure on a member that was already a replica is raised, not retried forever', async () => {
    const conn = fake((a) => (a[1] === 'REPLICATE' ? new Error('ERR Unknown node M9') : a[0] === 'ROLE' ? ['slave'] : 'OK'), []);
    await expect(attachReplica(conn, 'M9', { master: false, keys: 0 })).rejects.toThrow('Unknown node');
  });

  test('ROLE itself failing leaves the original error', async () => {
    const conn = fake((a) => (a[0] === 'FLUSHALL' ? readonly() : a[0] === 'ROLE' ? new Error('connection lost') : 'OK'), []);
    await expect(attachReplica(conn, 'M1', { master: true, keys: 1 })).rejects.toThrow('READONLY');
  });
});
