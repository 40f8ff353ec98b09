import { sql, type Kysely } from 'kysely';

/**
 * A run now gets its row when it starts (status `running`), not only when it ends, so every
 * process sharing the database sees it: a client that started a run through one server and polls
 * through another behind the same load balancer, or an admin looking for tonight's run. The
 * process running it touches `heartbeat_at` every few seconds; a `running` row whose heartbeat
 * stopped is a run whose process died (src/jobs/job-runs.ts reports it as `abandoned`).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table job_runs drop constraint job_runs_status_check`.execute(db);
  await sql`alter table job_runs add constraint job_runs_status_check check (status in ('running', 'done', 'failed'))`.execute(db);
  await sql`alter table job_runs alter column finished_at drop not null, alter column finished_at drop default`.execute(db);
  await sql`alter table job_runs add column heartbeat_at timestamptz`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`delete from job_runs where status = 'running'`.execute(db);
  await sql`alter table job_runs drop column heartbeat_at`.execute(db);
  await sql`alter table job_runs alter column finished_at set default clock_timestamp(), alter column finished_at set not null`.execute(db);
  await sql`alter table job_runs drop constraint job_runs_status_check`.execute(db);
  await sql`alter table job_runs add constraint job_runs_status_check check (status in ('done', 'failed'))`.execute(db);
}
