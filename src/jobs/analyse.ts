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
import { deferReplacements, swapReplaced } from '../analytics/replace-rows.ts';
import { preparePurchaseLines, type PurchaseLines } from '../analytics/purchase-lines.ts';
import type { RuleSet } from '../rules/rule-set.ts';
import { HEARTBEAT_MS, JobRunner, type RunningJob, type TrackedJob } from './job-runs.ts';

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
  /**
   * Runs in the job's last transaction once every step has succeeded and the tables are in place,
   * just before the commit (the run's record: job-runs.ts); its failure fails the job.
   */
  finish?: (tx: Db, summary: AnalyseSummary) => Promise<void>;
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
 * `asOf` gives the same rows. Readers keep reading the last run's rows meanwhile: tables replaced
 * whole are built beside the live ones and moved into place just before the commit
 * (replace-rows.ts, swapTogether), so a reader waits milliseconds, not for the job; the others are
 * rewritten by `delete` and insert, which readers do not wait for.
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
  const summarize = (members: MemberResults, predictions: PredictionResults): AnalyseSummary => {
    const timingsMs: Record<string, number> = {};
    for (const name of STEPS) if (timings[name] !== undefined) timingsMs[name] = timings[name];
    return { asOf: opts.asOf.toISOString(), ...members, ...predictions, timingsMs };
  };
  let summary: AnalyseSummary;
  if (connections === 1) {
    summary = await db.transaction().execute(async (tx) => {
      await beginJob(tx, true);
      const [m, cycles] = await withLines(tx, job, async (lines) => [
        await memberSteps(tx, job, lines),
        await job.step('cycles', () => cycleStep(tx, job, lines)),
      ] as const);
      const done = summarize(m, { cycles, ...(await predictionSteps(tx, job)) });
      // One transaction: PostgreSQL sees every wait of the swap, and breaks any deadlock itself.
      await swapReplaced(tx);
      await opts.finish?.(tx, done);
      return done;
    });
  } else {
    const finish = opts.finish;
    const [members, predictions] = await commitTogether(
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
      { logger, now },
      finish && ((tx, m, p) => finish(tx, summarize(m, p))),
    );
    summary = summarize(members, predictions);
  }
  logger.info('analyse done', {
    asOf: summary.asOf,
    members: summary.memberScores.members,
    qualified: summary.memberScores.qualified,
    memberProducts: summary.cycles.memberProducts,
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
  await step('statistics', () =>
    analyze(db, ['member_category_cycles', 'member_product_cycles', 'member_product_scores']),
  );
  return { calibration, scores };
}

/**
 * Fresh planner statistics for tables just rewritten whole (a table replaceRows built has none
 * at all): PGlite has no autovacuum, and PostgreSQL's would come minutes later. Without them the
 * planner takes a selective filter (stage = 'strategic') for a handful of rows and the campaign
 * preview picks nested loops that run 20–30× slower (measured on the demo chain). Each chain
 * analyses its own tables at its end.
 */
async function analyze(db: Db, tables: readonly string[]): Promise<void> {
  await sql`analyze ${sql.join(tables.map((t) => sql.table(t)))}`.execute(db);
}

/**
 * Runs `a` and `b` in a transaction each, on connections of their own, and commits both only when
 * both have succeeded: the one that finishes first holds its transaction open until the other is
 * done, and rolls back when the other fails (`onFailure` is told at once, so the other can stop
 * early). `begin` opens each transaction (`lead` true for `a`'s, which `b` waits for: the job's
 * lock is taken there before either chain touches a table). Once both are done, each moves the
 * tables it replaced into place (swapTogether) and both commit, within milliseconds of each
 * other; only a failure of the second commit itself (the connection lost in between) could still
 * leave one chain's tables new and the other's old, which list generation detects (the tables'
 * `as_of` differ) and refuses.
 *
 * The chains must not touch each other's tables: each holds the locks of what it wrote until the
 * common commit, so a read of it from the other chain could wait for ever.
 */
async function commitTogether<A, B>(
  db: Db,
  begin: (tx: Db, lead: boolean) => Promise<void>,
  a: (tx: Db) => Promise<A>,
  b: (tx: Db) => Promise<B>,
  onFailure: (error: unknown) => void,
  swap: { logger: Logger; now: () => number },
  finish?: (tx: Db, a: A, b: B) => Promise<void>,
): Promise<[A, B]> {
  let arrived = 0;
  const led = latch();
  const done = latch();
  const finished = latch();
  const rounds = votes();
  const values: { a?: A; b?: B } = {};
  const run = <T>(lead: boolean, fn: (tx: Db) => Promise<T>) =>
    db.transaction().execute(async (tx) => {
      try {
        if (!lead) await led.promise;
        await begin(tx, lead);
        if (lead) led.open();
        const value = await fn(tx);
        if (lead) values.a = value as unknown as A;
        else values.b = value as unknown as B;
        if (++arrived === 2) done.open();
        await done.promise; // rejects with the other chain's error: this one rolls back
        await swapTogether(tx, rounds, swap.now, lead ? swap.logger : null);
        // The lead finishes (in its transaction) before either commits.
        if (lead) {
          await finish?.(tx, values.a!, values.b!);
          finished.open();
        } else {
          await finished.promise;
        }
        return value;
      } catch (error) {
        onFailure(error);
        for (const l of [led, done, finished]) l.fail(error);
        rounds.fail(error);
        throw error;
      }
    });
  const [ra, rb] = await Promise.allSettled([run(true, a), run(false, b)]);
  // The first failure is the one both report (the other rolled back because of it).
  if (ra.status === 'rejected') throw ra.reason;
  if (rb.status === 'rejected') throw rb.reason;
  return [ra.value, rb.value];
}

/**
 * Both chains move their new tables into place (swapReplaced), in rounds: each drop of a live
 * table waits for that table's readers, and a chain that has moved its tables holds their locks
 * until both commit. A reader that holds a table of one chain and then asks for a table of the
 * other (one query joining cells and scores, say) would otherwise wait for a chain that waits, in
 * JavaScript where PostgreSQL's deadlock detector cannot see it, for the other chain, which waits
 * for that reader: stuck until the job's lock timeout. So each round gives the moves a short
 * lock timeout; when either chain's times out, both roll back to the round's savepoint (releasing
 * the locks it took), pause as long, and try again with a longer timeout, up to SWAP_DEADLINE_MS
 * in all. Readers wait at most about one round's timeout; usually no round fails.
 */
async function swapTogether(
  tx: Db,
  rounds: ReturnType<typeof votes>,
  now: () => number,
  logger: Logger | null,
): Promise<void> {
  const deadline = now() + SWAP_DEADLINE_MS;
  for (let round = 0; ; round++) {
    const waitMs = Math.min(SWAP_WAIT_MS * 2 ** round, SWAP_WAIT_MAX_MS);
    await sql`savepoint swap`.execute(tx);
    await sql`select set_config('lock_timeout', ${`${waitMs}ms`}, true)`.execute(tx);
    let moved = true;
    try {
      await swapReplaced(tx);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== LOCK_NOT_AVAILABLE && code !== DEADLOCK_DETECTED) throw error;
      if (now() > deadline) {
        throw new Error(`analyse: readers held the analytics tables for over ${SWAP_DEADLINE_MS / 1000} s; nothing was replaced`, { cause: error });
      }
      moved = false;
    }
    if (await rounds.vote(round, moved)) return;
    logger?.info('analyse swap round waited for readers; trying again', { round, waitMs });
    await sql`rollback to savepoint swap`.execute(tx);
    await new Promise((resolve) => setTimeout(resolve, waitMs));
  }
}

const LOCK_NOT_AVAILABLE = '55P03';
const DEADLOCK_DETECTED = '40P01';
/** First round's lock timeout, doubled each round up to the maximum. */
const SWAP_WAIT_MS = 100;
const SWAP_WAIT_MAX_MS = 2_000;
const SWAP_DEADLINE_MS = 5 * 60_000;

/**
 * Rounds both chains vote in: `vote(round, ok)` resolves, once both have voted in that round, to
 * whether both voted ok; after `fail(error)` every vote rejects with that error.
 */
function votes() {
  const rounds = new Map<number, { count: number; ok: boolean; all: ReturnType<typeof latch> }>();
  let failure: { error: unknown } | null = null;
  return {
    async vote(round: number, ok: boolean): Promise<boolean> {
      if (failure) throw failure.error;
      let r = rounds.get(round);
      if (!r) rounds.set(round, (r = { count: 0, ok: true, all: latch() }));
      r.ok &&= ok;
      if (++r.count === 2) r.all.open();
      await r.all.promise;
      return r.ok;
    },
    fail(error: unknown): void {
      failure ??= { error };
      for (const r of rounds.values()) r.all.fail(error);
    },
  };
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
 * foresee fails the job (and frees its tables) instead of hanging it. Tables replaced whole are
 * built beside the live ones until the swap (replace-rows.ts).
 */
async function beginJob(tx: Db, lead: boolean): Promise<void> {
  if (lead) await lockAnalytics(tx, 'write');
  await sql`set local lock_timeout = ${sql.lit(LOCK_TIMEOUT)}`.execute(tx);
  await deferReplacements(tx);
}

/** Longest wait for a table's lock once the job runs (PostgreSQL interval text). */
const LOCK_TIMEOUT = '5min';

/** The nightly analyse as a tracked run (job-runs.ts): a start for the same instant joins the running one. */
const analyseJob: TrackedJob<{ db: Db; logger: Logger }, AnalyseJobOptions, AnalyseSummary> = {
  kind: 'analyse',
  asOf: (opts) => opts.asOf,
  result: analyseResult,
  joins: (running, opts) => running.asOf.getTime() === opts.asOf.getTime(),
  run: runAnalyse,
};

/**
 * One analyse at a time per process: the nightly cron, the CLI and POST /v1/jobs/analyse share it.
 * A second request while one runs gets the running one only if it asks for the same instant;
 * otherwise it is refused (the caller answers 409). Each run is recorded (job-runs.ts).
 */
export class AnalyseRunner extends JobRunner<{ db: Db; logger: Logger }, AnalyseJobOptions, AnalyseSummary> {
  constructor(deps: { db: Db; logger: Logger }, heartbeatMs = HEARTBEAT_MS) {
    super(deps, analyseJob, heartbeatMs);
  }
}

export type RunningAnalyse = RunningJob<AnalyseJobOptions, AnalyseSummary>;

/** A run's summary as the API and the run records give it. */
export type AnalyseResult = ReturnType<typeof analyseResult>;

export function analyseResult(s: AnalyseSummary) {
  return {
    asOf: s.asOf,
    members: s.memberScores.members,
    qualified: s.memberScores.qualified,
    keyMembers: s.memberScores.key,
    churnRisk: s.memberScores.churnRisk,
    classifiedCells: s.cells.classified,
    memberProducts: s.cycles.memberProducts,
    calibratedPairs: s.calibration.pairs,
    scoredMembers: s.scores.members,
    associationPairs: s.associations.pairs,
    traits: s.traits.members,
    timingsMs: s.timingsMs,
  };
}
