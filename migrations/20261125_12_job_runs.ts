import { sql, type Kysely } from 'kysely';

/**
 * One row per finished run of a job (the nightly analyse so far): when it started and ended, what
 * started it, and how it ended (its summary, or the error). A successful run's row is written in
 * the run's own transaction, so it exists exactly when the run's tables do; a failed run's right
 * after its rollback. A run still going lives only in its process (src/jobs/job-runs.ts).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('job_runs')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('analyse')`))
    .addColumn('as_of', 'timestamptz', (c) => c.notNull())
    .addColumn('trigger', 'text', (c) => c.notNull().check(sql`trigger in ('schedule', 'start', 'api', 'cli')`))
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('done', 'failed')`))
    .addColumn('started_at', 'timestamptz', (c) => c.notNull())
    .addColumn('finished_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`clock_timestamp()`))
    .addColumn('summary', 'jsonb')
    .addColumn('error', 'text')
    .execute();
  await db.schema.createIndex('job_runs_kind_idx').on('job_runs').columns(['kind', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('job_runs').execute();
}
