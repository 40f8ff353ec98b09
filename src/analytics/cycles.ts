import { sql, type RawBuilder } from 'kysely';
import { withTx, type Db } from '../db/index.ts';
import { purchaseLinesFor, type PurchaseLines } from './purchase-lines.ts';
import { replaceRows } from './replace-rows.ts';

/**
 * Repurchase cycles: a gamma renewal model per member × product and per member × category.
 *
 * Data. A purchase day is a store-local date (`(ts at time zone store zone)::date`) on which the
 * member's net quantity of the item is positive: same-day baskets collapse to one day, returns
 * never make one. Only baskets before `asOf` count; anonymous baskets (member 0) never.
 * With n purchase days d₁ < … < dₙ there are n − 1 complete gaps gᵢ = dᵢ₊₁ − dᵢ.
 *
 * Model. Gaps are i.i.d. gamma with shape k and mean μ (scale θ = μ / k):
 *   - k per category, by the method of moments on gaps normalised by their pair's own mean, so
 *     that members' different rhythms do not pass for irregularity: for pairs with ≥ 3 gaps,
 *       CV² = Σ_pairs Σᵢ (gᵢ − ḡ)² / ḡ²  /  Σ_pairs (n_gaps − 1),   k = clamp(1 / CV², 0.8, 6).
 *   - μ per member × item by conjugate shrinkage toward the prior mean μ₀. With a gamma prior on the
 *     rate β = k / μ, β ~ Gamma(k₀·k + 1, rate k₀·μ₀), the posterior mean of μ is
 *       μ̂ = (k₀·μ₀ + Σ gᵢ) / (k₀ + n − 1) = (k₀·μ₀ + dₙ − d₁) / (k₀ + n − 1),
 *     i.e. k₀ pseudo-gaps of the prior's length (Gelman et al., Bayesian Data Analysis, 3rd ed.,
 *     §2.6 and the table of conjugate families; here k₀ = 1 by default: one purchase trusts the
 *     prior, eight trust the member 7 : 1).
 *   - μ₀ is the geometric mean of the observed mean gaps of the category's member × product pairs
 *     with ≥ 3 purchase days (the product's own pairs when it has no category; all pairs when too
 *     few). Geometric, because gaps scale multiplicatively between members, and only pairs with
 *     two gaps or more, because one-off buyers in a fixed window say little about a rhythm.
 *   - Next expected date = d_n + μ̂.
 * Window probability given t days since the last purchase (S = gamma survival, Q(k, x/θ)):
 *   P(next purchase in days [t + a, t + b) | none before t) = (S(t + a − ½) − S(t + b − ½)) / S(t − ½),
 * computed in SQL by cadence_window_prob (migrations/20261124_03_cycles.ts) and in JS by
 * `windowProbability` (predict.ts). The raw model is over-confident on real baskets (items bought
 * irregularly or given up), so calibrate.ts corrects it by back-testing on the chain's own history.
 * Basket share: Σ_purchase days w(d) / Σ_visit days w(d), w(d) = 2^(−(asOf − d) / half-life): the
 * recency-weighted personal frequency the ranking blends with the window probability.
 *
 * Reference: D. R. Cox, Renewal Theory (1962), ch. 1–2; gamma inter-purchase times as in
 * Chatfield & Goodhardt, "A consumer purchasing model with Erlang inter-purchase times",
 * JASA 68 (1973).
 */

export interface CycleOptions {
  /** Only baskets strictly before this instant count. */
  asOf: Date;
  /** The chain's IANA time zone, for baskets whose store has none. */
  timeZone: string;
  /**
   * Also snapshot each member × product as of `asOf − backtestDays` with whether it was bought in
   * the days from then to `asOf`: the back-test calibrate.ts learns from, without a second pass
   * over the scan lines. 0 skips it. Default 14.
   */
  backtestDays?: number;
  /** k₀: pseudo-gaps of prior weight. Default 1. */
  priorWeight?: number;
  /** Half-life of the basket-share recency weight, in days. Default 180. */
  shareHalfLifeDays?: number;
  /** The scan lines prepared by the nightly job (see purchase-lines.ts); built here when absent. */
  lines?: PurchaseLines | undefined;
}

export interface CycleSummary {
  /** Store-local date of `asOf` in the chain's zone (`YYYY-MM-DD`). */
  asOfDate: string;
  memberProducts: number;
  memberCategories: number;
  /** Rows of member_product_backtest (0 when skipped). */
  backtestPairs: number;
}

export const CYCLE_DEFAULTS = {
  backtestDays: 14,
  priorWeight: 1,
  shareHalfLifeDays: 180,
  /** Pairs (with ≥ 3 purchase days) a category or product needs for a prior of its own. */
  minPriorPairs: 5,
  minShape: 0.8,
  maxShape: 6,
  /** When the chain has no repeat purchases at all yet. */
  fallbackMeanGapDays: 14,
  fallbackShape: 1.5,
} as const;

/**
 * Recomputes member_product_cycles, member_category_cycles and cycle_priors as of `asOf` (and
 * member_product_backtest, unless `backtestDays` is 0), replacing their contents in one
 * transaction. Idempotent: the same data and options give the same rows.
 *
 * One pass over the scan lines, set-based: baskets → local purchase days → gaps (a window function)
 * → per-pair aggregates, from which every table is written.
 */
export async function computeCycles(db: Db, opts: CycleOptions): Promise<CycleSummary> {
  return runCyclePass(db, { ...opts, current: true });
}

/** The back-test snapshot alone (what calibrate() needs when computeCycles did not write it). */
export async function computeBacktest(
  db: Db,
  opts: Omit<CycleOptions, 'backtestDays'> & { windowDays: number },
): Promise<CycleSummary> {
  return runCyclePass(db, { ...opts, backtestDays: opts.windowDays, current: false });
}

interface PassOptions extends CycleOptions {
  /** Write the cycles tables (false: only the back-test). */
  current: boolean;
}

async function runCyclePass(db: Db, opts: PassOptions): Promise<CycleSummary> {
  const backtestDays = opts.backtestDays ?? CYCLE_DEFAULTS.backtestDays;
  const k0 = opts.priorWeight ?? CYCLE_DEFAULTS.priorWeight;
  const halfLife = opts.shareHalfLifeDays ?? CYCLE_DEFAULTS.shareHalfLifeDays;
  if (!Number.isInteger(backtestDays) || backtestDays < 0) {
    throw new RangeError(`backtestDays must be a non-negative integer: ${backtestDays}`);
  }
  if (!(k0 > 0)) throw new RangeError(`priorWeight must be positive: ${k0}`);
  if (!(halfLife > 0)) throw new RangeError(`shareHalfLifeDays must be positive: ${halfLife}`);
  if (!opts.current && backtestDays === 0) throw new RangeError('nothing to compute');

  const asOf = sql`${opts.asOf.toISOString()}::timestamptz`;
  const tz = sql`${opts.timeZone}::text`;
  // Every date below is store-local; "today" is the chain zone's date of asOf.
  const today = sql`(${asOf} at time zone ${tz})::date`;
  const cutoff = sql`(${today} - ${backtestDays}::int)`;
  const decay = sql`${Math.LN2 / halfLife}::float8`;

  return withTx(db, async (tx) => {
    await tuneSession(tx);
    await dropTemps(tx);

    // Purchase days, with the product's category, from the lines already joined to their
    // basket's local day (text compared bytewise there: the sort below is the pass's main cost).
    const { lines, release } = await purchaseLinesFor(tx, opts);
    // Grouped by sorting, not hashing: the planner underestimates the groups (nearly one per line)
    // and hashes them, then sorts again; sorted groups come out in the order the window needs.
    await sql`set local enable_hashagg = off`.execute(tx);
    await sql`
      create temp table cycles_days on commit drop as
      select member_id, gtin, category_id, day
      from ${lines.table} l
      group by member_id, gtin, day, category_id
      having sum(qty_milli) > 0
      -- stored in the window's order below, whose sort then finds its input sorted (one pass)
      order by member_id, gtin, day`.execute(tx);
    await sql`set local enable_hashagg to default`.execute(tx);
    await sql`analyze cycles_days`.execute(tx);

    // Per pair: as of today, and (bt_*) as of the back-test cutoff with what happened after it.
    // The window's partition names the category too (a product has one), so its sorted output is
    // already grouped as the aggregate needs it: streamed, not hashed (measured on a million
    // lines: 1.24 s against 1.69 s, the same rows to the bit).
    await sql`set local enable_hashagg = off`.execute(tx);
    await sql`
      create temp table cycles_pairs on commit drop as
      select member_id, gtin, category_id,
        count(*)::int as n, min(day) as first_day, max(day) as last_day,
        coalesce(sum(gap * gap), 0)::float8 as sum_sq_gap,
        sum(exp((day - ${today})::float8 * ${decay})) as weight,
        count(*) filter (where day < ${cutoff})::int as bt_n,
        min(day) filter (where day < ${cutoff}) as bt_first_day,
        max(day) filter (where day < ${cutoff}) as bt_last_day,
        coalesce(sum(gap * gap) filter (where day < ${cutoff}), 0)::float8 as bt_sum_sq_gap,
        coalesce(sum(exp((day - ${cutoff})::float8 * ${decay})) filter (where day < ${cutoff}), 0) as bt_weight,
        coalesce(bool_or(day >= ${cutoff} and day < ${today}), false) as bt_bought
      from (
        select member_id, gtin, category_id, day,
               day - lag(day) over (partition by member_id, gtin, category_id order by day) as gap
        from cycles_days
      ) g
      group by member_id, gtin, category_id`.execute(tx);
    await sql`set local enable_hashagg to default`.execute(tx);

    // The member's visit days, the denominator of basket shares.
    await sql`
      create temp table cycles_members on commit drop as
      select member_id,
        sum(exp((day - ${today})::float8 * ${decay})) as weight,
        coalesce(sum(exp((day - ${cutoff})::float8 * ${decay})) filter (where day < ${cutoff}), 0) as bt_weight
      from (select distinct member_id, day from ${lines.visits}) v
      group by member_id`.execute(tx);
    await release();

    // Priors (see the model above), as of today and as of the cutoff: per category, per product
    // without a category, and global. A scope lacking data is null here and falls back to global.
    await sql`
      create temp table cycles_priors on commit drop as
      with x as (
        select gtin::text as gtin, category_id::text as category_id, n, sum_sq_gap,
          (last_day - first_day)::float8 / nullif(n - 1, 0) as mean_gap,
          bt_n, bt_sum_sq_gap,
          (bt_last_day - bt_first_day)::float8 / nullif(bt_n - 1, 0) as bt_mean_gap
        from cycles_pairs
      ),
      pooled as (
        select case when grouping(category_id) = 1 then 'global' else 'category' end as scope,
          coalesce(category_id, '') as key, ${pooledStats('')}, ${pooledStats('bt_')}
        from x
        group by grouping sets ((category_id), ())
        union all
        select 'product', gtin, ${pooledStats('')}, ${pooledStats('bt_')}
        from x where category_id is null group by gtin
      )
      select scope, key, pairs, bt_pairs,
        ${priorMean('')} as mean_gap_days, ${priorShape('')} as gap_shape,
        ${priorMean('bt_')} as bt_mean_gap_days, ${priorShape('bt_')} as bt_gap_shape
      from pooled
      where not (scope = 'category' and key = '')`.execute(tx);

    // Sizes for the next plan: without them the planner takes cycles_members (one row per member)
    // and cycles_priors (one per category) for big tables and sorts every pair for merge joins.
    await sql`analyze cycles_members, cycles_priors`.execute(tx);

    // Each pair's estimates, today's and the back-test's, as plain columns: the inlined
    // probability functions repeat their arguments, which should not be expressions.
    await sql`
      create temp table cycles_estimates on commit drop as
      select c.member_id, c.gtin, c.category_id, c.n, c.first_day, c.last_day,
        pr.mean_gap_days as prior_mean_gap, pr.gap_shape as shape,
        (${k0}::float8 * pr.mean_gap_days + (c.last_day - c.first_day)) / (${k0}::float8 + c.n - 1) as mean_gap,
        least(1, c.weight / m.weight) as share,
        c.bt_n, (${cutoff} - c.bt_last_day)::float8 as bt_elapsed, pr.bt_gap_shape as bt_shape,
        (${k0}::float8 * pr.bt_mean_gap_days + (c.bt_last_day - c.bt_first_day))
          / (${k0}::float8 + c.bt_n - 1) as bt_mean_gap,
        coalesce(least(1, c.bt_weight / nullif(m.bt_weight, 0)), 0) as bt_share, c.bt_bought
      from cycles_pairs c
      join cycles_members m on m.member_id = c.member_id
      left join cycles_priors cat on cat.scope = 'category' and cat.key = c.category_id::text
      left join cycles_priors prod on prod.scope = 'product' and prod.key = c.gtin::text
      cross join (select * from cycles_priors where scope = 'global') g
      -- its category's prior, else (no category) its product's, else the global one
      cross join lateral (select
        coalesce(cat.mean_gap_days, prod.mean_gap_days, g.mean_gap_days) as mean_gap_days,
        coalesce(cat.gap_shape, prod.gap_shape, g.gap_shape) as gap_shape,
        coalesce(cat.bt_mean_gap_days, prod.bt_mean_gap_days, g.bt_mean_gap_days) as bt_mean_gap_days,
        coalesce(cat.bt_gap_shape, prod.bt_gap_shape, g.bt_gap_shape) as bt_gap_shape) pr`.execute(tx);

    if (opts.current) await computeCategoryCycles(tx, { today, decay });

    // Write phase: every table replaced from the temp tables in quick succession, the big ones as
    // new tables moved into place, their indexes built once after their insert (replace-rows.ts).
    let memberProducts = 0;
    let memberCategories = 0;
    if (opts.current) {
      await sql`delete from cycle_priors`.execute(tx);
      await sql`
        insert into cycle_priors (scope, key, mean_gap_days, gap_shape, pairs, as_of)
        select p.scope, p.key, p.mean_gap_days, coalesce(p.gap_shape, g.gap_shape), p.pairs, ${asOf}
        from cycles_priors p cross join (select gap_shape from cycles_priors where scope = 'global') g
        where p.mean_gap_days is not null`.execute(tx);

      const products = await replaceRows(tx, 'member_product_cycles', () =>
        sql`
          insert into member_product_cycles (member_id, gtin, category_id, purchase_days,
            first_purchase_date, last_purchase_date, observed_mean_gap_days, prior_mean_gap_days,
            mean_gap_days, gap_shape, next_expected_date, basket_share, as_of)
          select member_id, gtin, category_id, n, first_day, last_day,
            (last_day - first_day)::float8 / nullif(n - 1, 0), prior_mean_gap, mean_gap, shape,
            last_day + round(mean_gap)::int, share, ${asOf}
          from cycles_estimates`.execute(tx),
      );
      memberProducts = Number(products.numAffectedRows ?? 0);

      const categories = await replaceRows(tx, 'member_category_cycles', () =>
        sql`
          insert into member_category_cycles (member_id, category_id, purchase_days,
            first_purchase_date, last_purchase_date, observed_mean_gap_days, prior_mean_gap_days,
            mean_gap_days, gap_shape, next_expected_date, basket_share, as_of)
          select c.member_id, c.category_id, c.n, c.first_day, c.last_day,
            (c.last_day - c.first_day)::float8 / nullif(c.n - 1, 0),
            pr.mean_gap_days, e.mean_gap, pr.gap_shape,
            c.last_day + round(e.mean_gap)::int,
            least(1, c.weight / m.weight), ${asOf}
          from cycles_category_pairs c
          join cycles_category_priors pr on pr.category_id = c.category_id
          join cycles_members m on m.member_id = c.member_id
          cross join lateral (select (${k0}::float8 * pr.mean_gap_days + (c.last_day - c.first_day))
            / (${k0}::float8 + c.n - 1) as mean_gap) e`.execute(tx),
      );
      memberCategories = Number(categories.numAffectedRows ?? 0);
    }

    let backtestPairs = 0;
    if (backtestDays > 0) {
      const backtest = await replaceRows(tx, 'member_product_backtest', () =>
        sql`
          insert into member_product_backtest (member_id, gtin, purchase_days, elapsed_days,
            mean_gap_days, gap_shape, basket_share, raw_prob, bought, cutoff_date, window_days,
            as_of)
          select member_id, gtin, bt_n, bt_elapsed, bt_mean_gap, bt_shape, bt_share,
            cadence_window_prob(bt_elapsed, 0, ${backtestDays}, bt_mean_gap, bt_shape),
            bt_bought, ${cutoff}, ${backtestDays}, ${asOf}
          from cycles_estimates
          where bt_n > 0`.execute(tx),
      );
      backtestPairs = Number(backtest.numAffectedRows ?? 0);
    }

    const { rows } = await sql<{ d: string }>`select ${today}::text as d`.execute(tx);
    await dropTemps(tx);
    return { asOfDate: rows[0]!.d, memberProducts, memberCategories, backtestPairs };
  });
}

type Prefix = '' | 'bt_';

/** Pooled statistics of a group of pairs, as of today ('') or as of the back-test cutoff ('bt_'). */
function pooledStats(p: Prefix) {
  const n = sql.ref(`${p}n`);
  const mean = sql.ref(`${p}mean_gap`);
  const sq = sql.ref(`${p}sum_sq_gap`);
  return sql`
    count(*) filter (where ${n} >= 3)::int as ${sql.ref(`${p}pairs`)},
    exp(avg(ln(${mean})) filter (where ${n} >= 3)) as ${sql.ref(`${p}geo_mean`)},
    count(*) filter (where ${n} >= 4)::int as ${sql.ref(`${p}shape_pairs`)},
    sum((${sq} - (${n} - 1) * ${mean} * ${mean}) / (${mean} * ${mean})) filter (where ${n} >= 4)
      / nullif(sum(${n} - 2) filter (where ${n} >= 4), 0) as ${sql.ref(`${p}cv2`)}`;
}

/** μ₀ of a scope; null (fall back to global) when it has too few pairs. */
function priorMean(p: Prefix) {
  const { minPriorPairs, fallbackMeanGapDays } = CYCLE_DEFAULTS;
  const pairs = sql.ref(`${p}pairs`);
  const geo = sql.ref(`${p}geo_mean`);
  return sql`case when ${pairs} >= ${minPriorPairs} then ${geo}
    when scope = 'global' then coalesce(${geo}, ${fallbackMeanGapDays}::float8) end`;
}

/** k of a scope, 1 / CV² clamped; null (fall back to global) when it has too few pairs. */
function priorShape(p: Prefix) {
  const { minPriorPairs, minShape, maxShape, fallbackShape } = CYCLE_DEFAULTS;
  const pairs = sql.ref(`${p}shape_pairs`);
  const cv2 = sql.ref(`${p}cv2`);
  return sql`case when ${pairs} >= ${minPriorPairs} and ${cv2} > 0
      then least(${maxShape}::float8, greatest(${minShape}::float8, 1 / ${cv2}))
    when scope = 'global' then ${fallbackShape}::float8 end`;
}

/**
 * Temp tables for member_category_cycles, from the purchase days already in cycles_days: a category
 * purchase day is a day with a purchase of any of its products. The same model, with μ₀ pooled
 * over the category's members; the shape is the one estimated from its products' gaps (a window
 * function over category days would cost a second sort of the whole pass for a second-order
 * parameter).
 */
async function computeCategoryCycles(
  tx: Db,
  p: { today: RawBuilder<unknown>; decay: RawBuilder<unknown> },
): Promise<void> {
  const { minPriorPairs, fallbackMeanGapDays } = CYCLE_DEFAULTS;
  // No window function here (gaps are not needed one by one). The category's days are made
  // distinct by one sort, from which both groupings stream; count(distinct) and sum(distinct)
  // sorted every group apart again. The weights still add up in day order, the order sum(distinct)
  // added them in (a day's weight grows with the day), so the sums are the same to the bit.
  await sql`set local enable_hashagg = off`.execute(tx);
  await sql`
    create temp table cycles_category_pairs on commit drop as
    select member_id, category_id,
      count(*)::int as n, min(day) as first_day, max(day) as last_day,
      sum(exp((day - ${p.today})::float8 * ${p.decay})) as weight
    from (
      select member_id, category_id, day
      from cycles_days
      where category_id is not null
      group by member_id, category_id, day
    ) d
    group by member_id, category_id`.execute(tx);
  await sql`set local enable_hashagg to default`.execute(tx);

  // μ₀ per category pooled over its members as above; the shape is its products' (cycles_priors).
  await sql`
    create temp table cycles_category_priors on commit drop as
    with pooled as (
      select category_id,
        count(*) filter (where n >= 3)::int as pairs,
        exp(avg(ln((last_day - first_day)::float8 / (n - 1))) filter (where n >= 3)) as geo_mean
      from cycles_category_pairs group by grouping sets ((category_id), ())
    ),
    g as (select * from pooled where category_id is null)
    select c.category_id,
      case when c.pairs >= ${minPriorPairs} then c.geo_mean
           else coalesce(g.geo_mean, ${fallbackMeanGapDays}::float8) end as mean_gap_days,
      coalesce(pr.gap_shape, gp.gap_shape) as gap_shape,
      c.pairs
    from pooled c cross join g
    left join cycles_priors pr on pr.scope = 'category' and pr.key = c.category_id::text
    cross join (select gap_shape from cycles_priors where scope = 'global') gp
    where c.category_id is not null`.execute(tx);
  // Sizes for the insert's plan, as for cycles_estimates: the small sides are hashed.
  await sql`analyze cycles_category_priors`.execute(tx);
}

/**
 * Settings for this transaction's analytics: sorts and hashes of a whole chain's purchase days
 * (the default 4 MB of work_mem spills them to disk), and no JIT, which spends more compiling the
 * inlined probability expressions (half a second at a million lines) than it saves.
 */
export async function tuneSession(tx: Db): Promise<void> {
  await sql`set local work_mem = '256MB'`.execute(tx);
  await sql`set local jit = off`.execute(tx);
}

const TEMPS = [
  'cycles_category_priors',
  'cycles_category_pairs',
  'cycles_estimates',
  'cycles_priors',
  'cycles_members',
  'cycles_pairs',
  'cycles_days',
];

/** Temp tables live until commit; dropped early so a caller's longer transaction can run us again. */
async function dropTemps(tx: Db): Promise<void> {
  await sql.raw(`drop table if exists ${TEMPS.join(', ')}`).execute(tx);
}
