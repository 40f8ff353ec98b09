import { sql, type RawBuilder } from 'kysely';
import { textArray, withTx, type Db } from '../db/index.ts';
import { computeBacktest, tuneSession } from './cycles.ts';

/**
 * Calibration of the cycle model's window probabilities by back-testing on the chain's own history.
 *
 * The raw renewal probability is over-confident where the model's assumptions fail: an item
 * bought once says little about a rhythm, and an item not bought for many cycles has usually been
 * given up (a gamma hazard keeps rising instead). So every member × product is predicted as of a
 * past cutoff from the history before it, and compared with whether it was bought in the window
 * after it (member_product_backtest, written by computeCycles).
 *
 * Strata: purchase-day count (1, 2–3, 4–7, 8+) × elapsed / mean gap (< 0.5, 0.5–1, 1–1.5, 1.5–2.5,
 * 2.5–4, ≥ 4; the last ones learn abandonment). Within a stratum, pairs are cut into up to 10
 * equal-count bins of raw probability and the observed frequencies made non-decreasing by
 * pool-adjacent-violators, i.e. isotonic regression on binned data (Zadrozny & Elkan, "Transforming
 * classifier scores into accurate multiclass probability estimates", KDD 2002). A prediction takes
 * the calibrated probability of its stratum's bin; where no stratum was learnt it stays raw.
 */

export interface CalibrateOptions {
  /** Predictions are calibrated as of this instant: the back-test window ends here. */
  asOf: Date;
  /** Needed only when the back-test snapshot has to be computed here. */
  timeZone: string;
  /** Length of the window predicted, in days. Default 14. */
  windowDays?: number;
}

export interface CalibrationBin {
  countBucket: number;
  ratioBucket: number;
  bin: number;
  rawFrom: number;
  rawTo: number;
  meanRaw: number;
  pairs: number;
  bought: number;
  calibratedProb: number;
}

export interface CalibrationSummary {
  cutoffDate: string;
  windowDays: number;
  /** Member × product pairs back-tested. */
  pairs: number;
  strata: number;
  bins: number;
  /** Mean raw probability and observed frequency over the back-test: the over-confidence fixed. */
  meanRawProb: number;
  observedRate: number;
  /** Brier score of raw and calibrated probabilities on the back-test itself (in-sample). */
  brierRaw: number;
  brierCalibrated: number;
}

export const CALIBRATION = {
  windowDays: 14,
  maxBins: 10,
  /** Fewest pairs per bin: a stratum of 120 pairs gets 3 bins. */
  minBinPairs: 40,
  ratioEdges: [0.5, 1, 1.5, 2.5, 4],
} as const;

/** Stratum of purchase-day count: 0 = one day, 1 = 2–3, 2 = 4–7, 3 = 8 or more. */
export function countBucketSql(purchaseDays: RawBuilder<unknown>): RawBuilder<number> {
  return sql<number>`(case when ${purchaseDays} <= 1 then 0 when ${purchaseDays} <= 3 then 1
    when ${purchaseDays} <= 7 then 2 else 3 end)`;
}

/** Stratum of elapsed / mean gap, 0–5. */
export function ratioBucketSql(elapsed: RawBuilder<unknown>, meanGap: RawBuilder<unknown>): RawBuilder<number> {
  return sql<number>`width_bucket(${elapsed}::float8 / ${meanGap},
    array[${sql.join(CALIBRATION.ratioEdges.map((e) => sql.lit(e)))}]::float8[])`;
}

/**
 * Calibrates `raw` in a set-based query: `join` goes in the FROM clause (a hash join of each row
 * on its stratum, whose bins come as two arrays), `prob` in the select list: the bin found by
 * binary search (width_bucket), or `raw` where no stratum was learnt. Pass plain columns: the
 * expressions are repeated.
 */
export function calibrationSql(p: {
  raw: RawBuilder<unknown>;
  purchaseDays: RawBuilder<unknown>;
  elapsedDays: RawBuilder<unknown>;
  meanGapDays: RawBuilder<unknown>;
}): { join: RawBuilder<unknown>; prob: RawBuilder<number> } {
  return {
    join: sql`left join (
        select count_bucket, ratio_bucket, array_agg(raw_from order by bin) as bounds,
          array_agg(calibrated_prob order by bin) as probs
        from prediction_calibration group by count_bucket, ratio_bucket
      ) as cal on cal.count_bucket = ${countBucketSql(p.purchaseDays)}
        and cal.ratio_bucket = ${ratioBucketSql(p.elapsedDays, p.meanGapDays)}`,
    prob: sql<number>`coalesce(cal.probs[width_bucket(${p.raw}, cal.bounds)], ${p.raw})`,
  };
}

/**
 * Fits prediction_calibration from the back-test ending at `asOf` (computing the back-test
 * snapshot first when the stored one is for another date or window) and replaces the table.
 * The binning and pooling are set-based; only the bins (≤ 240 rows) come to JavaScript for PAV.
 */
export async function calibrate(db: Db, opts: CalibrateOptions): Promise<CalibrationSummary> {
  const windowDays = opts.windowDays ?? CALIBRATION.windowDays;
  if (!Number.isInteger(windowDays) || windowDays < 1) {
    throw new RangeError(`windowDays must be a positive integer: ${windowDays}`);
  }
  return withTx(db, async (tx) => {
    await tuneSession(tx);
    const stored = await sql<{ as_of: Date; window_days: number }>`
      select as_of, window_days from member_product_backtest limit 1`.execute(tx);
    const snapshot = stored.rows[0];
    const stale =
      !snapshot ||
      new Date(snapshot.as_of).getTime() !== opts.asOf.getTime() ||
      snapshot.window_days !== windowDays;
    if (stale) {
      await computeBacktest(tx, { asOf: opts.asOf, timeZone: opts.timeZone, windowDays });
    }

    const { maxBins, minBinPairs } = CALIBRATION;
    const { rows } = await sql<{
      count_bucket: number;
      ratio_bucket: number;
      bin: number;
      lo: number;
      hi: number;
      mean_raw: number;
      pairs: number;
      bought: number;
      cutoff_date: string;
    }>`
      with x as (
        select member_id, gtin, raw_prob, bought, cutoff_date,
          ${countBucketSql(sql`purchase_days`)} as count_bucket,
          ${ratioBucketSql(sql`elapsed_days`, sql`mean_gap_days`)} as ratio_bucket
        from member_product_backtest
      ),
      y as (select x.*, count(*) over (partition by count_bucket, ratio_bucket) as stratum_pairs from x),
      z as (
        select y.*, ntile(greatest(1, least(${maxBins}, stratum_pairs / ${minBinPairs}))::int)
          -- ties of raw_prob are split between bins by key, not by the rows' physical order
          -- (which follows whatever plan wrote the back-test: the bins' counts moved with it)
          over (partition by count_bucket, ratio_bucket order by raw_prob, member_id, gtin) as bin
        from y
      )
      select count_bucket, ratio_bucket, bin, min(raw_prob) as lo, max(raw_prob) as hi,
        avg(raw_prob) as mean_raw, count(*)::int as pairs, count(*) filter (where bought)::int as bought,
        min(cutoff_date)::text as cutoff_date
      from z group by 1, 2, 3 order by 1, 2, 3`.execute(tx);

    const bins = fitBins(rows.map((r) => ({
      countBucket: r.count_bucket,
      ratioBucket: r.ratio_bucket,
      bin: r.bin,
      lo: r.lo,
      hi: r.hi,
      meanRaw: r.mean_raw,
      pairs: r.pairs,
      bought: r.bought,
    })));
    const cutoffDate = rows[0]?.cutoff_date ?? '';

    await sql`delete from prediction_calibration`.execute(tx);
    if (bins.length > 0) {
      const col = <K extends keyof CalibrationBin>(k: K) => textArray(bins.map((b) => b[k]));
      await sql`
        insert into prediction_calibration (count_bucket, ratio_bucket, bin, raw_from, raw_to,
          mean_raw, pairs, bought, calibrated_prob, window_days, cutoff_date, as_of)
        select c::smallint, r::smallint, b::smallint, f::float8, t::float8, m::float8, n::int,
          k::int, p::float8, ${windowDays}, ${cutoffDate}::date, ${opts.asOf.toISOString()}::timestamptz
        from unnest(${col('countBucket')}, ${col('ratioBucket')}, ${col('bin')}, ${col('rawFrom')},
          ${col('rawTo')}, ${col('meanRaw')}, ${col('pairs')}, ${col('bought')},
          ${col('calibratedProb')}) as u(c, r, b, f, t, m, n, k, p)`.execute(tx);
    }

    const cal = calibrationSql({
      raw: sql`b.raw_prob`,
      purchaseDays: sql`b.purchase_days`,
      elapsedDays: sql`b.elapsed_days`,
      meanGapDays: sql`b.mean_gap_days`,
    });
    const fit = await sql<{
      pairs: number;
      mean_raw: number;
      observed: number;
      brier_raw: number;
      brier_cal: number;
    }>`
      select count(*)::int as pairs, avg(b.raw_prob) as mean_raw, avg(b.bought::int) as observed,
        avg((b.raw_prob - b.bought::int) ^ 2) as brier_raw,
        avg((${cal.prob} - b.bought::int) ^ 2) as brier_cal
      from member_product_backtest b ${cal.join}`.execute(tx);
    const f = fit.rows[0]!;
    return {
      cutoffDate,
      windowDays,
      pairs: f.pairs,
      strata: new Set(bins.map((b) => `${b.countBucket}/${b.ratioBucket}`)).size,
      bins: bins.length,
      meanRawProb: f.mean_raw ?? 0,
      observedRate: f.observed ?? 0,
      brierRaw: f.brier_raw ?? 0,
      brierCalibrated: f.brier_cal ?? 0,
    };
  });
}

interface RawBin {
  countBucket: number;
  ratioBucket: number;
  bin: number;
  lo: number;
  hi: number;
  meanRaw: number;
  pairs: number;
  bought: number;
}

/**
 * Pure: bins (ordered by raw probability within each stratum) → calibrated bins. PAV pools adjacent
 * bins whose observed frequencies decrease; boundaries sit halfway between neighbouring bins, and
 * the outer ones at −1 and 2 so that every probability falls in exactly one bin.
 */
export function fitBins(bins: readonly RawBin[]): CalibrationBin[] {
  const strata = new Map<string, RawBin[]>();
  for (const b of bins) {
    const key = `${b.countBucket}/${b.ratioBucket}`;
    (strata.get(key) ?? strata.set(key, []).get(key)!).push(b);
  }
  const out: CalibrationBin[] = [];
  for (const group of strata.values()) {
    group.sort((a, b) => a.bin - b.bin);
    const fitted = isotonic(group.map((b) => ({ value: b.bought / b.pairs, weight: b.pairs })));
    group.forEach((b, i) => {
      const prev = group[i - 1];
      const next = group[i + 1];
      out.push({
        countBucket: b.countBucket,
        ratioBucket: b.ratioBucket,
        bin: b.bin,
        rawFrom: prev ? (prev.hi + b.lo) / 2 : -1,
        rawTo: next ? (b.hi + next.lo) / 2 : 2,
        meanRaw: b.meanRaw,
        pairs: b.pairs,
        bought: b.bought,
        calibratedProb: fitted[i]!,
      });
    });
  }
  return out;
}

/** Weighted pool-adjacent-violators: the non-decreasing sequence closest in weighted L². */
export function isotonic(points: readonly { value: number; weight: number }[]): number[] {
  const blocks: { value: number; weight: number; count: number }[] = [];
  for (const p of points) {
    blocks.push({ value: p.value, weight: p.weight, count: 1 });
    while (blocks.length > 1 && blocks.at(-2)!.value > blocks.at(-1)!.value) {
      const b = blocks.pop()!;
      const a = blocks.at(-1)!;
      const weight = a.weight + b.weight;
      a.value = weight > 0 ? (a.value * a.weight + b.value * b.weight) / weight : (a.value + b.value) / 2;
      a.weight = weight;
      a.count += b.count;
    }
  }
  return blocks.flatMap((b) => Array<number>(b.count).fill(b.value));
}
