import { sql, type Kysely } from 'kysely';

/**
 * Checkout (issue 8): commits (the idempotency record of each POS transaction), redemptions,
 * reservations made by quotes, and the reconciliation list of offline conflicts.
 *
 * Exactly-once redemption rests on the database: a redemption increments offers.uses with a guarded
 * UPDATE (uses < uses_allowed, checked again by the offers_uses_check constraint) under the offer's
 * row lock, and checkout_commits' primary key makes a retried transaction a replay.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('checkout_commits')
    // 0 for anonymous sales, as in baskets
    .addColumn('member_id', 'bigint', (c) => c.notNull())
    .addColumn('store_id', 'integer', (c) => c.notNull())
    .addColumn('terminal_id', 'text', (c) => c.notNull())
    .addColumn('txn_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('sale', 'void', 'return')`))
    .addColumn('basket_id', 'bigint')
    // hash of the request: the same key with another request is a conflict
    .addColumn('request_hash', 'text', (c) => c.notNull())
    .addColumn('response', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('checkout_commits_pk', ['member_id', 'store_id', 'terminal_id', 'txn_id'])
    .execute();
  // The POS key, as for baskets (on Citus this one needs the store-keyed lookup table baskets need).
  await sql`create unique index checkout_commits_txn_idx on checkout_commits (store_id, terminal_id, txn_id)`.execute(db);

  await db.schema
    .createTable('offer_redemptions')
    .addColumn('member_id', 'bigint', (c) => c.notNull())
    .addColumn('offer_id', 'bigint', (c) => c.notNull())
    .addColumn('store_id', 'integer', (c) => c.notNull())
    .addColumn('terminal_id', 'text', (c) => c.notNull())
    .addColumn('txn_id', 'text', (c) => c.notNull())
    .addColumn('basket_id', 'bigint', (c) => c.notNull())
    .addColumn('discount_cents', 'integer', (c) => c.notNull())
    // [{ lineNo, gtin, qty, cents }]: the discount per basket line, for returns
    .addColumn('allocations', 'jsonb', (c) => c.notNull())
    // when the sale happened (offline redemptions arrive later and keep it)
    .addColumn('ts', 'timestamptz', (c) => c.notNull())
    .addColumn('offline', 'boolean', (c) => c.notNull())
    .addColumn('reversed_cents', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('use_restored', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('offer_redemptions_pk', ['member_id', 'offer_id', 'store_id', 'terminal_id', 'txn_id'])
    .addCheckConstraint('offer_redemptions_reversal_check', sql`reversed_cents between 0 and discount_cents`)
    .execute();
  await sql`create index offer_redemptions_txn_idx on offer_redemptions (store_id, terminal_id, txn_id)`.execute(db);

  // Units returned per original line, so later returns know what is left and discounts reverse
  // pro rata without drift.
  await db.schema
    .createTable('returned_units')
    .addColumn('store_id', 'integer', (c) => c.notNull())
    .addColumn('terminal_id', 'text', (c) => c.notNull())
    .addColumn('txn_id', 'text', (c) => c.notNull())
    .addColumn('line_no', 'integer', (c) => c.notNull())
    .addColumn('return_txn_id', 'text', (c) => c.notNull())
    .addColumn('qty', 'numeric(12, 3)', (c) => c.notNull())
    .addColumn('discount_cents', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('returned_units_pk', ['store_id', 'terminal_id', 'txn_id', 'line_no', 'return_txn_id'])
    .execute();

  // A quote holds single-use offers for its lane a short while.
  await db.schema
    .createTable('offer_reservations')
    .addColumn('member_id', 'bigint', (c) => c.notNull())
    .addColumn('offer_id', 'bigint', (c) => c.notNull())
    .addColumn('store_id', 'integer', (c) => c.notNull())
    .addColumn('terminal_id', 'text', (c) => c.notNull())
    .addColumn('txn_id', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('offer_reservations_pk', ['member_id', 'offer_id'])
    .execute();

  // Offline redemptions that could not count: the reconciliation list.
  await db.schema
    .createTable('redemption_conflicts')
    .addColumn('member_id', 'bigint', (c) => c.notNull())
    .addColumn('store_id', 'integer', (c) => c.notNull())
    .addColumn('terminal_id', 'text', (c) => c.notNull())
    .addColumn('txn_id', 'text', (c) => c.notNull())
    .addColumn('offer_id', 'bigint', (c) => c.notNull())
    .addColumn('reason', 'text', (c) =>
      c.notNull().check(sql`reason in ('already_used', 'expired', 'not_yet_valid', 'voided', 'unknown_offer', 'other_member')`),
    )
    .addColumn('discount_cents', 'integer', (c) => c.notNull())
    .addColumn('ts', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('redemption_conflicts_pk', ['member_id', 'store_id', 'terminal_id', 'txn_id', 'offer_id'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['redemption_conflicts', 'offer_reservations', 'returned_units', 'offer_redemptions', 'checkout_commits']) {
    await db.schema.dropTable(table).execute();
  }
}
