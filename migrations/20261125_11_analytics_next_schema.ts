import { sql, type Kysely } from 'kysely';

/**
 * The schema the nightly analyse job builds the tables it replaces whole in (src/analytics/
 * replace-rows.ts), beside the live ones, moved into place just before the job commits. Empty
 * between runs: a table only lives here inside the transaction that built it.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create schema if not exists analytics_next`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop schema if exists analytics_next`.execute(db);
}
