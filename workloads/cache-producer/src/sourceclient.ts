// HTTP client for the source services: timeouts, retries with exponential backoff + jitter on
// network errors / 5xx / 429; 404 means the entity is gone (the producer writes a tombstone).
import { futureVersion, type Entity, type VersionBound } from './messages.js';
import { recordVersion } from '../../../packages/contract/src/index.js';

export type SourceResult =
  | { status: 'found'; record: Record<string, unknown>; version: number }
  /** `version` only when the source said when the entity was deleted. */
  | { status: 'gone'; version?: number };

/** Dead-letter reasons of a source failure. */
export type SourceFailure = 'source_rejected' | 'source_failed' | 'version_in_future';

export class SourceError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly reason: SourceFailure = retryable ? 'source_failed' : 'source_rejected',
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
  /** Waits for (or refuses) a call slot before every call: the source-call budget. */
  beforeCall?: () => Promise<void>;
  bound?: VersionBound;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function fetchEntity(baseUrl: string, entity: Entity, opts: SourceClientOptions = {}): Promise<SourceResult> {
  const { timeoutMs = 2000, attempts = 4, baseBackoffMs = 50 } = opts;
  const url = `${baseUrl}/${entity.kind}/${entity.id}`;
  let last: SourceError | undefined;
  for (let i = 0; i < attempts; i++) {
    if (i > 0) await sleep(baseBackoffMs * 2 ** (i - 1) * (0.5 + Math.random()));
    await opts.beforeCall?.();
    opts.onCall?.();
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    } catch (e) {
      last = new SourceError(`GET ${url}: ${(e as Error).message}`, true);
      continue;
    }
    if (res.status === 404) {
      // The source may say when the entity was deleted. Without that, the tombstone takes no
      // version of its own: the producer's clock must never outrank a record the source makes later.
      const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      const v = typeof body.version === 'number' && Number.isSafeInteger(body.version) && body.version >= 0 ? body.version : undefined;
      const tooNew = v === undefined ? undefined : futureVersion(v, opts.bound);
      if (tooNew) throw new SourceError(`GET ${url}: deletion ${tooNew}`, false, 'version_in_future');
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
    const tooNew = futureVersion(version, opts.bound);
    if (tooNew) throw new SourceError(`GET ${url}: record ${tooNew}`, false, 'version_in_future');
    return { status: 'found', record: rec as Record<string, unknown>, version };
  }
  throw last ?? new SourceError(`GET ${url}: failed`, true);
}
