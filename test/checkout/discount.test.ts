import { describe, expect, it } from 'vitest';
import { allocate, applyOffer, type OfferTerms, type QuoteLine } from '../../src/checkout/discount.ts';
import { seededRandom as rng } from '../support/random.ts';

const A = '00000000000017';
const B = '00000000000024';
const C = '00000000000031';
const terms = (t: Partial<OfferTerms>): OfferTerms => ({
  kind: 'percent_off', value: 10, minQty: 1, maxUnits: null, gtins: new Set([A]), ...t,
});
const line = (gtin: string, qty: number, unitPriceCents: number): QuoteLine => ({ gtin, qty, unitPriceCents });


describe('allocate (largest remainder)', () => {
  it('always sums exactly and never exceeds a line, over 20,000 random cases', () => {
    const r = rng(42);
    for (let n = 0; n < 20_000; n++) {
      const weights = Array.from({ length: 1 + Math.floor(r() * 8) }, () => Math.floor(r() * 5000));
      const total = weights.reduce((s, w) => s + w, 0);
      const cents = Math.floor(r() * (total + 1));
      const out = allocate(cents, weights);
      expect(out.reduce((s, a) => s + a.cents, 0)).toBe(cents);
      for (const a of out) expect(a.cents).toBeLessThanOrEqual(weights[a.line]!);
      for (const a of out) expect(Math.abs(a.cents - (cents * weights[a.line]!) / total)).toBeLessThan(1);
    }
  });

  it('gives leftover cents to the largest remainders, ties to the earlier line', () => {
    expect(allocate(100, [200, 200, 200])).toEqual([{ line: 0, cents: 34 }, { line: 1, cents: 33 }, { line: 2, cents: 33 }]);
    expect(allocate(10, [300, 100])).toEqual([{ line: 0, cents: 8 }, { line: 1, cents: 2 }]);
    expect(allocate(5, [0, 7, 0])).toEqual([{ line: 1, cents: 5 }]);
  });

  it('refuses more than the lines hold, and fractions of a cent', () => {
    expect(() => allocate(11, [5, 5])).toThrow(RangeError);
    expect(() => allocate(1.5, [5, 5])).toThrow(RangeError);
  });
});

describe('applyOffer', () => {
  it('counts a line as the basket total does: 1.005 × 100 cents is 101, not 100 (floating point)', () => {
    // A reward larger than the basket takes exactly the basket; Math.round(1.005 * 100) is 100.
    expect(applyOffer(terms({ kind: 'reward', value: 500, gtins: new Set() }), [line(A, 1.005, 100)])).toEqual({
      discountCents: 101, allocations: [{ line: 0, cents: 101 }],
    });
    // 100% off the covered units: the whole line, 1.005 kg at 100 cents
    expect(applyOffer(terms({ value: 100 }), [line(A, 1.005, 100)])).toMatchObject({ discountCents: 101 });
  });

  it('takes a percentage of the covered amount once, rounded half up, spread over the matching lines', () => {
    const r = applyOffer(terms({ value: 15 }), [line(A, 1, 333), line(B, 2, 100), line(A, 1, 333)]);
    expect(r).toEqual({ discountCents: 100, allocations: [{ line: 0, cents: 50 }, { line: 2, cents: 50 }] });
  });

  it('covers at most max_units, in basket order', () => {
    const r = applyOffer(terms({ value: 50, maxUnits: 2 }), [line(A, 3, 200), line(A, 1, 400)]);
    expect(r).toEqual({ discountCents: 200, allocations: [{ line: 0, cents: 200 }] });
  });

  it('says why an offer does not apply', () => {
    expect(applyOffer(terms({}), [line(B, 1, 100)])).toEqual({ reason: 'wrong_product' });
    expect(applyOffer(terms({ minQty: 3 }), [line(A, 2, 100), line(B, 5, 100)])).toEqual({ reason: 'below_min_qty' });
    expect(applyOffer(terms({ kind: 'buy_x_get_y', value: 1, minQty: 2 }), [line(A, 2, 100)])).toEqual({ reason: 'below_min_qty' });
  });

  it('amount off never exceeds what the products cost', () => {
    expect(applyOffer(terms({ kind: 'amount_off', value: 500 }), [line(A, 1, 349)])).toMatchObject({ discountCents: 349 });
    expect(applyOffer(terms({ kind: 'amount_off', value: 75 }), [line(A, 1, 349), line(A, 2, 100)]))
      .toEqual({ discountCents: 75, allocations: [{ line: 0, cents: 48 }, { line: 1, cents: 27 }] });
  });

  it('price point: the covered units cost the price point each', () => {
    expect(applyOffer(terms({ kind: 'price_point', value: 299, maxUnits: 2 }), [line(A, 3, 449)]))
      .toEqual({ discountCents: 300, allocations: [{ line: 0, cents: 300 }] });
  });

  it('buy two get one: the cheapest units go free', () => {
    const r = applyOffer(terms({ kind: 'buy_x_get_y', value: 1, minQty: 2, gtins: new Set([A, C]) }),
      [line(A, 2, 300), line(C, 1, 250), line(B, 1, 100)]);
    expect(r).toEqual({ discountCents: 250, allocations: [{ line: 1, cents: 250 }] });
  });

  it('buy two get one with max_units 1 (rules/campaigns/vegetable-lovers.yaml): at most one unit free', () => {
    // max_units caps the units discounted, i.e. the free ones; the units bought count in full.
    const bxgy = terms({ kind: 'buy_x_get_y', value: 1, minQty: 2, maxUnits: 1 });
    expect(applyOffer(bxgy, [line(A, 3, 200)])).toEqual({ discountCents: 200, allocations: [{ line: 0, cents: 200 }] });
    expect(applyOffer(bxgy, [line(A, 6, 200)])).toEqual({ discountCents: 200, allocations: [{ line: 0, cents: 200 }] });
    expect(applyOffer(bxgy, [line(A, 2, 200)])).toEqual({ reason: 'below_min_qty' });
  });

  it('a reward takes a fixed amount off the basket, spread over every line, never below zero', () => {
    expect(applyOffer(terms({ kind: 'reward', value: 3000, gtins: new Set() }), [line(A, 1, 1000), line(B, 1, 3000)]))
      .toEqual({ discountCents: 3000, allocations: [{ line: 0, cents: 750 }, { line: 1, cents: 2250 }] });
    expect(applyOffer(terms({ kind: 'reward', value: 3000, gtins: new Set() }), [line(A, 1, 1000)]))
      .toMatchObject({ discountCents: 1000 });
  });

  it('a reward needs the basket to reach its minimum spend', () => {
    const reward = terms({ kind: 'reward', value: 3000, gtins: new Set(), minSpendCents: 5000 });
    expect(applyOffer(reward, [line(A, 1, 4999)])).toEqual({ reason: 'below_min_spend' });
    expect(applyOffer(reward, [line(A, 1, 5000)])).toMatchObject({ discountCents: 3000 });
  });

  it('stacks on what earlier offers took: a line never goes below zero', () => {
    const lines = [line(A, 1, 1000)];
    const first = applyOffer(terms({ kind: 'amount_off', value: 800 }), lines);
    expect(first).toMatchObject({ discountCents: 800 });
    const second = applyOffer(terms({ value: 50 }), lines, [800]);
    expect(second).toEqual({ discountCents: 100, allocations: [{ line: 0, cents: 100 }] });
  });
});
