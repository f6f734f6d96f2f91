// Change messages on `cache-message`, in exactly two shapes:
//   pull  {"serviceId":"productInfoService","productId":1,"shopId":1}   (fetch fresh data from the source)
//   push  {"serviceId":"productInfoService","id":200,...,"modifiedTime":"..."} (the record itself)
// Anything else is rejected with a reason (it goes to the dead-letter topic).
import { KEY_PREFIX, parseEntityId, recordVersion } from '../../../packages/contract/src/index.js';

export type ServiceId = 'productInfoService' | 'shopInfoService';
export type EntityKind = 'product' | 'shop';
export const SERVICE_KIND: Record<ServiceId, EntityKind> = {
  productInfoService: 'product',
  shopInfoService: 'shop',
};
export const MAX_MESSAGE_BYTES = 64 * 1024;

export interface Entity {
  kind: EntityKind;
  id: number;
}

export type ChangeMessage =
  | { type: 'pull'; serviceId: ServiceId; entity: Entity; productId: number }
  | { type: 'push'; serviceId: ServiceId; entity: Entity; productId: number; record: Record<string, unknown>; version: number };

export type ParseResult = { ok: true; msg: ChangeMessage } | { ok: false; reason: string; detail: string };

export function redisKey(e: Entity): string {
  return `${KEY_PREFIX[e.kind]}${e.id}`;
}
export function entityName(e: Entity): string {
  return `${e.kind}_${e.id}`;
}

/** An id by the contract's rule (1 to 10^15-1, number or decimal string); undefined otherwise. */
export const parseId = parseEntityId;

const fail = (reason: string, detail: string): ParseResult => ({ ok: false, reason, detail });

/** Versions beyond `now + maxFutureSkewMs` are refused (a forged huge version would pin a record). */
export interface VersionBound {
  now: number;
  maxFutureSkewMs: number;
}

/**
 * Why `version` may not be written: it is ahead of the clock by more than the allowed skew.
 * Versions are epoch-ms timestamps or counters; a counter is far below any current time in ms.
 */
export function futureVersion(version: number, bound: VersionBound | undefined): string | undefined {
  if (!bound || version <= bound.now + bound.maxFutureSkewMs) return undefined;
  return `version ${version} is ${Math.round((version - bound.now) / 1000)} s ahead of this producer's clock (at most ${bound.maxFutureSkewMs / 1000} s allowed)`;
}

/**
 * Parses one message value. `fallbackVersion` (the Kafka message timestamp) versions a push record
 * that carries neither `version` nor `modifiedTime` (a push may omit both).
 */
export function parseChangeMessage(value: Buffer | string | null | undefined, fallbackVersion?: number, bound?: VersionBound): ParseResult {
  if (value === null || value === undefined) return fail('empty', 'message has no value');
  const size = typeof value === 'string' ? Buffer.byteLength(value) : value.length;
  if (size === 0) return fail('empty', 'message value is empty');
  if (size > MAX_MESSAGE_BYTES) return fail('too_large', `message is ${size} bytes (max ${MAX_MESSAGE_BYTES})`);
  let obj: unknown;
  try {
    obj = JSON.parse(typeof value === 'string' ? value : value.toString('utf8'));
  } catch (e) {
    return fail('bad_json', (e as Error).message.slice(0, 200));
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return fail('not_object', 'message is not a JSON object');
  const rec = obj as Record<string, unknown>;
  const sid = rec.serviceId;
  if (typeof sid !== 'string') return fail('bad_service_id', 'serviceId missing or not a string');
  if (!Object.hasOwn(SERVICE_KIND, sid)) return fail('unknown_service_id', `unknown serviceId ${JSON.stringify(sid).slice(0, 100)}`);
  const serviceId = sid as ServiceId;
  const kind = SERVICE_KIND[serviceId];

  if (!('id' in rec)) {
    // pull: productId (+ shopId for the shop service)
    const productId = parseId(rec.productId);
    if (productId === undefined) return fail('bad_type', 'productId must be a positive integer');
    if (kind === 'product') {
      if (rec.shopId !== undefined && parseId(rec.shopId) === undefined) return fail('bad_type', 'shopId must be a positive integer');
      return { ok: true, msg: { type: 'pull', serviceId, entity: { kind, id: productId }, productId } };
    }
    const shopId = parseId(rec.shopId);
    if (shopId === undefined) return fail('bad_type', 'shopId must be a positive integer');
    return { ok: true, msg: { type: 'pull', serviceId, entity: { kind, id: shopId }, productId } };
  }

  // push: the full record
  const id = parseId(rec.id);
  if (id === undefined) return fail('bad_type', 'id must be a positive integer');
  if (rec.modifiedTime !== undefined && typeof rec.modifiedTime !== 'string') return fail('bad_type', 'modifiedTime must be a string');
  let version = recordVersion(rec);
  if (version === undefined) {
    if (rec.version !== undefined || rec.modifiedTime !== undefined) return fail('bad_version', 'version/modifiedTime unparseable');
    if (fallbackVersion === undefined) return fail('bad_version', 'record has no version or modifiedTime');
    version = fallbackVersion;
  }
  const tooNew = futureVersion(version, bound);
  if (tooNew) return fail('version_in_future', tooNew);
  const record = { ...rec };
  delete record.serviceId;
  delete record._v;
  delete record._deleted;
  const productId = kind === 'product' ? id : (parseId(rec.productId) ?? id);
  return { ok: true, msg: { type: 'push', serviceId, entity: { kind, id }, productId, record, version } };
}

/** One unit of work for an entity after coalescing a batch. */
export interface Job {
  entity: Entity;
  serviceId: ServiceId;
  productId: number;
  /** Fetch the latest from the source (some pull message asked for it). */
  pull: boolean;
  /** The newest pushed record of the batch, if any. */
  push?: { record: Record<string, unknown>; version: number };
  /** Messages folded into this job. */
  count: number;
  /** Earliest message timestamp (for end-to-end lag). */
  firstTimestamp: number;
}

/**
 * Coalesces a batch (in offset order) into one job per entity: a pull anywhere means "fetch the
 * latest" (which subsumes older pulls), and of the pushed records only the highest version is kept
 * (ties: the later message). Output order = first appearance, so per-entity order is preserved.
 */
export function coalesce(items: { msg: ChangeMessage; timestamp: number }[]): Job[] {
  const jobs = new Map<string, Job>();
  for (const { msg, timestamp } of items) {
    const k = entityName(msg.entity);
    let job = jobs.get(k);
    if (!job) {
      job = { entity: msg.entity, serviceId: msg.serviceId, productId: msg.productId, pull: false, count: 0, firstTimestamp: timestamp };
      jobs.set(k, job);
    }
    job.count++;
    job.firstTimestamp = Math.min(job.firstTimestamp, timestamp);
    if (msg.type === 'pull') job.pull = true;
    else if (!job.push || msg.version >= job.push.version) job.push = { record: msg.record, version: msg.version };
  }
  return [...jobs.values()];
}
