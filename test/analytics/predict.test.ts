import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { fitBins, isotonic } from '../../src/analytics/calibrate.ts';
import { expectedGapDays, gammaSurvival, lnGamma, windowProbability } from '../../src/analytics/predict.ts';
import { textArray } from '../../src/db/index.ts';
import { dbKind, useTestDeps } from '../support/db.ts';

const getDeps = useTestDeps();

describe('gamma survival and window probabilities (JavaScript, exact)', () => {
  it('matches closed forms', () => {
    expect(lnGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(lnGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
    for (const x of [0.01, 0.5, 1, 2.5, 7, 30]) {
      // exponential, and Erlang-2
      expect(gammaSurvival(x, 1)).toBeCloseTo(Math.exp(-x), 12);
      expect(gammaSurvival(x, 2)).toBeCloseTo(Math.exp(-x) * (1 + x), 12);
      // Q(a + 1, x) = Q(a, x) + xᵃ e⁻ˣ / Γ(a + 1), across the series / continued-fraction switch
      const a = 0.8;
      expect(gammaSurvival(x, a + 1)).toBeCloseTo(
        gammaSurvival(x, a) + Math.exp(a * Math.log(x) - x - lnGamma(a + 1)),
        12,
      );
    }
    expect(gammaSurvival(0, 3)).toBe(1);
  });

  it('is memoryless for shape 1, and sure of a purchase eventually', () => {
    const p = (elapsedDays: number) => windowProbability({ elapsedDays, meanGapDays: 10, gapShape: 1 }, 0, 14);
    expect(p(1)).toBeCloseTo(1 - Math.exp(-1.4), 12);
    expect(p(30)).toBeCloseTo(p(1), 12);
    expect(windowProbability({ elapsedDays: 3, meanGapDays: 10, gapShape: 2 }, 0, 10_000)).toBeCloseTo(1, 9);
    // Regular rhythms: a purchase yesterday makes another one this week unlikely, one due now likely.
    const regular = (elapsedDays: number) => windowProbability({ elapsedDays, meanGapDays: 14, gapShape: 6 }, 0, 7);
    expect(regular(1)).toBeLessThan(0.15);
    expect(regular(12)).toBeGreaterThan(0.5);
    // Windows add up: P[0, 14) = P[0, 7) + P[7, 14).
    const q = { elapsedDays: 5, meanGapDays: 12, gapShape: 1.7 };
    expect(windowProbability(q, 0, 14)).toBeCloseTo(windowProbability(q, 0, 7) + windowProbability(q, 7, 14), 12);
  });

  it('expects the next purchase after today, one mean later for shape 1', () => {
    expect(expectedGapDays({ elapsedDays: 20, meanGapDays: 10, gapShape: 1 })).toBeCloseTo(29.5, 9);
    expect(expectedGapDays({ elapsedDays: 1, meanGapDays: 10, gapShape: 3 })).toBeCloseTo(10, 1);
    expect(expectedGapDays({ elapsedDays: 40, meanGapDays: 10, gapShape: 3 })).toBeGreaterThan(40);
  });
});

describe(`the SQL twins on ${dbKind}`, () => {
  // Tolerances: |ΔS| ≤ 0.011 (Wilson–Hilferty is weakest at shapes near 1), window probabilities
  // ≤ 0.02 and expected gaps ≤ 6% while elapsed ≤ 4 mean gaps (beyond, the calibration takes over).
  it('approximates the exact functions within the stated tolerance', async () => {
    const shapes = [0.8, 1, 1.5, 2, 3, 4.5, 6];
    const grid: { x: number; k: number }[] = [];
    for (const k of shapes) for (let x = 0.05; x < 25; x *= 1.15) grid.push({ x, k });
    const sf = await sql<{ v: number }>`
      select cadence_gamma_sf(g.x, g.k) as v
      from unnest(${textArray(grid.map((g) => g.x))}::float8[], ${textArray(grid.map((g) => g.k))}::float8[]) with ordinality as g(x, k, i)
      order by g.i`.execute(getDeps().db);
    const sfError = Math.max(...sf.rows.map((r, i) => Math.abs(r.v - gammaSurvival(grid[i]!.x, grid[i]!.k))));
    expect(sfError).toBeLessThanOrEqual(0.011);

    const cases: { elapsed: number; mean: number; k: number; window: number }[] = [];
    for (const k of shapes)
      for (const mean of [3, 10, 30])
        for (const elapsed of [1, 3, 7, 14, 30, 60])
          for (const window of [7, 14]) if (elapsed <= 4 * mean) cases.push({ elapsed, mean, k, window });
    const col = (f: (c: (typeof cases)[number]) => number) => cases.map(f);
    const got = await sql<{ p: number; g: number }>`
      select cadence_window_prob(c.e, 0, c.w, c.m, c.k) as p, cadence_expected_gap(c.e, c.m, c.k) as g
      from unnest(${textArray(col((c) => c.elapsed))}::float8[], ${textArray(col((c) => c.window))}::float8[],
        ${textArray(col((c) => c.mean))}::float8[], ${textArray(col((c) => c.k))}::float8[]) with ordinality as c(e, w, m, k, i)
      order by c.i`.execute(getDeps().db);
    got.rows.forEach((r, i) => {
      const c = cases[i]!;
      const params = { elapsedDays: c.elapsed, meanGapDays: c.mean, gapShape: c.k };
      expect(Math.abs(r.p - windowProbability(params, 0, c.window))).toBeLessThanOrEqual(0.02);
      const g = expectedGapDays(params);
      expect(Math.abs(r.g - g) / g).toBeLessThanOrEqual(0.06);
    });
  });
});

describe('isotonic calibration bins', () => {
  it('pools adjacent violators, weighted', () => {
    const close = (got: number[], want: number[]) => {
      expect(got).toHaveLength(want.length);
      got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 12));
    };
    close(isotonic([{ value: 0.1, weight: 1 }, { value: 0.3, weight: 1 }, { value: 0.2, weight: 3 }, { value: 0.5, weight: 1 }]), [0.1, 0.225, 0.225, 0.5]);
    close(isotonic([{ value: 0.4, weight: 1 }, { value: 0.2, weight: 1 }, { value: 0.0, weight: 2 }]), [0.15, 0.15, 0.15]);
  });

  it('cuts boundaries halfway between bins and covers every probability', () => {
    const bins = fitBins([
      { countBucket: 0, ratioBucket: 1, bin: 1, lo: 0.1, hi: 0.2, meanRaw: 0.15, pairs: 100, bought: 5 },
      { countBucket: 0, ratioBucket: 1, bin: 2, lo: 0.3, hi: 0.5, meanRaw: 0.4, pairs: 100, bought: 3 },
      { countBucket: 0, ratioBucket: 1, bin: 3, lo: 0.6, hi: 0.9, meanRaw: 0.7, pairs: 100, bought: 20 },
      { countBucket: 3, ratioBucket: 0, bin: 1, lo: 0.2, hi: 0.8, meanRaw: 0.5, pairs: 10, bought: 4 },
    ]);
    expect(bins.map((b) => [b.rawFrom, b.rawTo, b.calibratedProb])).toEqual([
      [-1, 0.25, 0.04],
      [0.25, 0.55, 0.04],
      [0.55, 2, 0.2],
      [-1, 2, 0.4],
    ]);
  });
});
