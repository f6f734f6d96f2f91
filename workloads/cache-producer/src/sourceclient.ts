// HTTP client for the source services: timeouts, retries with exponential backoff + jitter on
// network errors / 5xx / 429; 404 means the entity is gone (the producer writes a tombstone).
import type { Entity } from './messages.js';
import { recordVersion } from '../../../packages/contract/src/index.js';

export type SourceResult =
  | { status: 'found'; record: Record<string, unknown>; version: number }
  | { status: 'gone'; version: number };

export class SourceError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'SourceError';
  }
}

export interface SourceClientOptions {
  timeoutMs?: number;
  attempts?: number;
  baseBackoffMs?: number;
  onCall?: () => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function fetchEntity(baseUrl: string, entity: Entity, opts: SourceClientOptions = {}): Promise<SourceResult> {
  const { timeoutMs = 2000, attempts = 4, baseBackoffMs = 50 } = opts;
  const url = `${baseUrl}/${entity.kind}/${entity.id}`;
  let last: SourceError | undefined;
  for (let i = 0; i < attempts; i++) {
    if (i > 0) await sleep(baseBackoffMs * 2 ** (i - 1) * (0.5 + Math.random()));
    opts.onCall?.();
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    } catch (e) {
      last = new SourceError(`GET ${url}: ${(e as Error).message}`, true);
      continue;
    }
    if (res.status === 404) {
      // The source may say when the entity was deleted; otherwise "now" versions the tombstone.
      const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      const v = typeof body.version === 'number' && Number.isSafeInteger(body.version) ? body.version : Date.now();
      return { status: 'gone', version: v };
    }
    if (res.status >= 500 || res.status === 429) {
      await res.arrayBuffer().catch(() => undefined);
      last = new SourceError(`GET ${url}: HTTP ${res.status}`, true);
      continue;
    }
    if (res.status !== 200) {
      await res.arrayBuffer().catch(() => undefined);
      throw new SourceError(`GET ${url}: HTTP ${res.status}`, false);
    }
    let rec: unknown;
    try {
      rec = await res.json();
    } catch (e) {
      last = new SourceError(`GET ${url}: bad JSON: ${(e as Error).message}`, true);
      continue;
    }
    if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) throw new SourceError(`GET ${url}: not a JSON object`, false);
    const version = recordVersion(rec as Record<string, unknown>);
    if (version === undefined) throw new SourceError(`GET ${url}: record has no version/modifiedTime`, false);
    return { status: 'found', record: rec as Record<string, unknown>, version };
  }
  throw last ?? new SourceError(`GET ${url}: failed`, true);
}
