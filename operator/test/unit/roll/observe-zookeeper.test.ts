import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fourLetterWord, parseMntr, parseSrvrMode, ZooKeeperRollObserver } from '../../../src/roll/observe-zookeeper.js';
import { pods } from './pods.js';

// Captured from a real ZooKeeper 3.8.4 ensemble (the rendered zoo.cfg, 3 servers).
const fixture = (name: string) => readFileSync(path.join('operator/test/fixtures/roll', name), 'utf8');

describe('srvr/mntr parsers on captured replies', () => {
  test('srvr: leader, follower, not serving', () => {
    expect(parseSrvrMode(fixture('zk-3.8.4-leader-srvr.txt'))).toBe('leader');
    expect(parseSrvrMode(fixture('zk-3.8.4-follower-srvr.txt'))).toBe('follower');
    expect(parseSrvrMode(fixture('zk-3.8.4-not-serving.txt'))).toBeNull();
    expect(parseSrvrMode('')).toBeNull();
    expect(parseSrvrMode('Mode: something-new\n')).toBeNull();
  });

  test('mntr: the leader reports zk_synced_followers; a follower does not', () => {
    const leader = parseMntr(fixture('zk-3.8.4-leader-mntr.txt'));
    expect(leader.zk_server_state).toBe('leader');
    expect(leader.zk_synced_followers).toBe('2');
    expect(leader.zk_version).toBe('3.8.4-9316c2a7a97e1666d8f4593f34dd6fc36ecc436c, built on 2024-02-12 22:16 UTC');
    const follower = parseMntr(fixture('zk-3.8.4-follower-mntr.txt'));
    expect(follower.zk_server_state).toBe('follower');
    expect(follower.zk_synced_followers).toBeUndefined();
    expect(parseMntr(fixture('zk-3.8.4-not-serving.txt'))).toEqual({});
  });
});

describe('ZooKeeperRollObserver against fake 4lw servers', () => {
  // Each fake answers one word per connection and closes, as ZooKeeper does; 'silent' never answers.
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  async function fake(host: string, port: number, replies: Record<string, string> | 'silent'): Promise<number> {
    const srv = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
      s.once('close', () => sockets.delete(s));
      if (replies !== 'silent') s.once('data', (d) => s.end(replies[d.toString()] ?? ''));
    });
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(port, host, r));
    return (srv.address() as net.AddressInfo).port;
  }
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  test('fourLetterWord: the whole reply; "" for a silent server, within its timeout', async () => {
    const port = await fake('127.0.9.1', 0, { srvr: fixture('zk-3.8.4-leader-srvr.txt') });
    expect(await fourLetterWord('127.0.9.1', port, 'srvr')).toBe(fixture('zk-3.8.4-leader-srvr.txt'));
    const silent = await fake('127.0.9.1', 0, 'silent');
    const t0 = Date.now();
    expect(await fourLetterWord('127.0.9.1', silent, 'srvr', 300)).toBe('');
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  test('modes of every pod, synced followers from the leader, null for no answer or no IP', async () => {
    // The observer asks every pod on one port: each fake has its own address on that port.
    const port = await fake('127.0.9.2', 0, { srvr: fixture('zk-3.8.4-leader-srvr.txt'), mntr: fixture('zk-3.8.4-leader-mntr.txt') });
    await fake('127.0.9.3', port, { srvr: fixture('zk-3.8.4-follower-srvr.txt') });
    await fake('127.0.9.4', port, { srvr: fixture('zk-3.8.4-not-serving.txt') });
    await fake('127.0.9.6', port, 'silent');
    const o = new ZooKeeperRollObserver({ port, timeoutMs: 500 });
    const ps = pods('zk', 6);
    ['127.0.9.2', '127.0.9.3', '127.0.9.4', '127.0.9.5' /* refused */, '127.0.9.6'].forEach((h, i) => (ps[i].host = h));
    delete ps[5].host;
    expect(await o.zookeeper(ps)).toEqual([
      { pod: 'zk-0', mode: 'leader', syncedFollowers: 2 },
      { pod: 'zk-1', mode: 'follower' },
      { pod: 'zk-2', mode: null },
      { pod: 'zk-3', mode: null },
      { pod: 'zk-4', mode: null },
      { pod: 'zk-5', mode: null },
    ]);
  });
});
