import { sql } from 'kysely';
import type { Db, JobTrigger } from '../db/index.ts';
import type { AnalyseResult } from './analyse.ts';

/**
 * Runs of the nightly analyse, as admins see them (GET /v1/jobs/analyse/runs). Every process that
 * shares the database sees every run:
 *
 * - A run gets its row when it starts (`beginRun`, status `running`, committed at once), so a
 *   client that started it through one server can poll it through another.
 * - While it runs, its process touches `heartbeat_at` every HEARTBEAT_MS (`keepAlive`).
 * - A successful run turns its row `done` in its own last transaction (`endRun` on the job's
 *   transaction), so `done` shows exactly when the tables it computed do. A failed one turns
 *   `failed` right after its rollback.
 * - A process that dies mid-run leaves no analytics (the job is all or nothing) and a `running`
 *   row whose heartbeat stopped. Reads report such a row as `abandoned` once its heartbeat is
 *   older than ABANDONED_AFTER_MS, so tonight's crash shows instead of yesterday's success.
 *
 * Times come from the database's clock (clock_timestamp()), one clock for every process.
 */
export interface JobRun {
  runId: number;
  kind: 'analyse';
  asOf: string;
  trigger: JobTrigger;
  status: 'running' | 'done' | 'failed' | 'abandoned';
  startedAt: string;
  finishedAt: string | null;
  /** The run's summary when done. */
  result: AnalyseResult | null;
  /** Why it failed, or why it is taken for abandoned. */
  error: string | null;
}

export interface RunStart {
  id: number;
  startedAt: Date;
}

export const HEARTBEAT_MS = 10_000;
/** Six missed heartbeats: a process this silent is gone (or cut off from the database). */
export const ABANDONED_AFTER_MS = 60_000;

export async function beginRun(db: Db, run: { asOf: Date; trigger: JobTrigger }): Promise<RunStart> {
  const { rows } = await sql<{ id: string | number; started_at: Date }>`
    insert into job_runs (kind, as_of, trigger, status, started_at, heartbeat_at)
    values ('analyse', ${run.asOf.toISOString()}::timestamptz, ${run.trigger}, 'running', clock_timestamp(), clock_timestamp())
    returning id, started_at`.execute(db);
  return { id: Number(rows[0]!.id), startedAt: new Date(rows[0]!.started_at) };
}

/**
 * Touches the run's heartbeat every `everyMs` until the returned stop is called. A beat is
 * skipped while the last one is still waiting (PGlite serves one transaction at a time, so there
 * the beats wait for the job's; nobody else reads PGlite's runs meanwhile).
 */
export function keepAlive(db: Db, id: number, onError: (e: unknown) => void, everyMs = HEARTBEAT_MS): () => void {
  let pending = false;
  const timer = setInterval(() => {
    if (pending) return;
    pending = true;
    sql`update job_runs set heartbeat_at = clock_timestamp() where id = ${id} and status = 'running'`
      .execute(db)
      .catch(onError)
      .finally(() => (pending = false));
  }, everyMs);
  (timer as { unref?: () => void }).unref?.();
  return () => clearInterval(timer);
}

/** Ends a running run, `done` with its result or `failed` with its error (on `db` or the job's transaction). */
export async function endRun(db: Db, id: number, end: { result: AnalyseResult } | { error: string }): Promise<void> {
  const done = 'result' in end;
  const { numUpdatedRows } = await db
    .updateTable('job_runs')
    .set({
      status: done ? 'done' : 'failed',
      finished_at: sql<Date>`clock_timestamp()`,
      summary: done ? JSON.stringify(end.result) : null,
      error: done ? null : end.error,
    })
    .where('id', '=', id)
    .where('status', '=', 'running')
    .executeTakeFirst();
  // A run's row is there from its start: without it, the run would commit unrecorded.
  if (numUpdatedRows !== 1n) throw new Error(`analyse run ${id} has no running row to end`);
}

/** Runs, newest first; `before` pages on (a run id). */
export async function storedRuns(db: Db, opts: { limit: number; before?: number }): Promise<JobRun[]> {
  const rows = await selectRuns(db, opts.before === undefined ? sql`true` : sql`id < ${opts.before}`, opts.limit);
  return rows.map(toRun);
}

export async function storedRun(db: Db, id: number): Promise<JobRun | null> {
  const [row] = await selectRuns(db, sql`id = ${id}`, 1);
  return row ? toRun(row) : null;
}

interface RunRow {
  id: string | number;
  as_of: Date | string;
  trigger: JobTrigger;
  status: 'running' | 'done' | 'failed';
  started_at: Date | string;
  finished_at: Date | string | null;
  summary: unknown;
  error: string | null;
  silent_ms: number | null;
}

async function selectRuns(db: Db, where: ReturnType<typeof sql>, limit: number): Promise<RunRow[]> {
  const { rows } = await sql<RunRow>`
    select id, as_of, trigger, status, started_at, finished_at, summary, error,
           (extract(epoch from clock_timestamp() - heartbeat_at) * 1000)::float8 as silent_ms
    from job_runs
    where kind = 'analyse' and ${where}
    order by id desc
    limit ${limit}`.execute(db);
  return rows;
}

function toRun(r: RunRow): JobRun {
  const abandoned = r.status === 'running' && r.silent_ms !== null && r.silent_ms > ABANDONED_AFTER_MS;
  return {
    runId: Number(r.id),
    kind: 'analyse',
    asOf: new Date(r.as_of).toISOString(),
    trigger: r.trigger,
    status: abandoned ? 'abandoned' : r.status,
    startedAt: new Date(r.started_at).toISOString(),
    finishedAt: r.finished_at === null ? null : new Date(r.finished_at).toISOString(),
    result: (typeof r.summary === 'string' ? JSON.parse(r.summary) : r.summary) as AnalyseResult | null,
    error: abandoned
      ? `no sign of life for ${Math.round(r.silent_ms! / 1000)} s: the process running it stopped before it finished (no analytics of it were kept)`
      : r.error,
  };
}
