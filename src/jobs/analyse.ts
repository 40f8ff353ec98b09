import { sql } from 'kysely';
import type { Db } from '../db/index.ts';
import type { Logger } from '../lib/logger.ts';
import { computeAssociations, type AssociationsSummary } from '../analytics/associations.ts';
import { calibrate, type CalibrationSummary } from '../analytics/calibrate.ts';
import { computeCells, type CellsSummary } from '../analytics/cells.ts';
import { computeCycles, type CycleSummary } from '../analytics/cycles.ts';
import { computeMemberScores, type MemberScoresSummary } from '../analytics/members.ts';
import { scoreNextBasket, type ScoreSummary } from '../analytics/rank.ts';
import { computeTraits, type TraitsSummary } from '../analytics/traits.ts';
import { lockAnalytics } from '../analytics/repo.ts';
import { preparePurchaseLines, type PurchaseLines } from '../analytics/purchase-lines.ts';
import type { RuleSet } from '../rules/rule-set.ts';

export interface AnalyseJobOptions {
  /** Only history strictly before this instant counts. */
  asOf: Date;
  timeZone: string;
  rules: RuleSet;
  /** Length of the list period the predictions are for, in days. Default 14. */
  periodDays?: number;
  /** Monotonic milliseconds, for the step timings (performance.now on every runtime). */
  now?: () => number;
  /**
   * Connections the job runs on. 2: the member steps beside the prediction steps, each chain in
   * a transaction on a connection of its own with its own prepared lines, the two committed
   * together; 1: one after the other in one transaction, sharing one prepared-lines table.
   * Default 2; always 1 on a database with a single connection (PGlite: two would only queue,
   * and the first chain's transaction, waiting for the second's, would wait for ever).
   */
  connections?: 1 | 2;
}

export interface AnalyseSummary {
  asOf: string;
  cells: CellsSummary;
  memberScores: MemberScoresSummary;
  traits: TraitsSummary;
  associations: AssociationsSummary;
  cycles: CycleSummary;
  calibration: CalibrationSummary;
  scores: ScoreSummary;
  /**
   * Milliseconds per step, in the job's order. On two connections the chains' steps overlap, so
   * they add up to more than the whole, and a step both chains run (lines, statistics) counts the
   * longer of its two runs.
   */
  timingsMs: Record<string, number>;
}

const STEPS = [
  'lines',
  'cells',
  'memberScores',
  'traits',
  'associations',
  'cycles',
  'calibration',
  'scores',
  'statistics',
] as const;
type Step = (typeof STEPS)[number];

interface Job {
  asOf: Date;
  timeZone: string;
  rules: RuleSet;
  periodDays: number;
  step: <T>(name: Step, run: () => Promise<T>) => Promise<T>;
}

/**
 * The nightly analytics, in two chains of dependent steps that share nothing but the base tables:
 *   members      9-cells → member scores (need the cells) → traits → associations;
 *   predictions  repurchase cycles (+ back-test snapshot) → calibration → next-basket scores.
 * On PostgreSQL the two chains run at once, each on a connection of its own (the job is bound by
 * one core per connection: its plans are single-process, as temp tables are not read by
 * parallel workers); on PGlite one after the other. The steps read the members' scan lines
 * prepared once per chain (joined to their basket's local day and their product's category
 * and brand: purchase-lines.ts), temp tables dropped with the transaction; the prediction chain,
 * which reads them once, groups them straight from basket_lines instead. Each chain ends by
 * analysing the tables it rewrote.
 *
 * All or nothing: the whole job is one transaction per chain, committed together (see
 * commitTogether), so readers never see cells of today beside predictions of yesterday, and a
 * failure in any step leaves every analytics table as the last successful run left it (the job
 * fails with the first error; the other chain stops before its next step). A rerun with the same
 * `asOf` gives the same rows. The price: a table a step replaced stays locked until the job
 * commits (readers of member_category_cells, say, wait for the rest of the job, some seconds per
 * million scan lines, once a night), where each step alone used to hold only its own.
 */
export async function runAnalyse(
  deps: { db: Db; logger: Logger },
  opts: AnalyseJobOptions,
): Promise<AnalyseSummary> {
  const { db, logger } = deps;
  const now = opts.now ?? (() => performance.now());
  const started = now();
  const timings: Partial<Record<Step, number>> = {};
  // Two transactions must be open at once to commit together: one connection only where the
  // database has no second (PGlite), whatever was asked.
  const connections =
    db.getExecutor().adapter.supportsMultipleConnections === false ? 1 : (opts.connections ?? 2);
  // The first failure of either chain: the other stops before its next step and rolls back.
  let failed: { error: unknown } | null = null;
  const job: Job = {
    asOf: opts.asOf,
    timeZone: opts.timeZone,
    rules: opts.rules,
    periodDays: opts.periodDays ?? 14,
    async step(name, run) {
      if (failed) throw failed.error;
      const t0 = now();
      const result = await run();
      const ms = Math.round(now() - t0);
      // A step run by both chains (lines, statistics): their sum on one connection, the longer
      // of the two on two, where they overlap or run beside other steps.
      const before = timings[name] ?? 0;
      timings[name] = connections === 1 ? before + ms : Math.max(before, ms);
      logger.debug('analyse step done', { step: name, ms });
      return result;
    },
  };
  let members: MemberResults;
  let predictions: PredictionResults;
  if (connections === 1) {
    ({ members, predictions } = await db.transaction().execute(async (tx) => {
      await beginJob(tx, true);
      const [m, cycles] = await withLines(tx, job, async (lines) => [
        await memberSteps(tx, job, lines),
        await job.step('cycles', () => cycleStep(tx, job, lines)),
      ] as const);
      return { members: m, predictions: { cycles, ...(await predictionSteps(tx, job)) } };
    }));
  } else {
    [members, predictions] = await commitTogether(
      db,
      beginJob,
      (tx) => withLines(tx, job, (lines) => memberSteps(tx, job, lines)),
      async (tx) => {
        // Cycles read the lines once (their purchase days): straight from basket_lines.
        const cycles = await withLines(
          tx,
          job,
          (lines) => job.step('cycles', () => cycleStep(tx, job, lines)),
          true,
        );
        return { cycles, ...(await predictionSteps(tx, job)) };
      },
      (error) => (failed ??= { error }),
    );
  }
  const timingsMs: Record<string, number> = {};
  for (const name of STEPS) if (timings[name] !== undefined) timingsMs[name] = timings[name];
  const summary = { asOf: opts.asOf.toISOString(), ...members, ...predictions, timingsMs };
  logger.info('analyse done', {
    asOf: summary.asOf,
    members: members.memberScores.members,
    qualified: members.memberScores.qualified,
    memberProducts: predictions.cycles.memberProducts,
    ms: Math.round(now() - started),
  });
  return summary;
}

interface MemberResults {
  cells: CellsSummary;
  memberScores: MemberScoresSummary;
  traits: TraitsSummary;
  associations: AssociationsSummary;
}

interface PredictionResults {
  cycles: CycleSummary;
  calibration: CalibrationSummary;
  scores: ScoreSummary;
}

/**
 * Prepares the scan lines in the transaction `tx` for `fn` (temp tables dropped at its end).
 * `inline` when `fn` reads them once (purchase-lines.ts).
 */
async function withLines<T>(
  tx: Db,
  job: Job,
  fn: (lines: PurchaseLines) => Promise<T>,
  inline = false,
): Promise<T> {
  const lines = await job.step('lines', () =>
    preparePurchaseLines(tx, { asOf: job.asOf, timeZone: job.timeZone, owner: 'job', inline }),
  );
  return fn(lines);
}

async function memberSteps(db: Db, job: Job, lines: PurchaseLines): Promise<MemberResults> {
  const { asOf, timeZone, rules, step } = job;
  const base = { asOf, timeZone, settings: rules.settings, lines };
  const cells = await step('cells', () => computeCells(db, base));
  const memberScores = await step('memberScores', () => computeMemberScores(db, base));
  const traits = await step('traits', () =>
    computeTraits(db, { asOf, timeZone, traits: rules.traits, lines }),
  );
  const associations = await step('associations', () => computeAssociations(db, base));
  await step('statistics', () =>
    analyze(db, ['member_category_cells', 'member_scores', 'member_traits']),
  );
  return { cells, memberScores, traits, associations };
}

function cycleStep(db: Db, job: Job, lines: PurchaseLines): Promise<CycleSummary> {
  const { asOf, timeZone, periodDays } = job;
  return computeCycles(db, { asOf, timeZone, backtestDays: periodDays, lines });
}

async function predictionSteps(
  db: Db,
  job: Job,
): Promise<Omit<PredictionResults, 'cycles'>> {
  const { asOf, timeZone, periodDays, step } = job;
  const calibration = await step('calibration', () =>
    calibrate(db, { asOf, timeZone, windowDays: periodDays }),
  );
  const scores = await step('scores', () => scoreNextBasket(db, { asOf, timeZone, periodDays }));
  await step('statistics', () => analyze(db, ['member_category_cycles']));
  return { calibration, scores };
}

/**
 * Fresh planner statistics for tables just rewritten whole: PGlite has no autovacuum, and
 * PostgreSQL's would come minutes later. Without them the planner takes a selective filter
 * (stage = 'strategic') for a handful of rows and the campaign preview picks nested loops that
 * run 20–30× slower (measured on the demo chain). Each chain analyses its own tables at its end.
 */
async function analyze(db: Db, tables: readonly string[]): Promise<void> {
  await sql`analyze ${sql.join(tables.map((t) => sql.table(t)))}`.execute(db);
}

/**
 * Runs `a` and `b` in a transaction each, on connections of their own, and commits both only when
 * both have succeeded: the one that finishes first holds its transaction open until the other is
 * done, and rolls back when the other fails (`onFailure` is told at once, so the other can stop
 * early). `begin` opens each transaction (`lead` true for `a`'s, which `b` waits for: the job's
 * lock is taken there before either chain touches a table). The two commits follow each other
 * within milliseconds; only a failure of the second commit itself (the connection lost in
 * between) could still leave one chain's tables new and the other's old, which list generation
 * detects (the tables' `as_of` differ) and refuses.
 *
 * The chains must not touch each other's tables: each holds the exclusive lock of every table it
 * replaced until the common commit, so a read of it from the other chain would wait for ever.
 */
async function commitTogether<A, B>(
  db: Db,
  begin: (tx: Db, lead: boolean) => Promise<void>,
  a: (tx: Db) => Promise<A>,
  b: (tx: Db) => Promise<B>,
  onFailure: (error: unknown) => void,
): Promise<[A, B]> {
  let arrived = 0;
  const led = latch();
  const done = latch();
  const run = <T>(lead: boolean, fn: (tx: Db) => Promise<T>) =>
    db.transaction().execute(async (tx) => {
      let value: T;
      try {
        if (!lead) await led.promise;
        await begin(tx, lead);
        if (lead) led.open();
        value = await fn(tx);
      } catch (error) {
        onFailure(error);
        led.fail(error);
        done.fail(error);
        throw error;
      }
      if (++arrived === 2) done.open();
      await done.promise; // rejects with the other chain's error: this one rolls back
      return value;
    });
  const [ra, rb] = await Promise.allSettled([run(true, a), run(false, b)]);
  // The first failure is the one both report (the other rolled back because of it).
  if (ra.status === 'rejected') throw ra.reason;
  if (rb.status === 'rejected') throw rb.reason;
  return [ra.value, rb.value];
}

/** A promise opened or failed from outside; unobserved failures are not reported. */
function latch(): { promise: Promise<void>; open: () => void; fail: (error: unknown) => void } {
  let open!: () => void;
  let fail!: (error: unknown) => void;
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  promise.catch(() => {});
  return { promise, open, fail };
}

/**
 * Opens a transaction of the job. The lead one takes the analytics lock (analytics/repo.ts):
 * the job waits for readers that span its tables in one transaction (the list job) to finish,
 * and they wait for it, before any table is replaced; otherwise such a reader holding a table of
 * one chain while waiting for a table of the other would wait for ever on a chain that waits for
 * its partner. Then a bound on every other lock wait, so that any such cycle this does not
 * foresee fails the job (and frees its tables) instead of hanging it.
 */
async function beginJob(tx: Db, lead: boolean): Promise<void> {
  if (lead) await lockAnalytics(tx, 'write');
  await sql`set local lock_timeout = ${sql.lit(LOCK_TIMEOUT)}`.execute(tx);
}

/** Longest wait for a table's lock once the job runs (PostgreSQL interval text). */
const LOCK_TIMEOUT = '5min';

/**
 * One analyse at a time per process: the nightly cron, the CLI and POST /v1/jobs/analyse share it.
 * A second request while one runs gets the running one's promise only if it asks for the same
 * instant; otherwise it is refused (the caller answers 409).
 */
export class AnalyseRunner {
  private running: { asOf: number; promise: Promise<AnalyseSummary> } | null = null;

  constructor(private readonly deps: { db: Db; logger: Logger }) {}

  get busy(): boolean {
    return this.running !== null;
  }

  /** `job` is the work itself (the analytics; tests pass their own to hold the runner busy). */
  run(opts: AnalyseJobOptions, job = runAnalyse): Promise<AnalyseSummary> | null {
    if (this.running) {
      return this.running.asOf === opts.asOf.getTime() ? this.running.promise : null;
    }
    const promise = job(this.deps, opts).finally(() => {
      this.running = null;
    });
    this.running = { asOf: opts.asOf.getTime(), promise };
    return promise;
  }
}
