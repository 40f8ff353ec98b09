import { sql, type Selectable } from 'kysely';
import type { Db, JobRunsTable, JobTrigger } from '../db/index.ts';
import type { AnalyseResult } from './analyse.ts';

/**
 * Runs of the nightly analyse, as admins see them (GET /v1/jobs/analyse/runs). A run takes its id
 * when it starts (`reserveRun`: the table's identity, so ids follow start order) and gets its row
 * when it ends (`recordRun`): a successful run in its own last transaction, so the row exists
 * exactly when the tables it computed do; a failed one right after the rollback. A process that
 * dies mid-run leaves no row, as it leaves no analytics (the job is all or nothing). While it runs,
 * a run exists only in its process (the runner's `current`).
 */
export interface JobRun {
  runId: number;
  kind: 'analyse';
  asOf: string;
  trigger: JobTrigger;
  status: 'running' | 'done' | 'failed';
  startedAt: string;
  finishedAt: string | null;
  /** The run's summary when done. */
  result: AnalyseResult | null;
  /** Why it failed. */
  error: string | null;
}

export interface RunStart {
  id: number;
  startedAt: Date;
}

export async function reserveRun(db: Db): Promise<RunStart> {
  const { rows } = await sql<{ id: string | number; started_at: Date }>`
    select nextval(pg_get_serial_sequence('job_runs', 'id')) as id, clock_timestamp() as started_at`.execute(db);
  return { id: Number(rows[0]!.id), startedAt: new Date(rows[0]!.started_at) };
}

export async function recordRun(
  db: Db,
  run: RunStart & { asOf: Date; trigger: JobTrigger } & ({ result: AnalyseResult } | { error: string }),
): Promise<void> {
  const done = 'result' in run;
  await db
    .insertInto('job_runs')
    .values({
      id: run.id,
      kind: 'analyse',
      as_of: run.asOf,
      trigger: run.trigger,
      status: done ? 'done' : 'failed',
      started_at: run.startedAt,
      summary: done ? JSON.stringify(run.result) : null,
      error: done ? null : run.error,
    })
    .execute();
}

/** Finished runs, newest first; `before` pages on (a run id). */
export async function finishedRuns(db: Db, opts: { limit: number; before?: number }): Promise<JobRun[]> {
  let q = db.selectFrom('job_runs').selectAll().where('kind', '=', 'analyse');
  if (opts.before !== undefined) q = q.where('id', '<', opts.before);
  const rows = await q.orderBy('id', 'desc').limit(opts.limit).execute();
  return rows.map(toRun);
}

export async function finishedRun(db: Db, id: number): Promise<JobRun | null> {
  const row = await db.selectFrom('job_runs').selectAll().where('kind', '=', 'analyse').where('id', '=', id).executeTakeFirst();
  return row ? toRun(row) : null;
}

function toRun(r: Selectable<JobRunsTable>): JobRun {
  return {
    runId: Number(r.id),
    kind: 'analyse',
    asOf: new Date(r.as_of).toISOString(),
    trigger: r.trigger,
    status: r.status,
    startedAt: new Date(r.started_at).toISOString(),
    finishedAt: new Date(r.finished_at).toISOString(),
    result: (typeof r.summary === 'string' ? JSON.parse(r.summary) : r.summary) as AnalyseResult | null,
    error: r.error,
  };
}
