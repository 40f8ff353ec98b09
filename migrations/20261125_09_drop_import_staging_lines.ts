import { sql, type Kysely } from 'kysely';

/**
 * import_staging_lines was never used: the bulk paths staged in session-local temp tables, and now
 * write basket_lines directly (src/ingest/write-baskets.ts).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`drop table if exists import_staging_lines`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
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
