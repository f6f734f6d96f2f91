// In-memory products and shops with modifiedTime and a strictly increasing per-record version.
import { formatModifiedTime } from '../../../packages/contract/src/index.js';

export type Kind = 'product' | 'shop';
export type Rec = Record<string, unknown> & { id: number; modifiedTime: string; version: number };

export class SourceStore {
  readonly products = new Map<number, Rec>();
  readonly shops = new Map<number, Rec>();
  /** When a record was deleted (its tombstone version). */
  readonly deleted = new Map<string, number>();
  private last = 0;

  constructor(seedProducts: number) {
    const now = this.nextVersion();
    const shopCount = Math.max(1, Math.ceil(seedProducts / 10));
    for (let s = 1; s <= shopCount; s++) {
      this.shops.set(s, { id: s, name: `shop-${s}`, level: 5, goodCommentRate: 0.99, modifiedTime: formatModifiedTime(now), version: now });
    }
    for (let i = 1; i <= seedProducts; i++) {
      this.products.set(i, {
        id: i,
        name: `product-${i}`,
        price: 100 + (i % 900),
        pictureList: 'a.jpg,b.jpg',
        specification: `spec-${i}`,
        service: `service-${i}`,
        color: 'red',
        size: '5.5',
        shopId: ((i - 1) % shopCount) + 1,
        modifiedTime: formatModifiedTime(now),
        version: now,
      });
    }
  }

  /** Wall-clock ms, strictly greater than any version handed out before. */
  nextVersion(): number {
    this.last = Math.max(Date.now(), this.last + 1);
    return this.last;
  }

  map(kind: Kind): Map<number, Rec> {
    return kind === 'product' ? this.products : this.shops;
  }

  get(kind: Kind, id: number): Rec | undefined {
    return this.map(kind).get(id);
  }

  /** Merges `patch` into the record (creating it if absent) and bumps modifiedTime/version. */
  update(kind: Kind, id: number, patch: Record<string, unknown>): Rec {
    const v = this.nextVersion();
    const prev = this.map(kind).get(id);
    const clean = { ...patch };
    for (const k of ['id', 'modifiedTime', 'version', '_v', '_deleted', 'serviceId']) delete clean[k];
    const rec: Rec = { ...(prev ?? { name: `${kind}-${id}` }), ...clean, id, modifiedTime: formatModifiedTime(v), version: v };
    this.map(kind).set(id, rec);
    this.deleted.delete(`${kind}_${id}`);
    return rec;
  }

  delete(kind: Kind, id: number): number | undefined {
    if (!this.map(kind).delete(id)) return undefined;
    const v = this.nextVersion();
    this.deleted.set(`${kind}_${id}`, v);
    return v;
  }
}
