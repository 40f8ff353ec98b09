import { sql, type Kysely } from 'kysely';

/**
 * The foundation: catalogue, members, baskets, API keys, import staging.
 * Money in integer cents, instants as timestamptz. Member-scoped tables lead their primary key with
 * member_id (the distribution column for a later move to Citus). Baskets without a card belong to
 * the sentinel member 0 ("anonymous"), so member_id is never null.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('stores')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('time_zone', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('terminals')
    .addColumn('store_id', 'integer', (c) => c.notNull().references('stores.id'))
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('terminals_pk', ['store_id', 'id'])
    .execute();

  await db.schema
    .createTable('categories')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('parent_id', 'text', (c) => c.references('categories.id'))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('manufacturers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('products')
    .addColumn('gtin', 'char(14)', (c) => c.primaryKey())
    .addColumn('name', 'text')
    .addColumn('category_id', 'text', (c) => c.references('categories.id'))
    .addColumn('brand', 'text')
    .addColumn('brand_type', 'text', (c) => c.check(sql`brand_type in ('national', 'store')`))
    .addColumn('manufacturer_id', 'text', (c) => c.references('manufacturers.id'))
    .addColumn('size', 'text')
    .addColumn('price_cents', 'integer', (c) => c.check(sql`price_cents >= 0`))
    // false for a GTIN first seen in a basket, before the catalogue described it
    .addColumn('known', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('products_category_idx').on('products').column('category_id').execute();

  await db.schema
    .createTable('members')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity())
    .addColumn('member_number', 'text', (c) => c.unique())
    .addColumn('card_number', 'text', (c) => c.unique())
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('registered', 'unregistered', 'anonymous')`),
    )
    .addColumn('home_store_id', 'integer', (c) => c.references('stores.id'))
    .addColumn('household_size', 'smallint', (c) => c.check(sql`household_size between 1 and 20`))
    .addColumn('has_dog', 'boolean')
    .addColumn('has_cat', 'boolean')
    .addColumn('has_baby', 'boolean')
    .addColumn('enrolled_on', 'date')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint(
      'members_identified',
      sql`status = 'anonymous' or member_number is not null or card_number is not null`,
    )
    .execute();
  // The sentinel that anonymous baskets belong to; identities start at 1.
  await sql`insert into members (id, status) values (0, 'anonymous')`.execute(db);

  // Personal contact data lives apart, so exports and analytics never need to touch it.
  await db.schema
    .createTable('member_contacts')
    .addColumn('member_id', 'bigint', (c) => c.primaryKey().references('members.id'))
    .addColumn('first_name', 'text')
    .addColumn('last_name', 'text')
    .addColumn('email', 'text')
    .addColumn('phone', 'text')
    .addColumn('postal_code', 'text')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('baskets')
    .addColumn('member_id', 'bigint', (c) => c.notNull().references('members.id'))
    .addColumn('id', 'bigint', (c) => c.notNull().generatedByDefaultAsIdentity())
    .addColumn('store_id', 'integer', (c) => c.references('stores.id'))
    .addColumn('terminal_id', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('txn_id', 'text', (c) => c.notNull())
    .addColumn('ts', 'timestamptz', (c) => c.notNull())
    .addColumn('total_cents', 'bigint', (c) => c.notNull())
    .addColumn('line_count', 'integer', (c) => c.notNull())
    // md5 of the canonical content; a retry must match it to count as the same basket
    .addColumn('content_hash', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull().check(sql`source in ('pos', 'import', 'checkout')`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('baskets_pk', ['member_id', 'id'])
    .execute();
  // Idempotency key of POS and imports. Imports without a store use store_id null.
  await sql`alter table baskets add constraint baskets_txn_key
    unique nulls not distinct (store_id, terminal_id, txn_id)`.execute(db);
  await db.schema.createIndex('baskets_ts_idx').on('baskets').column('ts').execute();

  // No foreign keys here, on purpose: lines are written only by the statement that writes their
  // basket (and the placeholder products they name), and the per-row FK triggers cost about 30%
  // of bulk ingest time (measured on PGlite loading the demo chain).
  await db.schema
    .createTable('basket_lines')
    .addColumn('member_id', 'bigint', (c) => c.notNull())
    .addColumn('basket_id', 'bigint', (c) => c.notNull())
    .addColumn('line_no', 'integer', (c) => c.notNull())
    .addColumn('gtin', 'char(14)', (c) => c.notNull())
    .addColumn('qty', 'numeric(12, 3)', (c) => c.notNull())
    // null when the source did not say (plain history exports)
    .addColumn('unit_price_cents', 'integer')
    .addColumn('line_discount_cents', 'integer', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('basket_lines_pk', ['member_id', 'basket_id', 'line_no'])
    .execute();

  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('prefix', 'text', (c) => c.notNull())
    .addColumn('key_hash', 'text', (c) => c.notNull().unique())
    .addColumn('role', 'text', (c) =>
      c.notNull().check(sql`role in ('admin', 'marketer', 'vendor', 'pos')`),
    )
    .addColumn('store_id', 'integer', (c) => c.references('stores.id'))
    .addColumn('manufacturer_id', 'text', (c) => c.references('manufacturers.id'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('revoked_at', 'timestamptz')
    .addCheckConstraint('api_keys_pos_store', sql`(role = 'pos') = (store_id is not null)`)
    .addCheckConstraint(
      'api_keys_vendor_manufacturer',
      sql`(role = 'vendor') = (manufacturer_id is not null)`,
    )
    .execute();

  // Bulk paths COPY raw lines here, then one set-based statement moves them into baskets.
  await sql`create unlogged table import_staging_lines (
    batch_id text not null,
    line_no bigint not null,
    member_ref text,
    member_ref_kind text,
    store_id integer,
    terminal_id text not null,
    txn_id text not null,
    ts text not null,
    gtin char(14) not null,
    qty numeric(12, 3) not null,
    unit_price_cents integer,
    line_discount_cents integer not null,
    primary key (batch_id, line_no)
  )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'import_staging_lines',
    'api_keys',
    'basket_lines',
    'baskets',
    'member_contacts',
    'members',
    'products',
    'manufacturers',
    'categories',
    'terminals',
    'stores',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
