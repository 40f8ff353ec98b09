import { beforeAll, describe, expect, it } from 'vitest';
import { generateChain, type SimChain } from '../../src/sim/index.ts';
import { collectHistories, mean, median, type MemberHistory } from './history.ts';

// One year of a 1,500-member chain (seed 23): the data must show what the truth says drives it.
// Tolerances are stated per test.
let chain: SimChain;
let histories: MemberHistory[];

beforeAll(() => {
  chain = generateChain({ seed: 23, members: 1500, stores: 8, weeks: 52, endDate: '2026-06-30' });
  histories = collectHistories(chain);
});

describe('truth and data agree', () => {
  it('store-loyal members buy mostly store brand, national-loyal mostly national', () => {
    // Per member × category with ≥ 5 units: store-loyal ≥ 75% store-brand units for ≥ 95% of
    // pairs (stock-out substitutes and trial purchases are the exceptions), and the mirror for
    // national-loyal; pooled, loyal shares ≥ 90% and switchers in 30–70%.
    const pooled = { national: [0, 0], store: [0, 0], switcher: [0, 0] };
    const passing = { national: [0, 0], store: [0, 0] };
    for (const { member, units } of histories) {
      for (const c of member.truth.categories) {
        const u = units.get(c.categoryId);
        if (!u || u.store + u.national < 5) continue;
        const storeShare = u.store / (u.store + u.national);
        pooled[c.brandPref][0]! += u.store;
        pooled[c.brandPref][1]! += u.store + u.national;
        if (c.brandPref === 'store') {
          passing.store[0]! += storeShare >= 0.75 ? 1 : 0;
          passing.store[1]! += 1;
        } else if (c.brandPref === 'national') {
          passing.national[0]! += storeShare <= 0.25 ? 1 : 0;
          passing.national[1]! += 1;
        }
      }
    }
    const ratio = ([a, b]: number[]) => (a as number) / (b as number);
    expect(ratio(passing.store)).toBeGreaterThanOrEqual(0.95);
    expect(ratio(passing.national)).toBeGreaterThanOrEqual(0.95);
    expect(ratio(pooled.store)).toBeGreaterThan(0.9);
    expect(ratio(pooled.national)).toBeLessThan(0.1);
    expect(ratio(pooled.switcher)).toBeGreaterThan(0.3);
    expect(ratio(pooled.switcher)).toBeLessThan(0.7);
  });

  it('high-volume members buy more units than low-volume ones in the same category', () => {
    // Units per active week at the chain, divided by share of wallet (what the member buys at all
    // grocers). For every staple category with ≥ 15 regular buyers at both levels: high > 1.3 × low.
    for (const c of chain.categories) {
      if (!c.staple) continue;
      const byLevel = { low: [] as number[], medium: [] as number[], high: [] as number[] };
      for (const { member, units } of histories) {
        const truth = member.truth.categories.find((t) => t.categoryId === c.id);
        if (!truth?.regular || member.truth.churnOnsetDay !== null) continue;
        const u = units.get(c.id);
        const weeks = (chain.lastDay - Math.max(chain.firstDay, member.enrolledDay) + 1) / 7;
        byLevel[truth.consumptionLevel].push(
          (u ? u.store + u.national : 0) / weeks / member.truth.shareOfWallet,
        );
      }
      if (byLevel.low.length < 15 || byLevel.high.length < 15) continue;
      expect(mean(byLevel.high), c.id).toBeGreaterThan(1.3 * mean(byLevel.low));
    }
  });

  it('the 9-cell volume truth is what the baskets show at this chain, in expectation', () => {
    // The truth rows' expected units per week (from the member's parameters, never from the
    // baskets) against the units per active week the baskets show. Regular staples: median
    // log(observed / expected) within ±0.1 and the typical miss (median |log|) under 0.3 (counting
    // noise of a year). Every level: the mean observed units rise low < medium < high in every
    // category with ≥ 20 buyers at each level.
    const rows = new Map<string, { units: number; level: string; regular: boolean }>();
    for (const r of chain.truth.memberCategoryRows()) {
      rows.set(`${r.member_number}:${r.category_id}`, {
        units: r.expected_units_per_week,
        level: r.volume_level,
        regular: r.regular,
      });
    }
    const logRatios: number[] = [];
    const byCategory = new Map<string, Record<string, number[]>>();
    for (const { member, units } of histories) {
      const weeks = (chain.lastDay - Math.max(chain.firstDay, member.enrolledDay) + 1) / 7;
      for (const c of member.truth.categories) {
        const truth = rows.get(`${member.memberNumber}:${c.categoryId}`)!;
        const u = units.get(c.categoryId);
        const observed = (u ? u.store + u.national : 0) / weeks;
        if (truth.regular && member.truth.churnOnsetDay === null && observed > 0) {
          logRatios.push(Math.log(observed / truth.units));
        }
        const levels = byCategory.get(c.categoryId) ?? { low: [], medium: [], high: [] };
        levels[truth.level]!.push(observed);
        byCategory.set(c.categoryId, levels);
      }
    }
    expect(Math.abs(median(logRatios))).toBeLessThan(0.1);
    expect(median(logRatios.map(Math.abs))).toBeLessThan(0.3);
    let checked = 0;
    for (const [category, { low, medium, high }] of byCategory) {
      if (low!.length < 20 || medium!.length < 20 || high!.length < 20) continue;
      checked++;
      expect(mean(medium!), category).toBeGreaterThan(mean(low!));
      expect(mean(high!), category).toBeGreaterThan(mean(medium!));
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('churners visit less after onset; others keep their rhythm', () => {
    // Visits per week after onset vs before: churners' pooled ratio < 0.5; loyal members measured
    // around a pseudo-onset at mid-history stay within 0.85–1.15.
    const rate = (days: number[], from: number, to: number) =>
      days.filter((d) => d >= from && d < to).length / ((to - from) / 7);
    let churnBefore = 0;
    let churnAfter = 0;
    let loyalBefore = 0;
    let loyalAfter = 0;
    const mid = chain.firstDay + 182;
    for (const { member, visitDays } of histories) {
      const from = Math.max(chain.firstDay, member.enrolledDay);
      const onset = member.truth.churnOnsetDay;
      if (onset !== null) {
        churnBefore += rate(visitDays, from, onset);
        churnAfter += rate(visitDays, onset, chain.lastDay + 1);
      } else if (from < chain.firstDay + 28) {
        loyalBefore += rate(visitDays, from, mid);
        loyalAfter += rate(visitDays, mid, chain.lastDay + 1);
      }
    }
    expect(churnAfter / churnBefore).toBeLessThan(0.5);
    expect(loyalAfter / loyalBefore).toBeGreaterThan(0.85);
    expect(loyalAfter / loyalBefore).toBeLessThan(1.15);
  });

  it('sells pet and baby categories only to households that have them', () => {
    // Exact: a household without the trait never buys the category.
    const needs = [
      ['dog_food', 'hasDog'],
      ['cat_food', 'hasCat'],
      ['diapers', 'hasBaby'],
      ['baby_food', 'hasBaby'],
    ] as const;
    for (const [category, trait] of needs) {
      let buyers = 0;
      for (const { member, units } of histories) {
        if (!units.has(category)) continue;
        buyers++;
        expect(member[trait], `${member.memberNumber} bought ${category}`).toBe(true);
      }
      expect(buyers).toBeGreaterThan(0);
    }
  });

  it('makes vegetable lovers buy more vegetables', () => {
    // Mean vegetable units of lovers > 2 × everyone else's.
    const units = (lover: boolean) =>
      mean(
        histories
          .filter((h) => h.member.vegetableLover === lover)
          .map((h) => {
            const u = h.units.get('vegetables');
            return u ? u.store + u.national : 0;
          }),
      );
    expect(units(true)).toBeGreaterThan(2 * units(false));
  });

  it('stops abandoned products', () => {
    // Purchases per week of an abandoned product after abandonment < 15% of the rate before (trial
    // purchases of a favourite can still happen).
    let before = 0;
    let after = 0;
    let weeksBefore = 0;
    let weeksAfter = 0;
    for (const { member, purchaseDays } of histories) {
      for (const p of member.truth.products) {
        if (p.abandonedOnDay === null) continue;
        const days = purchaseDays.get(p.gtin) ?? [];
        const from = Math.max(chain.firstDay, member.enrolledDay);
        before += days.filter((d) => d < p.abandonedOnDay!).length;
        after += days.filter((d) => d >= p.abandonedOnDay!).length;
        weeksBefore += (p.abandonedOnDay - from) / 7;
        weeksAfter += (chain.lastDay + 1 - p.abandonedOnDay) / 7;
      }
    }
    expect(weeksAfter).toBeGreaterThan(100);
    expect(after / weeksAfter).toBeLessThan(0.15 * (before / weeksBefore));
  });

  it('lists every product truth row under a category truth row of the same member', () => {
    // Exact: the truth tables are consistent with each other and with the catalogue.
    const categories = new Set(
      [...chain.truth.memberCategoryRows()].map((r) => `${r.member_number}:${r.category_id}`),
    );
    const categoryOf = new Map(chain.products.map((p) => [p.gtin, p.categoryId]));
    const rows = [...chain.truth.memberProductRows()];
    expect(rows.length).toBeGreaterThan(1500 * 5);
    for (const r of rows) {
      expect(categories.has(`${r.member_number}:${categoryOf.get(r.gtin)}`)).toBe(true);
      expect(r.mean_gap_days).toBeGreaterThan(0);
      if (r.abandoned_on !== null) {
        expect(r.abandoned_on >= chain.startDate && r.abandoned_on <= chain.endDate).toBe(true);
      }
    }
    const members = [...chain.truth.memberRows()];
    expect(members).toHaveLength(1500);
    expect(Object.keys(members[0]!).sort()).toEqual(
      [
        'churn_onset_date',
        'has_baby',
        'has_cat',
        'has_dog',
        'household_size',
        'member_number',
        'share_of_wallet',
        'vegetable_lover',
        'visit_mean_days',
        'weekly_spend_cents',
      ].sort(),
    );
  });
});
