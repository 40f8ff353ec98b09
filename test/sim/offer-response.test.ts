import { describe, expect, it } from 'vitest';
import {
  formatDate,
  generateChain,
  offerRedemptionProbability,
  type BrandPref,
  type BrandType,
  type MemberSim,
  type SimChain,
  type SimOffer,
  type SimVisit,
} from '../../src/sim/index.ts';

const PREFS: Array<BrandPref | null> = ['national', 'store', 'switcher', null];
const TYPES: BrandType[] = ['national', 'store'];

describe('offerRedemptionProbability (exact properties of the formula)', () => {
  it('rises with discount depth, from nothing at no discount', () => {
    for (const pref of PREFS) {
      for (const brandType of TYPES) {
        let last = -1;
        for (let d = 0; d <= 0.8; d += 0.05) {
          const { probability } = offerRedemptionProbability(
            pref,
            { brandType, discountShare: d, windowDays: 14 },
            3,
          );
          expect(probability).toBeGreaterThan(last);
          expect(probability).toBeLessThanOrEqual(1);
          last = probability;
        }
        expect(
          offerRedemptionProbability(pref, { brandType, discountShare: 0, windowDays: 14 }, 3)
            .probability,
        ).toBe(0);
      }
    }
  });

  it('rises as the window lands closer to the due date, and is highest inside it', () => {
    const terms = { brandType: 'national' as const, discountShare: 0.25, windowDays: 14 };
    const p = (offset: number) => offerRedemptionProbability('national', terms, offset).probability;
    // Due after the window: the later, the less likely.
    for (let offset = 13; offset < 60; offset++) expect(p(offset + 1)).toBeLessThan(p(offset));
    // Due before the window opens: the earlier, the less likely.
    for (let offset = 0; offset > -60; offset--) expect(p(offset - 1)).toBeLessThan(p(offset));
    // Inside the window timing is perfect.
    expect(p(0)).toBeCloseTo(p(13), 12);
    expect(p(6)).toBeGreaterThan(p(30));
    // Without a known due date, timing is middling.
    const unknown = offerRedemptionProbability('national', terms, null).probability;
    expect(unknown).toBeLessThan(p(5));
    expect(unknown).toBeGreaterThan(p(60));
  });

  it('converts a national-brand buyer only with a deep store-brand offer', () => {
    const at = (d: number) =>
      offerRedemptionProbability(
        'national',
        { brandType: 'store', discountShare: d, windowDays: 14 },
        5,
      );
    expect(at(0.1).converts).toBe(true);
    expect(at(0.1).probability).toBeLessThan(0.05);
    expect(at(0.5).probability).toBeGreaterThan(0.3);
    const own = offerRedemptionProbability(
      'national',
      { brandType: 'national', discountShare: 0.1, windowDays: 14 },
      5,
    );
    expect(own.converts).toBe(false);
    expect(own.probability).toBeGreaterThan(5 * at(0.1).probability);
    expect(
      offerRedemptionProbability(
        'switcher',
        { brandType: 'store', discountShare: 0.3, windowDays: 14 },
        5,
      ).converts,
    ).toBe(false);
    expect(
      offerRedemptionProbability(
        'store',
        { brandType: 'national', discountShare: 0.3, windowDays: 14 },
        5,
      ).converts,
    ).toBe(true);
    expect(
      offerRedemptionProbability(
        null,
        { brandType: 'store', discountShare: 0.3, windowDays: 14 },
        null,
      ).converts,
    ).toBe(false);
  });
});

describe('closed loop: members continue past the history with offers', () => {
  const chain = generateChain({
    seed: 31,
    members: 400,
    stores: 8,
    weeks: 26,
    endDate: '2026-02-28',
  });
  const until = chain.lastDay + 28;
  const window = {
    validFromDate: formatDate(chain.lastDay + 1),
    validToDate: formatDate(chain.lastDay + 28),
  };

  /** Members with a regular product, each simulated through the history. */
  function primed(): Array<{ sim: MemberSim; gtin: string; store: string | undefined }> {
    const out = [];
    for (const member of chain.members()) {
      const regular = member.truth.products[0];
      if (!regular) continue;
      const sim = chain.simulator(member);
      while (sim.nextVisit(chain.lastDay)) {
        // drain the history
      }
      const storeBrand = chain.products.find(
        (p) => p.categoryIndex === regular.categoryIndex && p.brandType === 'store',
      );
      out.push({ sim, gtin: regular.gtin, store: storeBrand?.gtin });
    }
    return out;
  }

  function drain(sim: MemberSim, offers: SimOffer[]): SimVisit[] {
    const visits = [];
    for (let v = sim.nextVisit(until, offers); v; v = sim.nextVisit(until, offers)) visits.push(v);
    return visits;
  }

  const offerFor = (chain: SimChain, gtin: string, share: number): SimOffer => {
    const price = chain.products.find((p) => p.gtin === gtin)!.priceCents;
    return { id: `o-${gtin}`, gtin, discountCents: Math.round(price * share), ...window };
  };

  it('continues a member exactly as a fresh run when no offers are given', () => {
    // Exact: offers draw from their own stream, so the base behaviour does not move.
    for (const index of [0, 7, 123]) {
      const a = chain.simulator(index);
      while (a.nextVisit(chain.lastDay)) {
        // history
      }
      const continued = drain(a, []);
      const fresh = chain.simulator(index);
      const all = [];
      for (let v = fresh.nextVisit(until); v; v = fresh.nextVisit(until)) all.push(v);
      expect(all.slice(all.length - continued.length)).toEqual(continued);
    }
  });

  it('redeems deeper discounts more often, applying them on the offered lines', () => {
    // Rates over ~390 members: 40% off must beat 5% off by at least 15 points.
    const rate = (share: number) => {
      let redeemed = 0;
      let offered = 0;
      for (const { sim, gtin } of primed()) {
        const offer = offerFor(chain, gtin, share);
        offered++;
        const lines = drain(sim, [offer]).flatMap((v) =>
          v.lines.filter((l) => l.offerId === offer.id),
        );
        // Redeemed at most once, on the offered product, with the per-unit discount on one unit.
        expect(lines.length).toBeLessThanOrEqual(1);
        for (const line of lines) {
          expect(line.gtin).toBe(gtin);
          expect(line.lineDiscountCents).toBe(Math.min(offer.discountCents, line.unitPriceCents));
          redeemed++;
        }
      }
      return redeemed / offered;
    };
    const shallow = rate(0.05);
    const deep = rate(0.4);
    expect(deep).toBeGreaterThan(shallow + 0.15);
    expect(deep).toBeLessThan(0.95);
  });

  it('lets a deep store-brand offer convert some national-brand buyers', () => {
    // At 50% off, some national-loyal regular buyers take the store brand (≥ 5 of them); at 5%
    // off, fewer.
    const conversions = (share: number) => {
      let converted = 0;
      for (const { sim, gtin, store } of primed()) {
        const pref = sim.member.truth.categories.find(
          (c) => c.categoryIndex === chain.products.find((p) => p.gtin === gtin)!.categoryIndex,
        )!.brandPref;
        if (pref !== 'national' || !store) continue;
        const offer = offerFor(chain, store, share);
        const visits = drain(sim, [offer]);
        if (visits.some((v) => v.lines.some((l) => l.offerId === offer.id))) converted++;
      }
      return converted;
    };
    const deep = conversions(0.5);
    expect(deep).toBeGreaterThanOrEqual(5);
    expect(conversions(0.05)).toBeLessThan(deep);
  });
});
