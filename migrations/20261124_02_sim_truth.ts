import { sql, type Kysely } from 'kysely';

/**
 * Ground truth of simulated chains (src/sim), kept beside the data so tests and benchmarks can
 * compare predictions with what really drove behaviour. Empty for a real chain.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('sim_runs')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity())
    .addColumn('seed', 'integer', (c) => c.notNull())
    .addColumn('members', 'integer', (c) => c.notNull())
    .addColumn('stores', 'integer', (c) => c.notNull())
    .addColumn('weeks', 'integer', (c) => c.notNull())
    .addColumn('end_date', 'date', (c) => c.notNull())
    .addColumn('time_zone', 'text', (c) => c.notNull())
    .addColumn('basket_lines', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('sim_member_truth')
    .addColumn('member_id', 'bigint', (c) => c.primaryKey().references('members.id'))
    .addColumn('household_size', 'smallint', (c) => c.notNull())
    .addColumn('has_dog', 'boolean', (c) => c.notNull())
    .addColumn('has_cat', 'boolean', (c) => c.notNull())
    .addColumn('has_baby', 'boolean', (c) => c.notNull())
    .addColumn('vegetable_lover', 'boolean', (c) => c.notNull())
    .addColumn('weekly_spend_cents', 'integer', (c) => c.notNull())
    .addColumn('share_of_wallet', 'real', (c) => c.notNull())
    .addColumn('visit_mean_days', 'real', (c) => c.notNull())
    .addColumn('churn_onset_date', 'date')
    .execute();

  await db.schema
    .createTable('sim_member_category_truth')
    .addColumn('member_id', 'bigint', (c) => c.notNull().references('members.id'))
    .addColumn('category_id', 'text', (c) => c.notNull().references('categories.id'))
    .addColumn('brand_pref', 'text', (c) => c.notNull())
    .addColumn('volume_level', 'text', (c) => c.notNull())
    .addColumn('regular', 'boolean', (c) => c.notNull())
    .addPrimaryKeyConstraint('sim_member_category_truth_pk', ['member_id', 'category_id'])
    .execute();

  await db.schema
    .createTable('sim_member_product_truth')
    .addColumn('member_id', 'bigint', (c) => c.notNull().references('members.id'))
    .addColumn('gtin', 'char(14)', (c) => c.notNull().references('products.gtin'))
    .addColumn('mean_gap_days', 'real', (c) => c.notNull())
    .addColumn('gap_shape', 'real', (c) => c.notNull())
    .addColumn('abandoned_on', 'date')
    .addPrimaryKeyConstraint('sim_member_product_truth_pk', ['member_id', 'gtin'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['sim_member_product_truth', 'sim_member_category_truth', 'sim_member_truth', 'sim_runs']) {
    await db.schema.dropTable(table).execute();
  }
}
