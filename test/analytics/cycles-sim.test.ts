import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { calibrate, type CalibrationSummary } from '../../src/analytics/calibrate.ts';
import { computeCycles } from '../../src/analytics/cycles.ts';
import { scoreNextBasket } from '../../src/analytics/rank.ts';
import { evaluateNextBasket } from '../../src/analytics/rank-evaluation.ts';
import { generateChain, loadSimChain, type SimOptions } from '../../src/sim/index.ts';
import { dbKind, useTestDeps } from '../support/db.ts';

/**
 * The cycle model against a simulated chain's truth. The last 14 days (18–31 October) are held out:
 * everything is computed as of 18 October from the baskets before it (and calibrated on the 14 days
 * before that), then compared with what members did afterwards. Fixed seed; each test states its
 * tolerance.
 */
const OPTIONS: SimOptions = { seed: 5, members: 500, stores: 3, weeks: 52, endDate: '2026-10-31' };
const TZ = 'America/New_York';
const AS_OF = new Date('2026-10-18T04:00:00Z');
const WINDOW_DAYS = 14;

const getDeps = useTestDeps();
let calibration: CalibrationSummary;

beforeAll(async () => {
  const db = getDeps().db;
  await loadSimChain({ db }, generateChain(OPTIONS));
  await computeCycles(db, { asOf: AS_OF, timeZone: TZ, backtestDays: WINDOW_DAYS });
  calibration = await calibrate(db, { asOf: AS_OF, timeZone: TZ, windowDays: WINDOW_DAYS });
  // Every pair kept, so that the calibration can be checked on all of them.
  await scoreNextBasket(db, { asOf: AS_OF, timeZone: TZ, periodDays: WINDOW_DAYS, keep: 10_000 });
}, 120_000);

// The truth's mean gap is the household's, at any grocer. The simulator has a member shop at
// another grocer on a share (1 − share of wallet) of trips, so the gap seen at the chain is about
// truth / share of wallet: that is what any model of our baskets can estimate, and what we compare
// with. Members who churn and products given up are left out (their truth no longer applies).
const truthRatio = (minShare: number, days: ReturnType<typeof sql>) => sql`
  select c.purchase_days, c.mean_gap_days / (pt.mean_gap_days / t.share_of_wallet) as posterior,
    c.observed_mean_gap_days / (pt.mean_gap_days / t.share_of_wallet) as observed
  from member_product_cycles c
  join sim_member_product_truth pt on pt.member_id = c.member_id and pt.gtin = c.gtin
  join sim_member_truth t on t.member_id = c.member_id
  where pt.abandoned_on is null and t.churn_onset_date is null
    and t.share_of_wallet >= ${minShare} and ${days}`;

describe(`repurchase cycles on a simulated chain (${dbKind})`, () => {
  it('estimates mean gaps within 15% of the truth for ≥ 8 purchase days', async () => {
    // Members with share of wallet ≥ 0.9 (the correction above is then ≤ 11%).
    // Tolerance: the median pair within 15% of the truth, and no bias beyond 10% either way.
    // (One pair's 7+ gamma gaps of shape ~2 have a standard error of ~25%: not every pair can be.)
    const { rows } = await sql<{ pairs: number; median_error: number; median_ratio: number }>`
      select count(*)::int as pairs,
        percentile_cont(0.5) within group (order by abs(posterior - 1)) as median_error,
        percentile_cont(0.5) within group (order by posterior) as median_ratio
      from (${truthRatio(0.9, sql`c.purchase_days >= 8`)}) e`.execute(getDeps().db);
    const r = rows[0]!;
    expect(r.pairs).toBeGreaterThan(100);
    expect(r.median_error).toBeLessThanOrEqual(0.15);
    expect(r.median_ratio).toBeGreaterThan(0.9);
    expect(r.median_ratio).toBeLessThan(1.1);
  });

  it('does better than the observed mean where purchases are few, thanks to the prior', async () => {
    // Pairs with 2–3 purchase days, share of wallet ≥ 0.7. Tolerance: the shrunk estimate's
    // median relative error at least 10% (relative) below the observed mean's.
    const { rows } = await sql<{ pairs: number; posterior: number; observed: number }>`
      select count(*)::int as pairs,
        percentile_cont(0.5) within group (order by abs(posterior - 1)) as posterior,
        percentile_cont(0.5) within group (order by abs(observed - 1)) as observed
      from (${truthRatio(0.7, sql`c.purchase_days between 2 and 3`)}) e`.execute(getDeps().db);
    const r = rows[0]!;
    expect(r.pairs).toBeGreaterThan(50);
    expect(r.posterior).toBeLessThanOrEqual(0.9 * r.observed);
  });

  it('calibrates window probabilities on a held-out period: within ±0.05 per decile', async () => {
    // Raw renewal probabilities are over-confident (as the issue warns); calibrated ones, learnt on
    // 4–17 October, must match what happened 18–31 October, decile by decile of prediction.
    expect(calibration.meanRawProb).toBeGreaterThan(calibration.observedRate + 0.1);
    const { rows } = await sql<{ decile: number; pairs: number; predicted: number; raw: number; observed: number }>`
      with outcome as (
        select distinct l.member_id, l.gtin
        from basket_lines l join baskets b on b.member_id = l.member_id and b.id = l.basket_id
        where b.ts >= ${AS_OF.toISOString()}::timestamptz
          and b.ts < ${AS_OF.toISOString()}::timestamptz + make_interval(days => ${WINDOW_DAYS}) and l.qty > 0
      ),
      p as (
        select s.prob, cadence_window_prob(${'2026-10-18'}::date - c.last_purchase_date, 0, ${WINDOW_DAYS},
            c.mean_gap_days, c.gap_shape) as raw,
          (o.gtin is not null)::int as bought
        from member_product_scores s
        join member_product_cycles c on c.member_id = s.member_id and c.gtin = s.gtin
        left join outcome o on o.member_id = s.member_id and o.gtin = s.gtin
      )
      select decile, count(*)::int as pairs, avg(prob) as predicted, avg(raw) as raw, avg(bought) as observed
      from (select p.*, ntile(10) over (order by prob) as decile from p) d
      group by decile order by decile`.execute(getDeps().db);
    expect(rows).toHaveLength(10);
    for (const r of rows) {
      expect(Math.abs(r.predicted - r.observed), `decile ${r.decile}: predicted ${r.predicted.toFixed(3)}, observed ${r.observed.toFixed(3)}`)
        .toBeLessThanOrEqual(0.05);
    }
    // The raw model would not have passed.
    expect(Math.max(...rows.map((r) => Math.abs(r.raw - r.observed)))).toBeGreaterThan(0.1);
  });

  it('ranks the next basket at least as well as P-TopFreq (Recall@10, NDCG@10)', async () => {
    // Held out: each member's first basket 18–31 October. Tolerance: not below P-TopFreq.
    const e = await evaluateNextBasket(getDeps().db, { asOf: AS_OF, k: 10, horizonDays: WINDOW_DAYS });
    expect(e.members).toBeGreaterThan(300);
    expect(e.model.recall).toBeGreaterThanOrEqual(e.topFreq.recall);
    expect(e.model.ndcg).toBeGreaterThanOrEqual(e.topFreq.ndcg);
  });

  it('departs from P-TopFreq where the cycle says so, and its own picks are bought more often', async () => {
    // Recall differs from P-TopFreq's only through the top-10 slots where the two disagree, so the
    // test looks there. Measured on this chain: 224 slots (5.6%); the model's products were in the
    // next basket 21.9% of the time, P-TopFreq's 16.1%. Falling back to purchase counts leaves no
    // slot; falling back to the recency-weighted share alone (probWeight 0) leaves 171 slots
    // (4.3%) where P-TopFreq's products win, 21.6% to 18.1%. Tolerance: at least 3% of the slots,
    // and a lead of at least 2 points (5 of the 224 purchases) on them.
    const e = await evaluateNextBasket(getDeps().db, { asOf: AS_OF, k: 10, horizonDays: WINDOW_DAYS });
    const d = e.disagreement;
    expect(d.shareOfSlots).toBeGreaterThanOrEqual(0.03);
    expect(d.modelHitRate, `${d.slots} slots: model ${d.modelHitRate.toFixed(3)}, P-TopFreq ${d.topFreqHitRate.toFixed(3)}`)
      .toBeGreaterThanOrEqual(d.topFreqHitRate + 0.02);
  });
});
