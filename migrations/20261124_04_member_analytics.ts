import { sql, type Kysely } from 'kysely';

/**
 * Member analytics (issue 5, part B): the 9-cell per member × category, member scores
 * (qualification, tier, share of wallet, stage, churn), household traits, category associations.
 *
 * Derived data, replaced whole by each nightly run, so no foreign keys (they would only slow the
 * bulk rewrite). Member-scoped tables lead their primary key with member_id (the distribution
 * column on Citus).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('member_category_cells')
    .addColumn('member_id', 'bigint', (c) => c.notNull())
    .addColumn('category_id', 'text', (c) => c.notNull())
    .addColumn('purchase_days', 'integer', (c) => c.notNull())
    // net of returns
    .addColumn('units', 'numeric(14, 3)', (c) => c.notNull())
    // units per week the member was observed in the look-back: what the volume tertiles rank
    .addColumn('units_per_week', 'double precision', (c) => c.notNull())
    .addColumn('spend_cents', 'bigint', (c) => c.notNull())
    // null when no unit had a known brand type
    .addColumn('store_share', 'double precision')
    .addColumn('loyalty', 'text', (c) =>
      c.notNull().check(sql`loyalty in ('national', 'store', 'switcher', 'unclassified')`),
    )
    .addColumn('volume', 'text', (c) =>
      c.notNull().check(sql`volume in ('low', 'medium', 'high', 'unclassified')`),
    )
    .addPrimaryKeyConstraint('member_category_cells_pk', ['member_id', 'category_id'])
    .execute();
  // The category matrix and cell targeting read by category.
  await db.schema
    .createIndex('member_category_cells_category_idx')
    .on('member_category_cells')
    .columns(['category_id', 'loyalty', 'volume'])
    .execute();

  await db.schema
    .createTable('member_scores')
    .addColumn('member_id', 'bigint', (c) => c.primaryKey())
    // look-back period (settings cells.lookback_weeks)
    .addColumn('visit_days', 'integer', (c) => c.notNull())
    .addColumn('spend_cents', 'bigint', (c) => c.notNull())
    // qualification period (settings qualification.weeks)
    .addColumn('weekly_spend_cents', 'integer', (c) => c.notNull())
    .addColumn('qualified', 'boolean', (c) => c.notNull())
    .addColumn('tier', 'text', (c) =>
      c.notNull().check(sql`tier in ('key', 'regular', 'inactive')`),
    )
    .addColumn('share_of_wallet', 'double precision', (c) => c.notNull())
    .addColumn('stage', 'text', (c) =>
      c.notNull().check(sql`stage in ('development', 'initial', 'stable', 'strategic')`),
    )
    // churn early warning
    .addColumn('last_visit_date', 'date')
    .addColumn('days_since_last_visit', 'integer')
    .addColumn('mean_visit_gap_days', 'double precision')
    .addColumn('visit_gap_probability', 'double precision')
    .addColumn('recent_spend_cents', 'bigint', (c) => c.notNull())
    .addColumn('prior_spend_cents', 'bigint', (c) => c.notNull())
    .addColumn('churn_risk', 'boolean', (c) => c.notNull())
    .addColumn('churn_reason', 'text', (c) =>
      c.check(sql`churn_reason in ('visit_gap', 'spend_drop')`),
    )
    .addCheckConstraint('member_scores_churn_reason', sql`churn_risk = (churn_reason is not null)`)
    .execute();

  await db.schema
    .createTable('member_traits')
    .addColumn('member_id', 'bigint', (c) => c.notNull())
    .addColumn('trait', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('member_traits_pk', ['member_id', 'trait'])
    .execute();
  // Campaign targeting asks "every member with trait X".
  await db.schema
    .createIndex('member_traits_trait_idx')
    .on('member_traits')
    .columns(['trait', 'member_id'])
    .execute();

  await db.schema
    .createTable('category_associations')
    .addColumn('antecedent_id', 'text', (c) => c.notNull())
    .addColumn('consequent_id', 'text', (c) => c.notNull())
    .addColumn('baskets', 'integer', (c) => c.notNull())
    .addColumn('support', 'double precision', (c) => c.notNull())
    .addColumn('confidence', 'double precision', (c) => c.notNull())
    .addColumn('lift', 'double precision', (c) => c.notNull())
    .addPrimaryKeyConstraint('category_associations_pk', ['antecedent_id', 'consequent_id'])
    .execute();

  // When each derived table was last computed, and as of which instant (history before it only).
  await db.schema
    .createTable('analytics_snapshots')
    .addColumn('component', 'text', (c) => c.primaryKey())
    .addColumn('as_of', 'timestamptz', (c) => c.notNull())
    .addColumn('time_zone', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'analytics_snapshots',
    'category_associations',
    'member_traits',
    'member_scores',
    'member_category_cells',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
