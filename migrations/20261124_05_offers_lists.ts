import { sql, type Kysely } from 'kysely';

/**
 * Offers and shopping lists (issue 7): list periods, the frozen terms of each campaign as issued,
 * lists and offers.
 *
 * Offers and lists are member-scoped (member_id leads their primary keys: the distribution column
 * on Citus). Their ids are chain-wide unique serials from sequences: the offer id goes into the GS1
 * coupon barcode, the list id into the list's Code 128 barcode.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create sequence list_serial_seq as bigint start with 100000001`.execute(db);
  await sql`create sequence offer_serial_seq as bigint start with 100000001`.execute(db);

  // One row per list period run: what was used and whether it finished.
  await db.schema
    .createTable('list_periods')
    .addColumn('period_start', 'date', (c) => c.primaryKey())
    .addColumn('period_end', 'date', (c) => c.notNull())
    // predictions used: the analytics as of this instant
    .addColumn('analytics_as_of', 'timestamptz')
    // hash of the campaign rule set used
    .addColumn('rules_hash', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('running', 'done')`))
    .addColumn('lists', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('offers', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('controls', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('started_at', 'timestamptz', (c) => c.notNull())
    .addColumn('finished_at', 'timestamptz')
    .execute();

  // A campaign's terms exactly as offers were issued under them (rules change; offers keep theirs).
  await db.schema
    .createTable('campaign_terms')
    .addColumn('campaign_id', 'text', (c) => c.notNull())
    .addColumn('rule_hash', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('spec', 'jsonb', (c) => c.notNull())
    // the products the offer applies to, resolved when issued
    .addColumn('gtins', sql`text[]`, (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('campaign_terms_pk', ['campaign_id', 'rule_hash'])
    .execute();

  await db.schema
    .createTable('lists')
    .addColumn('member_id', 'bigint', (c) => c.notNull())
    // the list serial (Code 128 list barcode): chain-wide unique
    .addColumn('id', 'bigint', (c) => c.notNull().defaultTo(sql`nextval('list_serial_seq')`))
    .addColumn('period_start', 'date', (c) => c.notNull())
    .addColumn('period_end', 'date', (c) => c.notNull())
    .addColumn('store_id', 'integer')
    // the predicted products ("due soon") and other content, as composed
    .addColumn('content', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('voided_at', 'timestamptz')
    .addPrimaryKeyConstraint('lists_pk', ['member_id', 'id'])
    .execute();
  await sql`create unique index lists_id_idx on lists (id)`.execute(db);
  // one live list per member and period; --regenerate voids the old one first
  await sql`create unique index lists_member_period_idx on lists (member_id, period_start)
    where voided_at is null`.execute(db);
  await sql`create index lists_period_store_idx on lists (period_start, store_id)`.execute(db);

  await db.schema
    .createTable('offers')
    .addColumn('member_id', 'bigint', (c) => c.notNull())
    // the offer serial (GS1 coupon barcode): chain-wide unique
    .addColumn('id', 'bigint', (c) => c.notNull().defaultTo(sql`nextval('offer_serial_seq')`))
    .addColumn('list_id', 'bigint')
    .addColumn('campaign_id', 'text', (c) => c.notNull())
    .addColumn('rule_hash', 'text', (c) => c.notNull())
    .addColumn('period_start', 'date', (c) => c.notNull())
    // holdout: recorded so lift can be measured, never printed nor redeemable
    .addColumn('control', 'boolean', (c) => c.notNull())
    .addColumn('kind', 'text', (c) =>
      c.notNull().check(sql`kind in ('percent_off', 'amount_off', 'price_point', 'buy_x_get_y', 'reward')`),
    )
    // percent for percent_off, cents for amount_off / price_point / reward, free units for buy_x_get_y
    .addColumn('value', 'numeric(12, 2)', (c) => c.notNull())
    .addColumn('min_qty', 'integer', (c) => c.notNull())
    .addColumn('max_units', 'integer')
    // rewards: the basket must reach this
    .addColumn('min_spend_cents', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('category_id', 'text')
    .addColumn('volume', 'text')
    .addColumn('valid_from', 'date', (c) => c.notNull())
    .addColumn('valid_to', 'date', (c) => c.notNull())
    .addColumn('predicted_date', 'date')
    .addColumn('probability', 'double precision', (c) => c.notNull())
    .addColumn('expected_cost_cents', 'integer', (c) => c.notNull())
    .addColumn('expected_value_cents', 'integer', (c) => c.notNull())
    .addColumn('funded_by', 'text')
    .addColumn('funded_share', 'double precision', (c) => c.notNull())
    .addColumn('uses_allowed', 'integer', (c) => c.notNull())
    .addColumn('uses', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('live', 'voided')`),
    )
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    // any change (issued, redeemed, voided, restored): the offer file's `since`
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('offers_pk', ['member_id', 'id'])
    .addCheckConstraint('offers_uses_check', sql`uses >= 0 and uses <= uses_allowed`)
    .execute();
  await sql`create unique index offers_id_idx on offers (id)`.execute(db);
  // one live offer per member, campaign and period
  await sql`create unique index offers_member_campaign_period_idx
    on offers (member_id, campaign_id, period_start) where status = 'live'`.execute(db);
  await sql`create index offers_period_idx on offers (period_start, campaign_id)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['offers', 'lists', 'campaign_terms', 'list_periods']) {
    await db.schema.dropTable(table).execute();
  }
  await sql`drop sequence offer_serial_seq`.execute(db);
  await sql`drop sequence list_serial_seq`.execute(db);
}
