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
import { dropPurchaseLines, preparePurchaseLines } from '../analytics/purchase-lines.ts';
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
  /** Milliseconds per step, in the order run. */
  timingsMs: Record<string, number>;
}

/**
 * The nightly analytics, in dependency order: the members' scan lines prepared once (joined to
 * their basket's local day and their product's category and brand: purchase-lines.ts) → 9-cells
 * → member scores (need the cells) → traits → associations; repurchase cycles (with the back-test
 * snapshot) → calibration → next-basket scores. Every step replaces its tables in one
 * transaction, so a rerun with the same `asOf` gives the same rows, and a failure halfway leaves
 * each table either as before or fully recomputed. The prepared lines are a temp table: nothing
 * of them outlives the run's connection.
 */
export async function runAnalyse(
  deps: { db: Db; logger: Logger },
  opts: AnalyseJobOptions,
): Promise<AnalyseSummary> {
  // One connection for the whole run: the steps share a temp table of the prepared scan lines.
  return deps.db.connection().execute((db) => analyseOn({ db, logger: deps.logger }, opts));
}

async function analyseOn(
  deps: { db: Db; logger: Logger },
  opts: AnalyseJobOptions,
): Promise<AnalyseSummary> {
  const { db, logger } = deps;
  const { asOf, timeZone, rules } = opts;
  const periodDays = opts.periodDays ?? 14;
  const now = opts.now ?? (() => performance.now());
  const timingsMs: Record<string, number> = {};
  async function step<T>(name: string, run: () => Promise<T>): Promise<T> {
    const t0 = now();
    const result = await run();
    timingsMs[name] = Math.round(now() - t0);
    logger.debug('analyse step done', { step: name, ms: timingsMs[name] });
    return result;
  }
  const lines = await step('lines', () =>
    preparePurchaseLines(db, { asOf, timeZone, scope: 'session' }),
  );
  let cells: CellsSummary;
  let memberScores: MemberScoresSummary;
  let traits: TraitsSummary;
  let associations: AssociationsSummary;
  let cycles: CycleSummary;
  try {
    const base = { asOf, timeZone, settings: rules.settings, lines };
    cells = await step('cells', () => computeCells(db, base));
    memberScores = await step('memberScores', () => computeMemberScores(db, base));
    traits = await step('traits', () =>
      computeTraits(db, { asOf, timeZone, traits: rules.traits, lines }),
    );
    associations = await step('associations', () => computeAssociations(db, base));
    cycles = await step('cycles', () =>
      computeCycles(db, { asOf, timeZone, backtestDays: periodDays, lines }),
    );
  } finally {
    await dropPurchaseLines(db);
  }
  const calibration = await step('calibration', () =>
    calibrate(db, { asOf, timeZone, windowDays: periodDays }),
  );
  const scores = await step('scores', () => scoreNextBasket(db, { asOf, timeZone, periodDays }));
  // Fresh planner statistics for the tables just rewritten whole: PGlite has no autovacuum, and
  // PostgreSQL's would come minutes later. Without them the planner takes a selective filter
  // (stage = 'strategic') for a handful of rows and the campaign preview picks nested loops that
  // run 20–30× slower (measured on the demo chain).
  await step('statistics', async () => {
    await sql`analyze member_category_cells, member_scores, member_traits, member_category_cycles`.execute(db);
  });
  const summary = {
    asOf: asOf.toISOString(),
    cells,
    memberScores,
    traits,
    associations,
    cycles,
    calibration,
    scores,
    timingsMs,
  };
  logger.info('analyse done', {
    asOf: summary.asOf,
    members: memberScores.members,
    qualified: memberScores.qualified,
    memberProducts: cycles.memberProducts,
    ms: Object.values(timingsMs).reduce((a, b) => a + b, 0),
  });
  return summary;
}

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
