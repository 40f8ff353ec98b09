import { sql } from 'kysely';
import type { Db } from '../db/index.ts';
import { withTx } from '../db/index.ts';
import { addDays } from '../analytics/cells.ts';
import type { Logger } from '../lib/logger.ts';
import { localDate } from '../lib/time.ts';
import { assertPeriodStart, builtPeriodsAround, lockListBuilds, refuseOverlap, runListPeriod, type BuiltPeriod, type ListPeriodSummary } from '../lists/period.ts';
import { campaignSpec } from '../offers/from-rules.ts';
import { sha256Hex } from '../lib/hash.ts';
import type { RuleSet } from '../rules/rule-set.ts';
import { WEEKDAYS, type Weekday } from '../rules/settings.ts';
import { HEARTBEAT_MS, JobRunner, type RunningJob, type TrackedJob } from './job-runs.ts';

/**
 * The list period grid: periods of `periodDays` starting on `weekday`, counted from the first such
 * weekday of 2026. Returns the start of the period holding `date`.
 */
export function periodStartOn(date: string, periodDays: number, weekday: Weekday): string {
  // 2026-01-05 is a Monday.
  const anchor = addDays('2026-01-05', WEEKDAYS.indexOf(weekday));
  const days = Math.round((Date.parse(date) - Date.parse(anchor)) / 86_400_000);
  const k = Math.floor(days / periodDays);
  return addDays(anchor, k * periodDays);
}

/**
 * The period the daily job builds on `today` (the job's default), given the built periods around
 * it (`builtPeriodsAround`): the grid's period holding today (`periodStartOn`), unless a built
 * period is in the way, as after a marketer changes `lists.period_days` or `lists.weekday`:
 *
 * - a built period holds today: that one (built already; its own length, for a regenerate);
 * - the last built period ends inside the grid's period: the next period starts the day after
 *   it and ends where the grid's period does, so the new grid holds from the period after; when
 *   that leaves less than half a period, the next grid period is joined to it (no 1-day lists);
 * - a period built ahead starts before that end: the period ends the day before it.
 *
 * So the schedule goes on building, one period after the other without gap or overlap, where it
 * used to refuse every day (409) until the new grid cleared the last built period. An explicit
 * periodStart is never moved: one overlapping a built period is still refused.
 */
export function currentPeriod(
  today: string,
  grid: { periodDays: number; weekday: Weekday },
  built: { last: BuiltPeriod | null; next: BuiltPeriod | null },
): { periodStart: string; periodDays: number } {
  const { last, next } = built;
  if (last && last.periodEnd >= today) {
    return { periodStart: last.periodStart, periodDays: daysBetween(last.periodStart, last.periodEnd) + 1 };
  }
  let start = periodStartOn(today, grid.periodDays, grid.weekday);
  let end = addDays(start, grid.periodDays - 1);
  if (last && last.periodEnd >= start) {
    start = addDays(last.periodEnd, 1);
    if ((daysBetween(start, end) + 1) * 2 < grid.periodDays) end = addDays(end, grid.periodDays);
  }
  if (next && next.periodStart <= end) end = addDays(next.periodStart, -1);
  return { periodStart: start, periodDays: daysBetween(start, end) + 1 };
}

function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(to) - Date.parse(from)) / 86_400_000);
}

export interface ListsJobOptions {
  /** When the job runs: "today" is this instant's date in `timeZone`. */
  at: Date;
  timeZone: string;
  rules: RuleSet;
  /** First day of the period; default the period holding today. */
  periodStart?: string;
  regenerate?: boolean;
  /**
   * Runs in the job's transaction once the period is built (or found built), just before the
   * commit (the run's record: job-runs.ts); its failure fails the job.
   */
  finish?: (tx: Db, summary: ListPeriodSummary) => Promise<void>;
}

/**
 * The period a run builds: the one asked for (never moved: one overlapping a built period is
 * refused), or by default the current one (`currentPeriod`, from the built periods around today).
 */
export async function planListsRun(
  db: Db,
  opts: Pick<ListsJobOptions, 'at' | 'timeZone' | 'rules' | 'periodStart'>,
): Promise<{ periodStart: string; periodDays: number }> {
  const l = opts.rules.settings.lists;
  if (opts.periodStart) {
    assertPeriodStart(opts.periodStart);
    // a period built already keeps its own length (a rerun finds it, a regenerate rebuilds it),
    // whatever lists.period_days says now
    const built = await db.selectFrom('list_periods').select(sql<string>`period_end::text`.as('period_end'))
      .where('period_start', '=', opts.periodStart).where('status', '=', 'done').executeTakeFirst();
    return { periodStart: opts.periodStart, periodDays: built ? daysBetween(opts.periodStart, built.period_end) + 1 : l.periodDays };
  }
  const today = localDate(opts.at, opts.timeZone);
  return currentPeriod(today, l, await builtPeriodsAround(db, today));
}

/**
 * Refuses (409) before a run starts what it would refuse once started: a period overlapping one
 * built. The API asks first, so a refused request leaves no run behind (and `wait: false` hears
 * of it at once); the schedule and the CLI record the failed run instead.
 */
export async function refuseListsRun(db: Db, opts: Pick<ListsJobOptions, 'at' | 'timeZone' | 'rules' | 'periodStart'>): Promise<void> {
  const { periodStart, periodDays } = await planListsRun(db, opts);
  await refuseOverlap(db, periodStart, addDays(periodStart, periodDays - 1));
}

/** The list period job with the given rules: what the schedule, the CLI and the API run (through ListsRunner). */
export async function runListsJob(
  deps: { db: Db; logger: Logger },
  opts: ListsJobOptions,
): Promise<ListPeriodSummary> {
  const { rules } = opts;
  const l = rules.settings.lists;
  const rulesHash = await sha256Hex(
    rules.files.map((f) => `${f.path}:${f.hash}`).sort().join('\n') || 'defaults',
  );
  const summary = await withTx(deps.db, async (tx) => {
    // before the plan reads the built periods: another build may be adding one
    await lockListBuilds(tx);
    const { periodStart, periodDays } = await planListsRun(tx, opts);
    const built = await runListPeriod(tx, {
      periodStart,
      periodDays,
      maxOffers: l.maxOffers,
      dueSoon: l.dueSoonItems,
      campaigns: rules.campaigns.map(campaignSpec),
      rulesHash,
      timeZone: opts.timeZone,
      rewardRateWeeks: rules.settings.qualification.weeks,
      refuseOverlap: true,
      now: opts.at,
      ...(opts.regenerate ? { regenerate: true } : {}),
    });
    await opts.finish?.(tx, built);
    return built;
  });
  deps.logger.info('list period done', {
    periodStart: summary.periodStart,
    built: summary.built,
    lists: summary.lists,
    offers: summary.offers,
    controls: summary.controls,
  });
  return summary;
}

/** What a list run was asked for, as its record and the API show it (null: the current period). */
export function listsRunRequest(opts: Pick<ListsJobOptions, 'periodStart' | 'regenerate'>) {
  return { periodStart: opts.periodStart ?? null, regenerate: opts.regenerate === true };
}

const listsJob: TrackedJob<{ db: Db; logger: Logger }, ListsJobOptions, ListPeriodSummary> = {
  kind: 'lists',
  asOf: (opts) => opts.at,
  params: listsRunRequest,
  result: (summary) => summary,
  run: runListsJob,
};

/**
 * One list period job at a time per process: the daily schedule, the CLI and POST /v1/jobs/lists
 * share it, and a start while one runs is refused (the caller answers 409). Each run is recorded
 * (job-runs.ts).
 */
export class ListsRunner extends JobRunner<{ db: Db; logger: Logger }, ListsJobOptions, ListPeriodSummary> {
  constructor(deps: { db: Db; logger: Logger }, heartbeatMs = HEARTBEAT_MS) {
    super(deps, listsJob, heartbeatMs);
  }
}

export type RunningLists = RunningJob<ListsJobOptions, ListPeriodSummary>;
