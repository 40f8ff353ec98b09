import { sql, type Kysely } from 'kysely';

/**
 * Repurchase cycles and next-basket predictions (issue 5, part A): src/analytics/cycles.ts,
 * calibrate.ts, rank.ts.
 *
 * Derived data, replaced whole by each run, so no foreign keys. Member-scoped tables lead their
 * primary key with member_id (the distribution column on Citus).
 *
 * Three SQL functions give the gamma renewal model's probabilities to set-based queries (PostgreSQL
 * has no incomplete gamma function). They are `language sql` single expressions, so the planner
 * inlines them into the calling query: no per-row function call.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // GTINs and category ids in these tables compare bytewise (collate "C"): the same order for digits
  // and ids, and a primary-key index that costs memcmp instead of the locale's strcoll per
  // comparison (a third of the time of rewriting a chain's rows on a C.UTF-8 server).

  // Survival function S(x) = Q(shape, x) of a gamma with unit scale, by the Wilson–Hilferty cube-root
  // normal approximation (Johnson, Kotz & Balakrishnan, Continuous Univariate Distributions 1,
  // §17.5) and a logistic approximation of the normal tail (Bowling et al., J. Industrial Eng. &
  // Management 2009, |error| < 1.4e-4). Absolute error of S below 0.011 for shapes 0.8–6 (0.006 from
  // shape 1.5 up), of window probabilities below 0.02; the calibration absorbs it anyway.
  // test/analytics/predict.test.ts checks both against the exact series in src/analytics/predict.ts.
  await sql`
    create function cadence_gamma_sf(x double precision, shape double precision)
    returns double precision language sql immutable parallel safe as $$
      select 1 / (1 + exp(
        (3 * sqrt(shape) * (cbrt(greatest(x, 0) / shape) - 1 + 1 / (9 * shape)))
        * (1.5976 + 0.07056 * (3 * sqrt(shape) * (cbrt(greatest(x, 0) / shape) - 1 + 1 / (9 * shape)))
                            * (3 * sqrt(shape) * (cbrt(greatest(x, 0) / shape) - 1 + 1 / (9 * shape))))))
    $$`.execute(db);

  // P(next purchase falls on one of the days elapsed + from … elapsed + to − 1 after the last one |
  // none on days 1 … elapsed − 1), gaps ~ gamma(shape, mean / shape); ± 0.5 day for whole days.
  await sql`
    create function cadence_window_prob(elapsed_days double precision, from_days double precision,
      to_days double precision, mean_gap_days double precision, shape double precision)
    returns double precision language sql immutable parallel safe as $$
      select greatest(0,
          cadence_gamma_sf((elapsed_days + from_days - 0.5) * shape / mean_gap_days, shape)
          - cadence_gamma_sf((elapsed_days + to_days - 0.5) * shape / mean_gap_days, shape))
        / greatest(cadence_gamma_sf((elapsed_days - 0.5) * shape / mean_gap_days, shape), 1e-12)
    $$`.execute(db);

  // E[gap | gap > elapsed − 0.5] = mean · Q(shape + 1, x) / Q(shape, x): the expected day of the next
  // purchase, counted from the last, given that it has not happened yet.
  await sql`
    create function cadence_expected_gap(elapsed_days double precision, mean_gap_days double precision,
      shape double precision)
    returns double precision language sql immutable parallel safe as $$
      select greatest(elapsed_days, mean_gap_days
        * cadence_gamma_sf((elapsed_days - 0.5) * shape / mean_gap_days, shape + 1)
        / greatest(cadence_gamma_sf((elapsed_days - 0.5) * shape / mean_gap_days, shape), 1e-12))
    $$`.execute(db);

  // Pooled priors of the cycle model: per category, per product without a category, and global ('').
  await db.schema
    .createTable('cycle_priors')
    .addColumn('scope', 'text', (c) =>
      c.notNull().check(sql`scope in ('category', 'product', 'global')`),
    )
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('mean_gap_days', 'double precision', (c) => c.notNull())
    .addColumn('gap_shape', 'double precision', (c) => c.notNull())
    // member × item pairs that informed the mean (those with ≥ 3 purchase days)
    .addColumn('pairs', 'integer', (c) => c.notNull())
    .addColumn('as_of', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('cycle_priors_pk', ['scope', 'key'])
    .execute();

  for (const [table, item, itemType] of [
    ['member_product_cycles', 'gtin', 'char(14) collate "C"'],
    ['member_category_cycles', 'category_id', 'text collate "C"'],
  ] as const) {
    let t = db.schema
      .createTable(table)
      .addColumn('member_id', 'bigint', (c) => c.notNull())
      .addColumn(item, sql.raw(itemType), (c) => c.notNull());
    if (item === 'gtin') t = t.addColumn('category_id', 'text');
    await t
      // store-local days with a net positive quantity
      .addColumn('purchase_days', 'integer', (c) => c.notNull())
      .addColumn('first_purchase_date', 'date', (c) => c.notNull())
      .addColumn('last_purchase_date', 'date', (c) => c.notNull())
      // (last − first) / (purchase_days − 1); null with one purchase day
      .addColumn('observed_mean_gap_days', 'double precision')
      .addColumn('prior_mean_gap_days', 'double precision', (c) => c.notNull())
      // posterior mean gap, shrunk toward the prior
      .addColumn('mean_gap_days', 'double precision', (c) => c.notNull())
      .addColumn('gap_shape', 'double precision', (c) => c.notNull())
      .addColumn('next_expected_date', 'date', (c) => c.notNull())
      // recency-weighted share of the member's visit days that include the item
      .addColumn('basket_share', 'double precision', (c) => c.notNull())
      .addColumn('as_of', 'timestamptz', (c) => c.notNull())
      .addPrimaryKeyConstraint(`${table}_pk`, ['member_id', item])
      .execute();
  }

  // The back-test that calibration learns from: each member × product as of `cutoff_date` (history
  // before it only) and whether it was bought in the `window_days` from the cutoff.
  await db.schema
    .createTable('member_product_backtest')
    .addColumn('member_id', 'bigint', (c) => c.notNull())
    .addColumn('gtin', sql`char(14) collate "C"`, (c) => c.notNull())
    .addColumn('purchase_days', 'integer', (c) => c.notNull())
    .addColumn('elapsed_days', 'integer', (c) => c.notNull())
    .addColumn('mean_gap_days', 'double precision', (c) => c.notNull())
    .addColumn('gap_shape', 'double precision', (c) => c.notNull())
    .addColumn('basket_share', 'double precision', (c) => c.notNull())
    .addColumn('raw_prob', 'double precision', (c) => c.notNull())
    .addColumn('bought', 'boolean', (c) => c.notNull())
    .addColumn('cutoff_date', 'date', (c) => c.notNull())
    .addColumn('window_days', 'integer', (c) => c.notNull())
    .addColumn('as_of', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('member_product_backtest_pk', ['member_id', 'gtin'])
    .execute();

  // Monotone map raw window probability → observed frequency, per stratum of purchase count and
  // elapsed / mean gap. Bins cover [raw_from, raw_to) without gaps, from 0 to above 1.
  await db.schema
    .createTable('prediction_calibration')
    .addColumn('count_bucket', 'smallint', (c) => c.notNull())
    .addColumn('ratio_bucket', 'smallint', (c) => c.notNull())
    .addColumn('bin', 'smallint', (c) => c.notNull())
    .addColumn('raw_from', 'double precision', (c) => c.notNull())
    .addColumn('raw_to', 'double precision', (c) => c.notNull())
    .addColumn('mean_raw', 'double precision', (c) => c.notNull())
    .addColumn('pairs', 'integer', (c) => c.notNull())
    .addColumn('bought', 'integer', (c) => c.notNull())
    .addColumn('calibrated_prob', 'double precision', (c) => c.notNull())
    .addColumn('window_days', 'integer', (c) => c.notNull())
    .addColumn('cutoff_date', 'date', (c) => c.notNull())
    .addColumn('as_of', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('prediction_calibration_pk', ['count_bucket', 'ratio_bucket', 'bin'])
    .execute();

  // The member's top products for the next list period.
  await db.schema
    .createTable('member_product_scores')
    .addColumn('member_id', 'bigint', (c) => c.notNull())
    .addColumn('gtin', sql`char(14) collate "C"`, (c) => c.notNull())
    .addColumn('rank', 'integer', (c) => c.notNull())
    .addColumn('score', 'double precision', (c) => c.notNull())
    .addColumn('predicted_date', 'date', (c) => c.notNull())
    // calibrated probability of a purchase in the calibration window (14 days by default)
    .addColumn('prob', 'double precision', (c) => c.notNull())
    .addColumn('window_days', 'integer', (c) => c.notNull())
    .addColumn('as_of', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('member_product_scores_pk', ['member_id', 'gtin'])
    .execute();
  await db.schema
    .createIndex('member_product_scores_rank_idx')
    .on('member_product_scores')
    .columns(['member_id', 'rank'])
    .unique()
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'member_product_scores',
    'prediction_calibration',
    'member_product_backtest',
    'member_category_cycles',
    'member_product_cycles',
    'cycle_priors',
  ]) {
    await db.schema.dropTable(table).execute();
  }
  // Each name has one signature, so no argument list is needed.
  for (const fn of ['cadence_expected_gap', 'cadence_window_prob', 'cadence_gamma_sf']) {
    await sql`drop function ${sql.raw(fn)}`.execute(db);
  }
}
