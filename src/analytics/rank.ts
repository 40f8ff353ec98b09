import { sql } from 'kysely';
import { withTx, type Db } from '../db/index.ts';
import { ConflictError } from '../lib/errors.ts';
import { calibrate, calibrationSql } from './calibrate.ts';
import { computeCycles, tuneSession } from './cycles.ts';
import { deferReplacements, replaceRows } from './replace-rows.ts';

/**
 * Next-basket ranking: which of the products a member has bought they will buy in the next list
 * period. Two estimates of "bought soon", blended by log-linear pooling:
 *
 *   score = share^(1 − α) · prob^α
 *
 * - share: the recency-weighted share of the member's visit days that include the product
 *   (member_product_cycles.basket_share) — personal frequency, as P-TopFreq ranks, with old
 *   habits fading (half-life 180 days);
 * - prob: the calibrated probability of a purchase in the period from the repurchase cycle
 *   (cycles.ts, calibrate.ts) — timing: due now or just bought, and given up after many cycles.
 * α = 1/3 by default. On simulated chains frequency carries most of the signal and timing refines
 * it. What the calibrated probability adds is mostly elsewhere: it says how likely, not only which
 * first (offer timing, list length, "due" flags).
 *
 * Measured on the issue's held-out basket — each member's last one, ranked as of its own day's
 * midnight, so elapsed days are exact (evaluateLastBaskets; test/bench/analytics.ts, 10,000 members,
 * 18 weeks, seed 42 / 4,000 members seed 7): Recall@10 1.002× / 1.004× P-TopFreq, NDCG@10 1.003× /
 * 1.005×. α 0.15–0.5 all within 0.1% of that, α = 0 (share alone) 1.001× / 1.003×, α = 1 (timing
 * alone) 0.995× / 0.994×; the raw instead of the calibrated 14-day probability 1.004× / 1.003×.
 * Knowing the day did not make a sharper timing term pay. For the very next visit, raw window
 * probabilities over [0, 1), [0, 3), [0, 7) or [−3, 4) days (a purchase due just before the visit
 * is still to be made) gave 0.998–1.003× at α = 1/3 (both seeds); at α = 0.5, 0.98× ([0, 1) and
 * [−3, 4), seed 42), at α = 1, 0.71× ([−3, 4)). Next-visit purchase rates learnt from the back-test
 * (each member's first visit after its cutoff, with the elapsed days or the member's visits since
 * the last purchase at that visit, per cell of share × purchase count × elapsed / gap or visits
 * since) gave 1.002–1.006× on seed 42 and 1.001–1.006× on seed 7: at most 0.4% above this score,
 * short of the 1% that would justify a second score. So one score serves both
 * the list period and the next basket. (Measured at a common cutoff before, where the basket's day
 * is unknown: the same picture, 1.003×; raw window probabilities 1.4–2.7% below P-TopFreq, a 30-day
 * share half-life, TIFU-KNN's personal decay, 1.3% below.)
 *
 * Why not more: in the simulated world a staple falls due on a gamma renewal clock (shape 1.5–3)
 * that runs on whether or not the purchase is seen here, and is bought on the household's trip
 * nearest its due date, here or at another grocer; everything else is bought at a steady personal
 * rate, which purchase counts already estimate. The baskets say when a product was last bought
 * here, not when it falls due next: on last baskets a ranking fitted on the held-out baskets with
 * every true parameter (staple or not, true mean gap, share of wallet) reaches 1.04× P-TopFreq's
 * Recall@10 (1.06× on seed 7), one that knows the latent due dates 1.26× (1.27×) — the bench prints
 * both; the gap between them is renewal noise no history reveals.
 */

export interface ScoreOptions {
  asOf: Date;
  timeZone: string;
  /** The list period; the calibration must be for a window this long to be used. Default 14. */
  periodDays?: number;
  /** Ranks kept per member. Default 50. */
  keep?: number;
  /** α, the weight of the window probability against the basket share. Default 1/3. */
  probWeight?: number;
  /** False: rank by the raw window probability even when a calibration exists (comparisons). */
  calibrated?: boolean;
}

export interface ScoreSummary {
  members: number;
  rows: number;
  /**
   * False when the probabilities are raw: no calibration for this period's length exists, or
   * `calibrated: false` was asked for.
   */
  calibrated: boolean;
}

export const SCORE_DEFAULTS = { periodDays: 14, keep: 50, probWeight: 1 / 3 } as const;

/**
 * Replaces member_product_scores with each member's top `keep` products as of `asOf`, from the
 * member_product_cycles computed for the same instant (ConflictError otherwise: run computeCycles
 * first). `predicted_date` is the expected day of the next purchase given none since the last
 * (never before today); `prob` the calibrated probability of a purchase within `periodDays`.
 */
export async function scoreNextBasket(db: Db, opts: ScoreOptions): Promise<ScoreSummary> {
  const periodDays = opts.periodDays ?? SCORE_DEFAULTS.periodDays;
  const keep = opts.keep ?? SCORE_DEFAULTS.keep;
  const alpha = opts.probWeight ?? SCORE_DEFAULTS.probWeight;
  if (!Number.isInteger(periodDays) || periodDays < 1) {
    throw new RangeError(`periodDays must be a positive integer: ${periodDays}`);
  }
  if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`keep must be a positive integer: ${keep}`);
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`probWeight must be within 0–1: ${alpha}`);
  const asOf = sql`${opts.asOf.toISOString()}::timestamptz`;
  const today = sql`(${asOf} at time zone ${opts.timeZone}::text)::date`;

  return withTx(db, async (tx) => {
    await tuneSession(tx);
    const cycles = await sql<{ as_of: Date }>`select as_of from member_product_cycles limit 1`.execute(tx);
    const cyclesAsOf = cycles.rows[0]?.as_of;
    if (cyclesAsOf !== undefined && new Date(cyclesAsOf).getTime() !== opts.asOf.getTime()) {
      throw new ConflictError(
        `member_product_cycles is as of ${new Date(cyclesAsOf).toISOString()}, ` +
          `not ${opts.asOf.toISOString()}: run computeCycles first`,
      );
    }
    const windows = await sql<{ window_days: number }>`
      select distinct window_days from prediction_calibration`.execute(tx);
    const calibrated =
      opts.calibrated !== false && windows.rows.length === 1 && windows.rows[0]!.window_days === periodDays;

    // Replaced as computeCycles replaces its tables: a new table, its indexes built after the
    // insert, moved into place (replace-rows.ts).
    // Inputs of the inlined probability functions materialised first: they repeat their arguments.
    const cal = calibrationSql({
      raw: sql`r.raw`,
      purchaseDays: sql`r.purchase_days`,
      elapsedDays: sql`r.elapsed`,
      meanGapDays: sql`r.mean_gap_days`,
    });
    const res = await replaceRows(tx, 'member_product_scores', () => sql`
      with base as materialized (
        select c.member_id, c.gtin, c.last_purchase_date, c.purchase_days, c.basket_share,
          c.mean_gap_days, c.gap_shape, (${today} - c.last_purchase_date)::float8 as elapsed
        from member_product_cycles c
      ),
      predicted as materialized (
        select b.*, cadence_window_prob(b.elapsed, 0, ${periodDays}, b.mean_gap_days, b.gap_shape) as raw,
          cadence_expected_gap(b.elapsed, b.mean_gap_days, b.gap_shape) as expected_gap
        from base b
      ),
      scored as (
        select r.member_id, r.gtin, r.last_purchase_date, p.prob,
          power(greatest(r.basket_share, 1e-9), ${1 - alpha}::float8)
            * power(greatest(p.prob, 1e-9), ${alpha}::float8) as score,
          r.last_purchase_date + round(r.expected_gap)::int as predicted_date
        from predicted r
        ${calibrated ? cal.join : sql``}
        cross join lateral (select ${calibrated ? cal.prob : sql`r.raw`} as prob) p
      )
      insert into member_product_scores (member_id, gtin, rank, score, predicted_date, prob, window_days, as_of)
      select member_id, gtin, rank, score, predicted_date, prob, ${periodDays}, ${asOf}
      from (
        select s.*, row_number() over (
          partition by s.member_id order by s.score desc, s.last_purchase_date desc, s.gtin) as rank
        from scored s
      ) ranked
      where rank <= ${keep}`.execute(tx));
    const members = await sql<{ n: number }>`
      select count(distinct member_id)::int as n from member_product_scores`.execute(tx);
    return { members: members.rows[0]!.n, rows: Number(res.numAffectedRows ?? 0), calibrated };
  });
}

/** One line of the predictions export. */
export interface PredictionRow {
  /** The chain's member number (the card number for members without one); never the internal id. */
  memberNumber: string;
  gtin: string;
  rank: number;
  score: number;
  /** `YYYY-MM-DD`, store-local. */
  predictedDate: string;
  /** Calibrated probability of a purchase within the window (14 days by default). */
  prob: number;
}

export interface ExportOptions {
  asOf: Date;
  timeZone: string;
  /** Products per member. Default 20. */
  top?: number;
  /** Window of `prob` and of the list period. Default 14. */
  windowDays?: number;
  /** Rows fetched per query. Default 5000. */
  pageSize?: number;
}

/** Header of the predictions CSV; `member_id` holds the member number, as the issue names it. */
export const PREDICTIONS_CSV_COLUMNS = [
  'member_id',
  'gtin',
  'rank',
  'score',
  'predicted_date',
  'prob_14d',
] as const;

export function predictionCsvLine(r: PredictionRow): string {
  const id = /[",\n\r]/.test(r.memberNumber) ? `"${r.memberNumber.replace(/"/g, '""')}"` : r.memberNumber;
  return `${id},${r.gtin},${r.rank},${r.score.toFixed(6)},${r.predictedDate},${r.prob.toFixed(4)}`;
}

/**
 * Each member's top products as of `asOf`, using only baskets before it, member by member in rank
 * order. When the stored scores are for another instant, the whole pipeline (cycles, calibration,
 * scores) runs inside a transaction that is rolled back when the iteration ends, so the nightly
 * tables stay as they were. While iterating, the database connection is held: on PGlite, run no
 * other query until the iteration ends.
 */
export async function* exportPredictions(db: Db, opts: ExportOptions): AsyncGenerator<PredictionRow> {
  const top = opts.top ?? 20;
  const windowDays = opts.windowDays ?? 14;
  if (!Number.isInteger(top) || top < 1) throw new RangeError(`top must be a positive integer: ${top}`);
  const stored = await sql<{ as_of: Date; window_days: number; max_rank: number }>`
    select min(as_of) as as_of, min(window_days) as window_days, max(rank) as max_rank
    from member_product_scores`.execute(db);
  const s = stored.rows[0];
  const current =
    s?.as_of &&
    new Date(s.as_of).getTime() === opts.asOf.getTime() &&
    s.window_days === windowDays &&
    s.max_rank >= top;
  if (current) {
    yield* readScores(db, top, opts.pageSize ?? 5000);
    return;
  }
  const trx = await db.startTransaction().execute();
  try {
    // Rolled back: the tables are built beside the live ones and never moved (replace-rows.ts),
    // so readers of the live analytics do not wait for the export.
    await deferReplacements(trx);
    await computeCycles(trx, { asOf: opts.asOf, timeZone: opts.timeZone, backtestDays: windowDays });
    await calibrate(trx, { asOf: opts.asOf, timeZone: opts.timeZone, windowDays });
    await scoreNextBasket(trx, { asOf: opts.asOf, timeZone: opts.timeZone, periodDays: windowDays, keep: top });
    yield* readScores(trx, top, opts.pageSize ?? 5000);
  } finally {
    await trx.rollback().execute();
  }
}

async function* readScores(db: Db, top: number, pageSize: number): AsyncGenerator<PredictionRow> {
  let after = { member: -1, rank: 0 };
  for (;;) {
    const { rows } = await sql<{
      member_id: number;
      member_number: string;
      gtin: string;
      rank: number;
      score: number;
      predicted_date: string;
      prob: number;
    }>`
      select s.member_id, coalesce(m.member_number, m.card_number, '') as member_number, s.gtin,
        s.rank, s.score, s.predicted_date::text as predicted_date, s.prob
      from member_product_scores s join members m on m.id = s.member_id
      where s.rank <= ${top} and (s.member_id, s.rank) > (${after.member}::bigint, ${after.rank}::int)
      order by s.member_id, s.rank
      limit ${pageSize}`.execute(db);
    for (const r of rows) {
      yield {
        memberNumber: r.member_number,
        gtin: r.gtin,
        rank: r.rank,
        score: r.score,
        predictedDate: r.predicted_date,
        prob: r.prob,
      };
    }
    if (rows.length < pageSize) return;
    const last = rows.at(-1)!;
    after = { member: last.member_id, rank: last.rank };
  }
}
