import { beforeAll, describe, expect, it } from 'vitest';
import { generateChain, type SimChain } from '../../src/sim/index.ts';
import { collectHistories, mean, median, type MemberHistory } from './history.ts';

// One year of a 2,000-member chain (seed 11). Tolerances are stated per test; they are several
// standard errors wide at this size, so the tests are stable yet catch a broken model.
let chain: SimChain;
let histories: MemberHistory[];

beforeAll(() => {
  chain = generateChain({ seed: 11, members: 2000, stores: 8, weeks: 52, endDate: '2026-02-28' });
  histories = collectHistories(chain);
});

const share = (xs: readonly boolean[]) => xs.filter(Boolean).length / xs.length;

describe('truth parameters', () => {
  it('draws household traits at their stated prevalences', () => {
    const members = histories.map((h) => h.member);
    // ±4 points (s.e. ≈ 1 point at n = 2000), ±2.5 for the rarer baby households.
    expect(Math.abs(share(members.map((m) => m.hasDog)) - 0.35)).toBeLessThan(0.04);
    expect(Math.abs(share(members.map((m) => m.hasCat)) - 0.3)).toBeLessThan(0.04);
    expect(Math.abs(share(members.map((m) => m.hasBaby)) - 0.08)).toBeLessThan(0.025);
    expect(Math.abs(share(members.map((m) => m.vegetableLover)) - 0.2)).toBeLessThan(0.04);
    expect(Math.abs(share(members.map((m) => m.truth.churnOnsetDay !== null)) - 0.1)).toBeLessThan(
      0.035,
    );
    for (const m of members) {
      expect(m.householdSize).toBeGreaterThanOrEqual(1);
      expect(m.householdSize).toBeLessThanOrEqual(6);
      if (m.householdSize === 1) expect(m.hasBaby).toBe(false);
    }
  });

  it('spreads share of wallet from mostly-elsewhere to nearly-all-here', () => {
    const sow = histories.map((h) => h.member.truth.shareOfWallet);
    // Beta(2.2, 1.4): mean 0.61; both tails populated.
    expect(Math.abs(mean(sow) - 0.61)).toBeLessThan(0.03);
    expect(sow.filter((s) => s < 0.25).length / sow.length).toBeGreaterThan(0.05);
    expect(sow.filter((s) => s > 0.85).length / sow.length).toBeGreaterThan(0.1);
  });

  it('scatters personal repurchase means around the category mean', () => {
    // Per member × staple category, the category rate is the sum of its products' rates. Its mean
    // over members is the category mean (mean-preserving scatter), stretched only where a member
    // shops too rarely to buy that often (floor: 1.25 trip gaps). Tolerance ±12% for categories
    // with ≥ 9-day means, where the floor hardly binds; ±35% (upwards only) for faster ones.
    for (const c of chain.categories) {
      if (!c.staple) continue;
      const personal: number[] = [];
      for (const { member } of histories) {
        const rates = member.truth.products
          .filter((p) => p.categoryIndex === c.index)
          .map((p) => 1 / p.meanGapDays);
        if (rates.length > 0) personal.push(1 / rates.reduce((a, b) => a + b, 0));
      }
      if (personal.length < 40) continue;
      const ratio = mean(personal) / (c.meanGapDays as number);
      if ((c.meanGapDays as number) >= 9) {
        expect(Math.abs(ratio - 1), c.id).toBeLessThan(0.12);
      } else {
        expect(ratio, c.id).toBeGreaterThan(0.95);
        expect(ratio, c.id).toBeLessThan(1.35);
      }
    }
  });

  it('draws gamma shapes around 2 within 1.5–3', () => {
    const shapes = histories.flatMap((h) => h.member.truth.products.map((p) => p.gapShape));
    expect(Math.min(...shapes)).toBeGreaterThanOrEqual(1.5);
    expect(Math.max(...shapes)).toBeLessThanOrEqual(3);
    expect(Math.abs(mean(shapes) - 2)).toBeLessThan(0.1);
  });

  it('mixes national, store and switcher preferences plausibly', () => {
    const prefs = histories.flatMap((h) => h.member.truth.categories.filter((c) => c.regular));
    const of = (p: string, cat?: string) =>
      prefs.filter((c) => (!cat || c.categoryId === cat) && c.brandPref === p).length /
      prefs.filter((c) => !cat || c.categoryId === cat).length;
    // Switchers are drawn at 22% (±4 points); both loyal kinds are common.
    expect(Math.abs(of('switcher') - 0.22)).toBeLessThan(0.04);
    expect(of('store')).toBeGreaterThan(0.2);
    expect(of('national')).toBeGreaterThan(0.25);
    // Commodities lean to the store brand, coffee and analgesics to national brands.
    expect(of('store', 'milk')).toBeGreaterThan(of('store', 'coffee') + 0.15);
    expect(of('national', 'analgesics')).toBeGreaterThan(of('national', 'eggs') + 0.15);
  });
});

describe('generated history', () => {
  it('has the demo scale: ~1 visit a week, $40–65 baskets', () => {
    const visits = histories.reduce((n, h) => n + h.visitDays.length, 0);
    const spend = histories.reduce((n, h) => n + h.spendCents, 0);
    const activeWeeks = histories.reduce(
      (n, h) => n + (chain.lastDay - Math.max(chain.firstDay, h.member.enrolledDay) + 1) / 7,
      0,
    );
    expect(visits / activeWeeks).toBeGreaterThan(0.7);
    expect(visits / activeWeeks).toBeLessThan(1.4);
    expect(spend / visits / 100).toBeGreaterThan(40);
    expect(spend / visits / 100).toBeLessThan(65);
  });

  it('concentrates sales: the top 20% of members carry at least 35%', () => {
    const spend = histories.map((h) => h.spendCents).sort((a, b) => b - a);
    const total = spend.reduce((a, b) => a + b, 0);
    const top = (q: number) =>
      spend.slice(0, Math.round(spend.length * q)).reduce((a, b) => a + b, 0) / total;
    expect(top(0.2)).toBeGreaterThanOrEqual(0.35);
    expect(top(0.1)).toBeGreaterThanOrEqual(0.2);
    expect(top(0.2)).toBeLessThan(0.7); // skewed, not degenerate
  });

  it('tracks share of wallet: observed spend over total spend follows the truth', () => {
    // Correlation of observed chain spend / (weekly spend × weeks) with true share of wallet > 0.6.
    const loyal = histories.filter(
      (h) => h.member.truth.churnOnsetDay === null && h.member.enrolledDay < chain.firstDay,
    );
    const x = loyal.map((h) => h.member.truth.shareOfWallet);
    const y = loyal.map((h) => h.spendCents / (h.member.truth.weeklySpendCents * 52));
    const mx = mean(x);
    const my = mean(y);
    const cov = mean(x.map((v, i) => (v - mx) * ((y[i] as number) - my)));
    const sd = (v: number[], m: number) => Math.sqrt(mean(v.map((a) => (a - m) ** 2)));
    expect(cov / (sd(x, mx) * sd(y, my))).toBeGreaterThan(0.6);
  });

  it('shows repurchase gaps close to the truth once share of wallet is accounted for', () => {
    // Loyal members (share of wallet ≥ 0.8, no churn, enrolled before the history), products not
    // abandoned, mean gap ≤ 21 days, ≥ 4 purchases. Purchases at other grocers are invisible, so
    // the observed gap is about truth / share of wallet; multiplying back, the ratio should be 1
    // plus the deliberate mess (absence spells, stock-ups, skipped stock-outs: about +5–10%).
    // Tolerance: overall median in [0.95, 1.15]; every category with ≥ 20 pairs in [0.85, 1.25].
    const ratios = new Map<string, number[]>();
    for (const { member, purchaseDays } of histories) {
      const t = member.truth;
      if (t.shareOfWallet < 0.8 || t.churnOnsetDay !== null || member.enrolledDay >= chain.firstDay)
        continue;
      for (const p of t.products) {
        if (p.abandonedOnDay !== null || p.meanGapDays > 21) continue;
        const days = purchaseDays.get(p.gtin);
        if (!days || days.length < 4) continue;
        const observed =
          ((days[days.length - 1] as number) - (days[0] as number)) / (days.length - 1);
        const id = chain.products[p.productIndex]!.categoryId;
        ratios.set(id, [...(ratios.get(id) ?? []), (observed * t.shareOfWallet) / p.meanGapDays]);
      }
    }
    const all = [...ratios.values()].flat();
    expect(all.length).toBeGreaterThan(2000);
    expect(median(all)).toBeGreaterThan(0.95);
    expect(median(all)).toBeLessThan(1.15);
    for (const [id, r] of ratios) {
      if (r.length < 20) continue;
      expect(median(r), id).toBeGreaterThan(0.85);
      expect(median(r), id).toBeLessThan(1.25);
    }
  });

  it('charges the shelf price of the day', () => {
    // Exact: every line's unit price is the product's price history on the basket's date.
    const priceOn = (gtin: string, date: string) => {
      const history = chain.products.find((p) => p.gtin === gtin)!.priceHistory;
      let price = history[0]!.priceCents;
      for (const change of history) if (change.fromDate <= date) price = change.priceCents;
      return price;
    };
    let checked = 0;
    for (const v of chain.visits({ to: 60 })) {
      for (const line of v.lines) {
        expect(line.unitPriceCents).toBe(priceOn(line.gtin, v.date));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it('peaks before Thanksgiving and Christmas and closes on the day', () => {
    // Spend per day in the peak weeks ≥ 1.3× the year's average day; no baskets on the holidays.
    const spendByDate = new Map<string, number>();
    for (const v of chain.visits({ to: 800 })) {
      const spend = v.lines.reduce((n, l) => n + l.qty * l.unitPriceCents, 0);
      spendByDate.set(v.date, (spendByDate.get(v.date) ?? 0) + spend);
    }
    const avg = [...spendByDate.values()].reduce((a, b) => a + b, 0) / 364;
    const perDay = (from: string, to: string) => {
      const days = [...spendByDate].filter(([d]) => d >= from && d <= to);
      return days.reduce((n, [, s]) => n + s, 0) / days.length;
    };
    expect(perDay('2025-11-21', '2025-11-26')).toBeGreaterThan(1.3 * avg);
    expect(perDay('2025-12-18', '2025-12-24')).toBeGreaterThan(1.3 * avg);
    expect(spendByDate.has('2025-11-27')).toBe(false);
    expect(spendByDate.has('2025-12-25')).toBe(false);
  });
});
