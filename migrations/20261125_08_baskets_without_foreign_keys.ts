import { sql, type Kysely } from 'kysely';

/**
 * Baskets lose their foreign keys to members and stores, as basket_lines never had any: both are
 * written by one statement only (src/ingest/write-baskets.ts), in the transaction that has just
 * checked the stores and inserted the members it names, and neither members nor stores are ever
 * deleted. The two per-row triggers were 42% of inserting a batch of baskets (EXPLAIN ANALYZE of
 * 1,588 baskets: 8.3 of 19.6 ms), about 0.4 s of PostgreSQL CPU per million scan lines.
 * test/ingest/baskets-api.test.ts checks that every basket's member and store exist.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table baskets drop constraint if exists baskets_member_id_fkey,
    drop constraint if exists baskets_store_id_fkey`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table baskets add constraint baskets_member_id_fkey foreign key (member_id) references members (id),
    add constraint baskets_store_id_fkey foreign key (store_id) references stores (id)`.execute(db);
}
