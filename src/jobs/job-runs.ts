import { sql } from 'kysely';
import type { Db, JobKind, JobTrigger } from '../db/index.ts';
import { errorFields, type Logger } from '../lib/logger.ts';

/**
 * Runs of the tracked jobs (the nightly analyse, the list period job), as admins see them
 * (GET /v1/jobs/{kind}/runs). Every process that shares the database sees every run:
 *
 * - A run gets its row when it starts (`beginRun`, status `running`, committed at once), so a
 *   client that started it through one server can poll it through another.
 * - While it runs, its process touches `heartbeat_at` every HEARTBEAT_MS (`keepAlive`).
 * - A successful run turns its row `done` in its own last transaction (`endRun` on the job's
 *   transaction), so `done` shows exactly when what it computed does. A failed one turns
 *   `failed` right after its rollback.
 * - A process that dies mid-run leaves nothing of it (each job is all or nothing) and a `running`
 *   row whose heartbeat stopped. Reads report such a row as `abandoned` once its heartbeat is
 *   older than ABANDONED_AFTER_MS, so tonight's crash shows instead of yesterday's success.
 *
 * Times come from the database's clock (clock_timestamp()), one clock for every process.
 */
export interface JobRun<R = unknown> {
  runId: number;
  kind: JobKind;
  asOf: string;
  trigger: JobTrigger;
  status: 'running' | 'done' | 'failed' | 'abandoned';
  startedAt: string;
  finishedAt: string | null;
  /** What the run was asked for (null where the kind records nothing). */
  params: unknown;
  /** The run's summary when done. */
  result: R | null;
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

/** What an abandoned run of each kind left behind. */
const LEFT_BEHIND: Record<JobKind, string> = {
  analyse: 'no analytics of it were kept',
  lists: 'no offers or lists of it were kept',
};

export async function beginRun(
  db: Db,
  run: { kind: JobKind; asOf: Date; trigger: JobTrigger; params?: unknown },
): Promise<RunStart> {
  const params = run.params === undefined ? null : JSON.stringify(run.params);
  const { rows } = await sql<{ id: string | number; started_at: Date }>`
    insert into job_runs (kind, as_of, trigger, status, started_at, heartbeat_at, params)
    values (${run.kind}, ${run.asOf.toISOString()}::timestamptz, ${run.trigger}, 'running', clock_timestamp(),
            clock_timestamp(), ${params}::jsonb)
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
export async function endRun(db: Db, id: number, end: { result: unknown } | { error: string }): Promise<void> {
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
  if (numUpdatedRows !== 1n) throw new Error(`run ${id} has no running row to end`);
}

/**
 * Fails every `running` run: for a database only this process can be using (the embedded one, its
 * data folder locked), any such row was left by a process that stopped mid-run. Returns their ids.
 */
export async function failOrphanedRuns(db: Db, error: string): Promise<number[]> {
  const rows = await db
    .updateTable('job_runs')
    .set({ status: 'failed', finished_at: sql<Date>`clock_timestamp()`, error })
    .where('status', '=', 'running')
    .returning('id')
    .execute();
  return rows.map((r) => Number(r.id));
}

/** Runs of one kind, newest first; `before` pages on (a run id). */
export async function storedRuns(db: Db, kind: JobKind, opts: { limit: number; before?: number }): Promise<JobRun[]> {
  const rows = await selectRuns(db, kind, opts.before === undefined ? sql`true` : sql`id < ${opts.before}`, opts.limit);
  return rows.map(toRun);
}

export async function storedRun(db: Db, kind: JobKind, id: number): Promise<JobRun | null> {
  const [row] = await selectRuns(db, kind, sql`id = ${id}`, 1);
  return row ? toRun(row) : null;
}

interface RunRow {
  id: string | number;
  kind: JobKind;
  as_of: Date | string;
  trigger: JobTrigger;
  status: 'running' | 'done' | 'failed';
  started_at: Date | string;
  finished_at: Date | string | null;
  params: unknown;
  summary: unknown;
  error: string | null;
  silent_ms: number | null;
}

async function selectRuns(db: Db, kind: JobKind, where: ReturnType<typeof sql>, limit: number): Promise<RunRow[]> {
  const { rows } = await sql<RunRow>`
    select id, kind, as_of, trigger, status, started_at, finished_at, params, summary, error,
           (extract(epoch from clock_timestamp() - heartbeat_at) * 1000)::float8 as silent_ms
    from job_runs
    where kind = ${kind} and ${where}
    order by id desc
    limit ${limit}`.execute(db);
  return rows;
}

const json = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v);

function toRun(r: RunRow): JobRun {
  const abandoned = r.status === 'running' && r.silent_ms !== null && r.silent_ms > ABANDONED_AFTER_MS;
  return {
    runId: Number(r.id),
    kind: r.kind,
    asOf: new Date(r.as_of).toISOString(),
    trigger: r.trigger,
    status: abandoned ? 'abandoned' : r.status,
    startedAt: new Date(r.started_at).toISOString(),
    finishedAt: r.finished_at === null ? null : new Date(r.finished_at).toISOString(),
    params: json(r.params) ?? null,
    result: json(r.summary) ?? null,
    error: abandoned
      ? `no sign of life for ${Math.round(r.silent_ms! / 1000)} s: the process running it stopped before it finished (${LEFT_BEHIND[r.kind]})`
      : r.error,
  };
}

/** A tracked job as its runner starts it. */
export interface TrackedJob<D, O, S> {
  kind: JobKind;
  /** The instant a run is for, recorded with it. */
  asOf(opts: O): Date;
  /** What the run was asked for, recorded with it. */
  params?(opts: O): unknown;
  /** The summary as the run's record (and the API) keep it. */
  result(summary: S): unknown;
  /** A start while `running` runs joins it when true; otherwise it is refused. Default: refused. */
  joins?(running: O, opts: O): boolean;
  /**
   * The work. It calls `finish` in its last transaction once it has succeeded, just before the
   * commit (the run's record is written there); its failure fails the job.
   */
  run: JobWork<D, O, S>;
}

export type JobWork<D, O, S> = (deps: D, opts: O & { finish: (tx: Db, summary: S) => Promise<void> }) => Promise<S>;

export interface RunningJob<O, S> {
  opts: O;
  asOf: Date;
  trigger: JobTrigger;
  /** Its id and start, once taken. */
  started: Promise<RunStart>;
  done: Promise<S>;
}

/**
 * One run of a job at a time per process: the schedule, the CLI and the API share the runner
 * (jobs/runners.ts). Each run is recorded: it takes its row as it starts, beats while it runs, and
 * ends its row in its last transaction (done) or after its rollback (failed).
 */
export class JobRunner<D extends { db: Db; logger: Logger }, O, S> {
  private running: RunningJob<O, S> | null = null;

  constructor(
    protected readonly deps: D,
    private readonly job: TrackedJob<D, O, S>,
    private readonly heartbeatMs = HEARTBEAT_MS,
  ) {}

  get busy(): boolean {
    return this.running !== null;
  }

  /** The run going on in this process, if any. */
  get current(): RunningJob<O, S> | null {
    return this.running;
  }

  /**
   * Starts a run, or joins the one going on (TrackedJob.joins); null when one runs that it does
   * not join (the caller answers 409). `work` replaces the job's work (tests hold the runner busy).
   */
  start(opts: O, trigger: JobTrigger, work: JobWork<D, O, S> = this.job.run): RunningJob<O, S> | null {
    if (this.running) return this.job.joins?.(this.running.opts, opts) ? this.running : null;
    const { db, logger } = this.deps;
    const { kind } = this.job;
    const asOf = this.job.asOf(opts);
    const started = beginRun(db, { kind, asOf, trigger, params: this.job.params?.(opts) });
    const done = started
      .then(async (run) => {
        const stop = keepAlive(
          db,
          run.id,
          (e) => logger.warn(`${kind} run heartbeat failed`, { runId: run.id, ...errorFields(e) }),
          this.heartbeatMs,
        );
        try {
          return await work(this.deps, {
            ...opts,
            finish: (tx, summary) => endRun(tx, run.id, { result: this.job.result(summary) }),
          });
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          await endRun(db, run.id, { error: message }).catch((e: unknown) =>
            logger.error(`${kind} run not recorded`, { runId: run.id, ...errorFields(e) }),
          );
          throw error;
        } finally {
          stop();
        }
      })
      .finally(() => {
        this.running = null;
      });
    this.running = { opts, asOf, trigger, started, done };
    return this.running;
  }
}

/** A run going on in this process, as the API shows it (its row's heartbeat may wait for its transaction). */
export function runningRun<O, S>(kind: JobKind, running: RunningJob<O, S>, started: RunStart, params: unknown = null): JobRun {
  return {
    runId: started.id,
    kind,
    asOf: running.asOf.toISOString(),
    trigger: running.trigger,
    status: 'running',
    startedAt: started.startedAt.toISOString(),
    finishedAt: null,
    params,
    result: null,
    error: null,
  };
}
