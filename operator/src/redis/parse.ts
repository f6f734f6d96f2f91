// Parsers for Redis Cluster replies (CLUSTER NODES, CLUSTER INFO) and slot-range helpers.
// Pure functions: unit-tested without servers.

export const SLOT_COUNT = 16384;

export interface ClusterNodeLine {
  id: string;
  host: string;
  port: number;
  flags: Set<string>;
  /** Master node ID for replicas; undefined for masters. */
  masterId?: string;
  configEpoch: number;
  connected: boolean;
  slots: number[];
  /** slot -> target node ID (this node is MIGRATING the slot). */
  migrating: Map<number, string>;
  /** slot -> source node ID (this node is IMPORTING the slot). */
  importing: Map<number, string>;
}

export function parseClusterNodes(text: string): ClusterNodeLine[] {
  const out: ClusterNodeLine[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const f = line.split(' ');
    if (f.length < 8) continue;
    const [id, addr, flagStr, master, , , epoch, link] = f;
    const addrPart = addr.split(',')[0].split('@')[0];
    const colon = addrPart.lastIndexOf(':');
    const host = colon >= 0 ? addrPart.slice(0, colon) : '';
    const port = colon >= 0 ? Number(addrPart.slice(colon + 1)) : 0;
    const n: ClusterNodeLine = {
      id,
      host,
      port,
      flags: new Set(flagStr.split(',')),
      masterId: master === '-' ? undefined : master,
      configEpoch: Number(epoch),
      connected: link === 'connected',
      slots: [],
      migrating: new Map(),
      importing: new Map(),
    };
    for (const s of f.slice(8)) {
      if (s.startsWith('[')) {
        const inner = s.slice(1, -1);
        const mig = inner.indexOf('->-');
        const imp = inner.indexOf('-<-');
        if (mig > 0) n.migrating.set(Number(inner.slice(0, mig)), inner.slice(mig + 3));
        else if (imp > 0) n.importing.set(Number(inner.slice(0, imp)), inner.slice(imp + 3));
        continue;
      }
      const dash = s.indexOf('-');
      if (dash < 0) n.slots.push(Number(s));
      else {
        const a = Number(s.slice(0, dash));
        const b = Number(s.slice(dash + 1));
        for (let i = a; i <= b; i++) n.slots.push(i);
      }
    }
    out.push(n);
  }
  return out;
}

export function isMaster(n: ClusterNodeLine): boolean {
  return n.flags.has('master');
}
export function isFailed(n: ClusterNodeLine): boolean {
  return n.flags.has('fail') || n.flags.has('fail?') || n.flags.has('noaddr') || n.flags.has('handshake');
}

export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

/** [[start, end], ...] inclusive, for sorted or unsorted slots. */
export function toRanges(slots: Iterable<number>): Array<[number, number]> {
  const s = [...new Set(slots)].sort((a, b) => a - b);
  const out: Array<[number, number]> = [];
  for (const x of s) {
    const last = out[out.length - 1];
    if (last && last[1] === x - 1) last[1] = x;
    else out.push([x, x]);
  }
  return out;
}

/** "0-5460,10923" style. */
export function formatSlots(slots: Iterable<number>): string {
  return toRanges(slots)
    .map(([a, b]) => (a === b ? String(a) : `${a}-${b}`))
    .join(',');
}
