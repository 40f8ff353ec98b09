import { describe, expect, it } from 'vitest';
import {
  csvLine,
  generateChain,
  gtinCheckDigit,
  isValidGtin,
  STORE_MANUFACTURER_ID,
} from '../../src/sim/index.ts';

// Catalogue facts are exact (no tolerance) except where a comment says otherwise.
const chain = generateChain({ seed: 5, members: 0, stores: 8, weeks: 52, endDate: '2026-02-28' });

describe('GTINs', () => {
  it('computes GS1 check digits', () => {
    // Published examples: EAN-13 4006381333931, GTIN-13 of UPC-A 036000291452.
    expect(gtinCheckDigit('400638133393')).toBe(1);
    expect(gtinCheckDigit('003600029145')).toBe(2);
    expect(gtinCheckDigit('629104150021')).toBe(3);
    expect(isValidGtin('4006381333931')).toBe(true);
    expect(isValidGtin('4006381333932')).toBe(false);
    expect(() => gtinCheckDigit('12a')).toThrow(RangeError);
  });

  it('gives every product a unique, valid GTIN-13', () => {
    const gtins = chain.products.map((p) => p.gtin);
    expect(new Set(gtins).size).toBe(gtins.length);
    for (const gtin of gtins) {
      expect(gtin).toMatch(/^\d{13}$/);
      expect(isValidGtin(gtin)).toBe(true);
    }
  });
});

describe('catalogue', () => {
  it('has about thirty grocery categories with snake_case ids', () => {
    expect(chain.categories.length).toBeGreaterThanOrEqual(28);
    expect(chain.categories.length).toBeLessThanOrEqual(36);
    const ids = chain.categories.map((c) => c.id);
    for (const id of ids) expect(id).toMatch(/^[a-z]+(_[a-z]+)*$/);
    for (const id of [
      'analgesics',
      'dog_food',
      'cat_food',
      'diapers',
      'baby_food',
      'vegetables',
      'milk',
      'coffee',
      'detergent',
    ]) {
      expect(ids).toContain(id);
    }
    expect(chain.categories.find((c) => c.id === 'analgesics')?.name).toBe(
      'Non-aspirin analgesics',
    );
  });

  it('has 2–4 national brands and one store brand per category, 1–3 sizes each', () => {
    for (const c of chain.categories) {
      const products = chain.products.filter((p) => p.categoryId === c.id);
      const national = new Set(
        products.filter((p) => p.brandType === 'national').map((p) => p.brand),
      );
      const store = products.filter((p) => p.brandType === 'store');
      expect(national.size).toBeGreaterThanOrEqual(2);
      expect(national.size).toBeLessThanOrEqual(4);
      expect(new Set(store.map((p) => p.brand)).size).toBe(1);
      expect(store.every((p) => p.manufacturerId === STORE_MANUFACTURER_ID)).toBe(true);
      expect(c.sizes.length).toBeGreaterThanOrEqual(1);
      expect(c.sizes.length).toBeLessThanOrEqual(3);
    }
  });

  it('has manufacturers owning brands in several categories', () => {
    const ids = new Set(chain.manufacturers.map((m) => m.id));
    const categoriesOf = new Map<string, Set<string>>();
    for (const p of chain.products) {
      expect(ids.has(p.manufacturerId)).toBe(true);
      if (p.brandType === 'national') {
        categoriesOf.set(
          p.manufacturerId,
          (categoriesOf.get(p.manufacturerId) ?? new Set()).add(p.categoryId),
        );
      }
    }
    const multi = [...categoriesOf.values()].filter((s) => s.size > 1).length;
    expect(multi).toBeGreaterThanOrEqual(5);
  });

  it('prices the store brand below every national product of the same size, on every day', () => {
    for (const c of chain.categories) {
      for (let size = 0; size < c.sizes.length; size++) {
        const same = chain.products.filter(
          (p) => p.categoryIndex === c.index && p.sizeIndex === size,
        );
        const store = same.find((p) => p.brandType === 'store')!;
        const nationals = same.filter((p) => p.brandType === 'national');
        const cheapest = Math.min(...nationals.map((p) => p.priceCents));
        // Store brands sell 20–35% below the national reference (a little less after price changes).
        expect(store.priceCents).toBeLessThan(cheapest * 0.9);
        expect(store.priceCents).toBeGreaterThan(cheapest * 0.55);
      }
    }
    for (const p of chain.products) {
      expect(Number.isInteger(p.priceCents)).toBe(true);
      expect(p.priceCents).toBeGreaterThan(0);
      expect(p.priceHistory[p.priceHistory.length - 1]?.priceCents).toBe(p.priceCents);
      expect(p.priceHistory[0]?.fromDate).toBe(chain.startDate);
    }
  });

  it('changes a few shelf prices during the year', () => {
    const changed = chain.products.filter((p) => p.priceHistory.length > 1).length;
    // A quarter of the products are scheduled to change; the store-brand cap adds a few.
    expect(changed / chain.products.length).toBeGreaterThan(0.12);
    expect(changed / chain.products.length).toBeLessThan(0.45);
  });

  it('is deterministic from the seed', () => {
    const again = generateChain({
      seed: 5,
      members: 0,
      stores: 8,
      weeks: 52,
      endDate: '2026-02-28',
    });
    expect(again.products).toEqual(chain.products);
    const other = generateChain({
      seed: 6,
      members: 0,
      stores: 8,
      weeks: 52,
      endDate: '2026-02-28',
    });
    expect(other.products.map((p) => p.gtin)).not.toEqual(chain.products.map((p) => p.gtin));
  });

  it('writes the products CSV with the agreed header and current prices', () => {
    const lines = [...chain.productsCsv()];
    expect(lines[0]).toBe(
      'gtin,name,category_id,category_name,brand,brand_type,manufacturer_id,manufacturer_name,size,price_cents',
    );
    expect(lines).toHaveLength(chain.products.length + 1);
    const first = chain.products[0]!;
    expect(lines[1]).toBe(
      [
        first.gtin,
        first.name,
        first.categoryId,
        first.categoryName,
        first.brand,
        'national',
        first.manufacturerId,
        first.manufacturerName,
        first.size,
        first.priceCents,
      ].join(','),
    );
  });

  it('quotes CSV fields only when needed', () => {
    expect(csvLine(['plain', 'a,b', 'say "hi"', 3, true, null])).toBe(
      'plain,"a,b","say ""hi""",3,true,',
    );
  });
});

describe('stores', () => {
  it('numbers stores 1..N in the chain time zone', () => {
    expect(chain.stores.map((s) => s.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(new Set(chain.stores.map((s) => s.timeZone))).toEqual(new Set(['America/New_York']));
    const tokyo = generateChain({
      seed: 5,
      members: 0,
      stores: 2,
      weeks: 1,
      endDate: '2026-02-28',
      timeZone: 'Asia/Tokyo',
    });
    expect(tokyo.stores.every((s) => s.timeZone === 'Asia/Tokyo')).toBe(true);
  });

  it('rejects bad options', () => {
    const base = { seed: 1, members: 1, stores: 1, weeks: 1, endDate: '2026-02-28' };
    expect(() => generateChain({ ...base, endDate: '2026-02-30' })).toThrow(RangeError);
    expect(() => generateChain({ ...base, stores: 0 })).toThrow(RangeError);
    expect(() => generateChain({ ...base, weeks: 0 })).toThrow(RangeError);
    expect(() => generateChain({ ...base, members: -1 })).toThrow(RangeError);
    expect(() => generateChain({ ...base, timeZone: 'Mars/Olympus' })).toThrow(RangeError);
  });
});
