import { ChainCalendar, parseDate } from './calendar.ts';
import { Catalogue } from './catalogue.ts';
import { hashInts, mix32 } from './rng.ts';
import { createStores, type SimStore } from './stores.ts';

export interface SimOptions {
  seed: number;
  members: number;
  stores: number;
  weeks: number;
  /** Last day of the history, `YYYY-MM-DD` in the chain's zone (inclusive). */
  endDate: string;
  /** IANA zone of every store; default `America/New_York`. */
  timeZone?: string;
}

/** Share of (store, product, 4-day block) cells that are out of stock. */
const STOCKOUT_RATE = 0.02;
const STOCKOUT_BLOCK_DAYS = 4;

/**
 * What all members share: the stores, the catalogue and its prices, the calendar and the
 * shelves' stock. Built once per chain; members only read it.
 */
export class SimWorld {
  readonly seed: number;
  readonly memberCount: number;
  readonly timeZone: string;
  readonly firstDay: number;
  readonly lastDay: number;
  readonly catalogue: Catalogue;
  readonly stores: readonly SimStore[];
  readonly calendar: ChainCalendar;
  private readonly stockKey: number;
  private readonly stockThreshold = Math.floor(STOCKOUT_RATE * 4294967296);

  constructor(opts: SimOptions) {
    const { seed, members, stores, weeks, endDate } = opts;
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer: ${seed}`);
    if (!Number.isInteger(members) || members < 0) {
      throw new RangeError(`members must be a non-negative integer: ${members}`);
    }
    if (!Number.isInteger(stores) || stores < 1) {
      throw new RangeError(`stores must be a positive integer: ${stores}`);
    }
    if (!Number.isInteger(weeks) || weeks < 1) {
      throw new RangeError(`weeks must be a positive integer: ${weeks}`);
    }
    this.seed = seed;
    this.memberCount = members;
    this.timeZone = opts.timeZone ?? 'America/New_York';
    this.lastDay = parseDate(endDate);
    this.firstDay = this.lastDay - weeks * 7 + 1;
    this.calendar = new ChainCalendar(this.timeZone, this.firstDay);
    this.catalogue = new Catalogue(seed, this.firstDay, this.lastDay);
    this.stores = createStores(seed, stores, this.timeZone);
    this.stockKey = hashInts(seed, 0x570c);
  }

  /**
   * Whether a store has a product on its shelf on a day. A pure hash of (store, product, block of
   * days), so stock-outs last a few days, hit every member in that store alike, and need no table.
   */
  inStock(storeId: number, productIndex: number, day: number): boolean {
    const phase =
      mix32(this.stockKey ^ Math.imul(productIndex + 1, 0x9e3779b1)) % STOCKOUT_BLOCK_DAYS;
    const block = Math.floor((day + phase) / STOCKOUT_BLOCK_DAYS);
    let h = mix32(this.stockKey ^ Math.imul(storeId, 0x85ebca77));
    h = mix32(h ^ Math.imul(productIndex + 1, 0xc2b2ae3d));
    h = mix32(h ^ block);
    return h >= this.stockThreshold;
  }
}
