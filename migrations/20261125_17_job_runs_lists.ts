import { sql, type Kysely } from 'kysely';

/**
 * The list period job is a tracked run too (kind `lists`), recorded like the nightly analyse. Its
 * `params` keep what the run was asked for (the period, or none for the current one; regenerate),
 * so a running run shows which build it is before its summary exists.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table job_runs drop constraint job_runs_kind_check`.execute(db);
  await sql`alter table job_runs add constraint job_runs_kind_check check (kind in ('analyse', 'lists'))`.execute(db);
  await sql`alter table job_runs add column params jsonb`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`delete from job_runs where kind = 'lists'`.execute(db);
  await sql`alter table job_runs drop column params`.execute(db);
  await sql`alter table job_runs drop constraint job_runs_kind_check`.execute(db);
  await sql`alter table job_runs add constraint job_runs_kind_check check (kind in ('analyse'))`.execute(db);
}
