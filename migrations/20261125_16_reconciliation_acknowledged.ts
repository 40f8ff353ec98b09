import { sql, type Kysely } from 'kysely';

/**
 * A store's reconciliation list (offline redemptions that could not count) grew forever: every
 * read returned every conflict the store ever had. A conflict can now be acknowledged (when and by
 * which key) once store IT has dealt with it, and the list is read a page at a time by store, in
 * time order: the index serves both.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table redemption_conflicts add column acknowledged_at timestamptz, add column acknowledged_by bigint`.execute(db);
  await sql`create index redemption_conflicts_store_ts on redemption_conflicts (store_id, ts, terminal_id collate "C", txn_id collate "C", offer_id)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index redemption_conflicts_store_ts`.execute(db);
  await sql`alter table redemption_conflicts drop column acknowledged_at, drop column acknowledged_by`.execute(db);
}
