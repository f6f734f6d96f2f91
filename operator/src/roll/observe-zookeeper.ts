// The ZooKeeper part of RollObserver: each pod's server asked with the four-letter words the
// rendered zoo.cfg allows (`srvr` for the mode, `mntr` on the leader for zk_synced_followers),
// over plain TCP to <pod IP>:2181, 2 s per word. A server that does not answer, or answers
// "not currently serving requests", has mode null: the planner waits; nothing here throws.
import net from 'node:net';
import { ZK_PORTS } from '../../../packages/contract/src/index.js';
import type { RollPod, ZooKeeperServerState } from './types.js';

type Mode = ZooKeeperServerState['mode'];
const MODES: ReadonlySet<string> = new Set(['leader', 'follower', 'observer', 'standalone']);

/** Sends a four-letter word; resolves with the whole reply, '' on any error or timeout. */
export function fourLetterWord(host: string, port: number, word: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ host, port });
    let settled = false;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve(ok ? Buffer.concat(chunks).toString('utf8') : '');
    };
    // An overall deadline (setTimeout on the socket only bounds idle time).
    const timer = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => s.write(word));
    s.on('data', (d: Buffer) => chunks.push(d));
    s.once('end', () => done(true));
    s.once('close', () => done(true));
    s.once('error', () => done(false));
  });
}

/** `srvr` reply -> mode; null for "not currently serving requests", '' or anything unexpected. */
export function parseSrvrMode(text: string): Mode {
  const m = /^Mode: (\w+)\s*$/m.exec(text);
  return m && MODES.has(m[1]) ? (m[1] as Mode) : null;
}

/** `mntr` reply -> its key/value pairs (tab-separated lines); {} when not serving. */
export function parseMntr(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab > 0) out[line.slice(0, tab)] = line.slice(tab + 1).trim();
  }
  return out;
}

export interface ZooKeeperRollObserverOptions {
  /** Client port (ZK_PORTS.client, 2181). */
  port?: number;
  /** Per four-letter word (2000 ms). */
  timeoutMs?: number;
}

export class ZooKeeperRollObserver {
  private readonly port: number;
  private readonly timeoutMs: number;

  constructor(opts: ZooKeeperRollObserverOptions = {}) {
    this.port = opts.port ?? ZK_PORTS.client;
    this.timeoutMs = opts.timeoutMs ?? 2000;
  }

  async server(pod: RollPod): Promise<ZooKeeperServerState> {
    if (!pod.host) return { pod: pod.pod, mode: null };
    const mode = parseSrvrMode(await fourLetterWord(pod.host, this.port, 'srvr', this.timeoutMs));
    if (mode !== 'leader') return { pod: pod.pod, mode };
    const mntr = parseMntr(await fourLetterWord(pod.host, this.port, 'mntr', this.timeoutMs));
    const synced = Number(mntr.zk_synced_followers);
    return { pod: pod.pod, mode, ...(mntr.zk_synced_followers !== undefined && Number.isFinite(synced) ? { syncedFollowers: synced } : {}) };
  }

  zookeeper(pods: RollPod[]): Promise<ZooKeeperServerState[]> {
    return Promise.all(pods.map((p) => this.server(p)));
  }
}
