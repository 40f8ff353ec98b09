/**
 * Analytics benchmark (issue 5: the whole nightly analyse job) on real
 * PostgreSQL, with a simulated chain loaded through the importers:
 *
 *   baseline  `select member_id, gtin, count(*) from basket_lines group by member_id, gtin`, once
 *             fetched by the app's client and once counted on the server, in the same run
 *   analyse   runAnalyse — 9-cells, member scores, traits, associations, cycles (with the back-test
 *             snapshot), calibration, next-basket scores — as of 14 days before the end of the history
 *
 * and the quality of what they predict on the 14 held-out days:
 *   - next basket (the measure): Recall@10 and NDCG@10 of the ranking against P-TopFreq on
 *     each member's LAST basket, ranked from the history strictly before its day (evaluateLastBaskets:
 *     the prediction chain once per day of the final 14), for members whose last basket falls in
 *     those days (target ≥ 1.10× P-TopFreq), and against TIFU-KNN (tifu-knn.ts) on the same baskets;
 *     also, as before, on each member's first basket after the common cutoff, where the model does
 *     not know the basket's day;
 *   - timing: MAE in days of our next expected date against the truth-known oracle (the same
 *     renewal formula with the simulator's true mean gap / share of wallet and shape), and of both
 *     against the day the product was really bought next.
 *
 *   npm run bench -- analytics [--members 10000] [--weeks 18] [--stores 8] [--seed 42]
 *                              [--end 2026-10-31] [--repeat 3] [--reuse] [--keep]
 *
 * --reuse keeps the loaded chain between runs (database bench_analytics, reloaded when the options
 * differ); --keep leaves it afterwards. Without DATABASE_URL it re-runs itself under
 * `.ci/with-postgres` (a throwaway server; --reuse then only saves a reload within that run).
 */
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { runAnalyse, type AnalyseSummary } from '../../src/jobs/analyse.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { defaultRuleSet } from '../../src/rules/rule-set.ts';
import {
  evaluateLastBaskets,
  evaluateNextBasket,
  heldOutBasketSql,
  lastBasketSql,
  type NextBasketEvaluation,
} from '../../src/analytics/rank-evaluation.ts';
import { textArray, type Db } from '../../src/db/index.ts';
import { generateChain, parseDate, type SimOptions } from '../../src/sim/index.ts';
import { benchChainArgs, benchChainOptions, rerunUnderPostgres, withBenchChain } from './support.ts';
import { loadHistories, rankingTable, TIFU_KNN_GRID, tunedTifuKnn, type TunedTifuKnn } from './tifu-knn.ts';

const DATABASE = 'bench_analytics';
const TZ = 'America/New_York';
const TARGETS = { timeRatio: 3, recallRatio: 1.1 } as const;
const HOLDOUT_DAYS = 14;
const TIFU = 'TIFU-KNN';

const seconds = (start: number) => (performance.now() - start) / 1000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (x: number, digits = 3) => x.toFixed(digits);

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: benchChainOptions,
  });
  const { sim: opts, repeat, reuse, keep } = benchChainArgs(values);

  const adminUrl = process.env.DATABASE_URL ?? (await rerunUnderPostgres('analytics', args));
  await withBenchChain(
    adminUrl,
    { name: DATABASE, sim: opts, reuse, keep },
    ({ db, version, load }) => measure(db, opts, repeat, version, load),
  );
}

async function measure(
  db: Db,
  opts: SimOptions,
  repeat: number,
  version: string,
  load: { seconds: number; lines: number } | null,
): Promise<void> {
  const counts = await sql<{ lines: number; members: number; baskets: number }>`
    select (select count(*) from basket_lines)::int as lines,
      (select count(*) from members where id <> 0)::int as members,
      (select count(*) from baskets)::int as baskets`.execute(db);
  const { lines, members, baskets } = counts.rows[0]!;
  // Midnight (chain time) 14 days before the day after the history ends: 14 held-out days.
  const asOfRow = await sql<{ as_of: Date }>`
    select ((${opts.endDate}::date + 1 - ${HOLDOUT_DAYS}::int)::timestamp at time zone ${TZ}) as as_of`.execute(db);
  const asOf = new Date(asOfRow.rows[0]!.as_of);

  // Baseline: one GROUP BY pass, fetched (what the app pays) and counted on the server only.
  const baselineFetched: number[] = [];
  const baselineServer: number[] = [];
  await sql`select member_id, gtin, count(*) from basket_lines group by member_id, gtin`.execute(db); // warm-up
  for (let i = 0; i < repeat; i++) {
    let t = performance.now();
    await sql`select member_id, gtin, count(*) from basket_lines group by member_id, gtin`.execute(db);
    baselineFetched.push(seconds(t));
    t = performance.now();
    await sql`select count(*) from (select member_id, gtin, count(*) from basket_lines group by member_id, gtin) g`.execute(db);
    baselineServer.push(seconds(t));
  }

  // The full nightly job (runAnalyse: cells, member scores, traits, associations, cycles,
  // calibration, scores), timed whole and per step.
  const steps: Record<string, number[]> = { total: [] };
  let summary: AnalyseSummary | undefined;
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    summary = await runAnalyse(
      { db, logger: silentLogger },
      { asOf, timeZone: TZ, rules: defaultRuleSet, periodDays: HOLDOUT_DAYS },
    );
    steps.total!.push(seconds(t0));
    for (const [name, ms] of Object.entries(summary.timingsMs)) (steps[name] ??= []).push(ms / 1000);
  }
  const cycleSummary = summary!.cycles;
  const calibration = summary!.calibration;

  const nb = await evaluateNextBasket(db, {
    asOf,
    k: 10,
    horizonDays: HOLDOUT_DAYS,
    references: await truthReferences(db, opts, { kind: 'cutoff', asOf, asOfDate: cycleSummary.asOfDate }),
  });
  const timing = await timingErrors(db, asOf);
  // The evaluation: each member's last basket, predicted as of its own day.
  const endRow = await sql<{ end: Date }>`
    select ((${opts.endDate}::date + 1)::timestamp at time zone ${TZ}) as end`.execute(db);
  const to = new Date(endRow.rows[0]!.end);
  // TIFU-KNN, the other baseline the issue names: each member's history before the day of their
  // last basket, as the model's (neighbours' histories too, each to its own day: a few days more
  // than the member predicted may know, which can only help the baseline); parameters tuned on
  // each member's basket before the held-out one.
  const tifuStart = performance.now();
  const histories = await loadHistories(db, sql`
    select member_id, (day::timestamp at time zone ${TZ}) as cutoff from (${lastBasketSql(to, TZ)}) l`);
  const tifu = tunedTifuKnn(histories, 10, TIFU_KNN_GRID);
  const tifuSeconds = seconds(tifuStart);
  const t1 = performance.now();
  const last = await evaluateLastBaskets(db, {
    from: asOf,
    to,
    timeZone: TZ,
    k: 10,
    score: { periodDays: HOLDOUT_DAYS },
    references: {
      [TIFU]: await rankingTable(db, 'bench_tifu_knn', tifu.rankings),
      ...(await truthReferences(db, opts, { kind: 'last', from: asOf, to })),
    },
  });
  const lastSeconds = seconds(t1);
  await sql`drop table if exists bench_latent_due, bench_tifu_knn`.execute(db);

  const total = median(steps.total!);
  const fetched = median(baselineFetched);
  const server = median(baselineServer);
  console.log('');
  console.log(`analytics bench (the full nightly analyse job) — PostgreSQL ${version}`);
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`);
  console.log(`chain: seed ${opts.seed}, ${members.toLocaleString('en-US')} members, ${opts.stores} stores, ${opts.weeks} weeks to ${opts.endDate}: ${baskets.toLocaleString('en-US')} baskets, ${lines.toLocaleString('en-US')} lines` +
    (load ? ` (loaded in ${fmt(load.seconds, 1)} s)` : ' (reused)'));
  console.log(`as of ${asOf.toISOString()} (${cycleSummary.asOfDate} 00:00 ${TZ}); ${HOLDOUT_DAYS} days held out; medians of ${repeat} run(s)`);
  console.log('');
  console.log(`  baseline GROUP BY member_id, gtin, rows fetched   ${fmt(fetched)} s`);
  console.log(`  baseline GROUP BY member_id, gtin, server only    ${fmt(server)} s`);
  const detail: Record<string, string> = {
    lines: 'members\' lines joined to local day, category, brand (a temp table per chain, dropped at its commit)',
    cells: `${summary!.cells.rows.toLocaleString('en-US')} member × categories`,
    cycles: `${cycleSummary.memberProducts.toLocaleString('en-US')} member × products, ${cycleSummary.memberCategories.toLocaleString('en-US')} member × categories (+ back-test snapshot)`,
    calibration: `${calibration.bins} bins in ${calibration.strata} strata from ${calibration.pairs.toLocaleString('en-US')} back-tested pairs`,
    associations: `${summary!.associations.pairs} category pairs`,
  };
  const stepSum = Object.entries(steps).reduce((t, [name, xs]) => (name === 'total' ? t : t + median(xs)), 0);
  if (stepSum > 1.05 * total) {
    console.log(`  (two connections: the member steps ran beside cycles → calibration → scores; the steps add up to ${fmt(stepSum)} s)`);
  }
  for (const [name, xs] of Object.entries(steps)) {
    if (name === 'total') continue;
    console.log(`  ${name.padEnd(48)}  ${fmt(median(xs))} s  ${detail[name] ?? ''}`);
  }
  console.log(`  ${'analyse total'.padEnd(48)}  ${fmt(total)} s`);
  console.log('');
  for (const [label, base] of [['fetched', fetched], ['server-only', server]] as const) {
    const ratio = total / base;
    console.log(`target: full analytics ≤ ${TARGETS.timeRatio}× the ${label} baseline: ${fmt(ratio, 2)}×  ${ratio <= TARGETS.timeRatio ? 'PASS' : 'MISS'}`);
  }
  console.log('');
  console.log(`calibration back-test: mean raw probability ${fmt(calibration.meanRawProb)} vs observed ${fmt(calibration.observedRate)}; Brier ${fmt(calibration.brierRaw)} raw → ${fmt(calibration.brierCalibrated)} calibrated (in-sample)`);
  console.log(`held-out calibration (next ${HOLDOUT_DAYS} days, by decile of calibrated probability): max |predicted − observed| ${fmt(timing.calibrationMaxError)}`);
  console.log('');
  console.log(`next basket = each member's LAST basket, ranked from the history before its day (the issue's measure):`);
  console.log(`  ${last.membersInWindow.toLocaleString('en-US')} of ${last.membersWithBaskets.toLocaleString('en-US')} members have their last basket in the final ${HOLDOUT_DAYS} days (the others, lapsed, are not evaluated); ${last.days} days, one prediction chain as of each day's midnight (${fmt(lastSeconds, 1)} s${last.calibrated ? '' : ', NOT calibrated'}); baskets earlier on the same day are not in the history`);
  printRanking(last, { tifu, seconds: tifuSeconds });
  const recallRatio = last.model.recall / last.topFreq.recall;
  console.log(`target: Recall@10 ≥ ${TARGETS.recallRatio}× P-TopFreq: ${fmt(recallRatio, 3)}×  ${recallRatio >= TARGETS.recallRatio ? 'PASS' : 'MISS'}`);
  console.log('');
  console.log(`for comparison, each member's FIRST basket after the common cutoff (ranked as of the cutoff, the basket's day unknown):`);
  printRanking(nb);
  console.log('');
  console.log(`timing (member × products in the truth, members not churning, products not given up):`);
  console.log(`  next_expected_date vs the oracle's (last + true mean / share of wallet), ${timing.pairs.toLocaleString('en-US')} pairs: MAE ${fmt(timing.expectedVsOracle, 2)} days, median ${fmt(timing.expectedVsOracleMedian, 1)} (vs last + true mean: MAE ${fmt(timing.expectedVsTruthMean, 2)})`);
  console.log(`  predicted date vs the day really bought next, ${timing.boughtPairs.toLocaleString('en-US')} pairs bought in the held-out days: MAE model ${fmt(timing.modelVsActual, 2)} days, oracle ${fmt(timing.oracleVsActual, 2)} days`);
  console.log('note: absolute times drift between machines and runs; ratios compare work measured in the same run on the same server.');
}

function printRanking(nb: NextBasketEvaluation, baseline?: { tifu: TunedTifuKnn; seconds: number }): void {
  console.log(`  ${nb.members.toLocaleString('en-US')} members evaluated (with a history); mean basket ${fmt(nb.basketSize, 1)} products, ${fmt(100 * nb.seenBefore, 1)}% bought before`);
  console.log(`  Recall@10  model ${fmt(nb.model.recall, 4)}  P-TopFreq ${fmt(nb.topFreq.recall, 4)}  ratio ${fmt(nb.model.recall / nb.topFreq.recall)}`);
  console.log(`  NDCG@10    model ${fmt(nb.model.ndcg, 4)}  P-TopFreq ${fmt(nb.topFreq.ndcg, 4)}  ratio ${fmt(nb.model.ndcg / nb.topFreq.ndcg)}`);
  const t = nb.references[TIFU];
  if (baseline && t) {
    const p = baseline.tifu.params;
    console.log(`  TIFU-KNN   Recall@10 ${fmt(t.recall, 4)}  NDCG@10 ${fmt(t.ndcg, 4)}; model / TIFU-KNN: Recall ${fmt(nb.model.recall / t.recall)}, NDCG ${fmt(nb.model.ndcg / t.ndcg)}`);
    console.log(`    (Hu et al. 2020, tuned over ${TIFU_KNN_GRID.length} settings on each member's basket before the held-out one; best: group ${p.groupSize}, r_b ${p.withinDecay}, r_g ${p.groupDecay}, K ${p.neighbours}, α ${p.alpha}, validation Recall@10 ${fmt(baseline.tifu.validationRecall, 4)}; ${fmt(baseline.seconds, 1)} s)`);
  }
  const d = nb.disagreement;
  console.log(`  where they differ: ${d.slots.toLocaleString('en-US')} of the model's top-10 slots (${fmt(100 * d.shareOfSlots, 1)}%) hold another product; bought: model's ${fmt(100 * d.modelHitRate, 1)}%, P-TopFreq's ${fmt(100 * d.topFreqHitRate, 1)}%`);
  const variants = 'variants' in nb ? Object.entries(nb.variants as Record<string, { recall: number; ndcg: number }>) : [];
  for (const [name, r] of variants) {
    console.log(`    ${name.padEnd(62)} Recall@10 ${fmt(r.recall, 4)} (${fmt(r.recall / nb.topFreq.recall)}×)  NDCG@10 ${fmt(r.ndcg, 4)} (${fmt(r.ndcg / nb.topFreq.ndcg)}×)`);
  }
  console.log(`  upper references, fitted on the held-out baskets themselves with the simulator's truth (not models):`);
  for (const [name, r] of Object.entries(nb.references)) {
    if (name === TIFU) continue;
    console.log(`    ${name.padEnd(62)} Recall@10 ${fmt(r.recall, 4)} (${fmt(r.recall / nb.topFreq.recall)}×)  NDCG@10 ${fmt(r.ndcg, 4)} (${fmt(r.ndcg / nb.topFreq.ndcg)}×)`);
  }
}

/** Where the held-out baskets are: the common cutoff, or each member's last basket in [from, to). */
type HeldOut = { kind: 'cutoff'; asOf: Date; asOfDate: string } | { kind: 'last'; from: Date; to: Date };

/**
 * How far could any ranking of a member's own products go on these baskets? Two references that
 * know more than a model can, each the held-out purchase rate of its cell of member × products
 * (fitted in-sample on the evaluated baskets, so optimistic), ties by basket share:
 *   - truth parameters: basket share × staple or not × the true mean gap × elapsed / true mean gap
 *     × share of wallet — every parameter of the member's rhythm, known exactly;
 *   - latent due dates: basket share × staple × given up × (next due day − today) / trip gap ×
 *     share of wallet — when each staple really falls due, which no basket shows (the simulator's
 *     state on the day predicted, from a replay of the member's trips before it).
 * The first bounds what better estimates of the cycle could add; the gap between the two is the
 * renewal noise that the history cannot reveal. "Today" is the common cutoff, or for last baskets
 * the member's own day (their cycles as of it: evaluateLastBaskets' eval_cycles and eval_last).
 */
async function truthReferences(
  db: Db,
  opts: SimOptions,
  heldOut: HeldOut,
): Promise<Record<string, ReturnType<typeof sql>>> {
  // Each member's "today": the cutoff's, or the day of their last basket.
  let todayOf: (memberNumber: string) => number | undefined;
  if (heldOut.kind === 'cutoff') {
    const today = parseDate(heldOut.asOfDate);
    todayOf = () => today;
  } else {
    const { rows } = await sql<{ member_number: string; day: string }>`
      select m.member_number, e.day::text as day
      from (${lastBasketSql(heldOut.to, TZ)}) e join members m on m.id = e.member_id
      where e.ts >= ${heldOut.from.toISOString()}::timestamptz`.execute(db);
    const days = new Map(rows.map((r) => [r.member_number, parseDate(r.day)]));
    todayOf = (memberNumber) => days.get(memberNumber);
  }
  const chain = generateChain(opts);
  const member: string[] = [];
  const gtin: string[] = [];
  const dueIn: number[] = [];
  const tripDays: number[] = [];
  const givenUp: boolean[] = [];
  for (const m of chain.members()) {
    const today = todayOf(m.memberNumber);
    if (today === undefined) continue;
    const sim = chain.simulator(m);
    while (sim.nextVisitInto(today - 1) !== null) {
      // trips before the member's day
    }
    for (const p of sim.dueDays()) {
      member.push(m.memberNumber);
      gtin.push(p.gtin);
      dueIn.push(p.dueDay - today);
      tripDays.push(m.truth.tripMeanDays);
      givenUp.push(p.abandonedOnDay !== null && p.abandonedOnDay <= today);
    }
  }
  await sql`drop table if exists bench_latent_due`.execute(db);
  await sql`
    create table bench_latent_due as
    select m.id as member_id, lpad(u.gtin, 14, '0')::char(14) collate "C" as gtin, u.due_in::float8 as due_in,
      u.trip_days::float8 as trip_days, u.given_up::boolean as given_up
    from unnest(${textArray(member)}, ${textArray(gtin)}, ${textArray(dueIn)}, ${textArray(tripDays)},
      ${textArray(givenUp)}) as u(member_number, gtin, due_in, trip_days, given_up)
    join members m on m.member_number = u.member_number`.execute(db);
  await sql`analyze bench_latent_due`.execute(db);

  // The held-out products, the members' cycles and their "today", for either evaluation.
  const src =
    heldOut.kind === 'cutoff'
      ? {
          with: sql`with held as (${heldOutBasketSql(heldOut.asOf, HOLDOUT_DAYS)})`,
          cycles: sql`member_product_cycles c`,
          today: sql`${heldOut.asOfDate}::date`,
        }
      : {
          with: sql`with held as (select * from eval_held)`,
          cycles: sql`eval_cycles c join eval_last e on e.member_id = c.member_id`,
          today: sql`e.day`,
        };
  const shareBin = sql`width_bucket(c.basket_share, array[0.02, 0.04, 0.06, 0.08, 0.1, 0.13, 0.16, 0.2,
    0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]::float8[])`;
  const sowBin = sql`width_bucket(t.share_of_wallet, array[0.4, 0.6, 0.8]::float8[])`;
  const elapsed = sql`(${src.today} - c.last_purchase_date)::float8`;
  const byCell = (cell: ReturnType<typeof sql>) => sql`
    ${src.with}
    select member_id, gtin, row_number() over (
      partition by member_id order by p desc, basket_share desc, last_purchase_date desc, gtin) as rank
    from (
      select f.*, avg(y) over (partition by cell) as p
      from (
        select c.member_id, c.gtin, c.basket_share, c.last_purchase_date,
          (h.gtin is not null)::int as y, ${cell} as cell
        from ${src.cycles}
        join sim_member_truth t on t.member_id = c.member_id
        left join sim_member_product_truth pt on pt.member_id = c.member_id and pt.gtin = c.gtin
        left join bench_latent_due ld on ld.member_id = c.member_id and ld.gtin = c.gtin
        left join held h on h.member_id = c.member_id and h.gtin = c.gtin
        where c.member_id in (select member_id from held)
      ) f
    ) g`;
  return {
    'truth parameters (staple, true gap, elapsed / gap, wallet)': byCell(sql`concat_ws('/',
      ${shareBin}, pt.gtin is not null, width_bucket(coalesce(pt.mean_gap_days, 0), array[8, 12, 16, 24, 32, 48]::float8[]),
      width_bucket(${elapsed} / coalesce(pt.mean_gap_days, c.mean_gap_days), array[0.25, 0.5, 0.75, 1, 1.5, 2]::float8[]),
      ${sowBin})`),
    'latent due dates (when each staple falls due; unobservable)': byCell(sql`concat_ws('/',
      ${shareBin}, ld.gtin is not null, coalesce(ld.given_up, false),
      width_bucket(coalesce(ld.due_in / ld.trip_days, 99), array[-1, 0, 0.5, 1, 1.5, 2, 3, 4]::float8[]),
      ${sowBin})`),
  };
}

interface TimingErrors {
  pairs: number;
  expectedVsOracle: number;
  expectedVsOracleMedian: number;
  expectedVsTruthMean: number;
  boughtPairs: number;
  modelVsActual: number;
  oracleVsActual: number;
  calibrationMaxError: number;
}

/**
 * The oracle knows each pair's true mean gap and shape; at the chain the gap runs about
 * 1 / share of wallet longer (purchases elsewhere), so its rhythm is truth / share of wallet.
 * "Predicted date" is E[next purchase | none since the last] for both (cadence_expected_gap).
 */
async function timingErrors(db: Db, asOf: Date): Promise<TimingErrors> {
  const at = sql`${asOf.toISOString()}::timestamptz`;
  const { rows } = await sql<Omit<TimingErrors, 'calibrationMaxError'>>`
    with today as (select (${at} at time zone ${TZ})::date as d),
    next_buy as (
      select l.member_id, l.gtin, min((b.ts at time zone ${TZ})::date) as day
      from basket_lines l join baskets b on b.member_id = l.member_id and b.id = l.basket_id
      where b.ts >= ${at} and b.ts < ${at} + make_interval(days => ${HOLDOUT_DAYS}) and l.qty > 0
      group by 1, 2
    ),
    pairs as materialized (
      select c.last_purchase_date, c.next_expected_date, c.mean_gap_days, c.gap_shape,
        (today.d - c.last_purchase_date)::float8 as elapsed,
        pt.mean_gap_days::float8 / t.share_of_wallet as oracle_mean, pt.mean_gap_days::float8 as truth_mean,
        pt.gap_shape::float8 as truth_shape, n.day as bought_on
      from member_product_cycles c
      cross join today
      join sim_member_product_truth pt on pt.member_id = c.member_id and pt.gtin = c.gtin
      join sim_member_truth t on t.member_id = c.member_id
      left join next_buy n on n.member_id = c.member_id and n.gtin = c.gtin
      where pt.abandoned_on is null and t.churn_onset_date is null
    ),
    predicted as (
      select p.*, p.last_purchase_date + round(cadence_expected_gap(elapsed, mean_gap_days, gap_shape))::int as model_date,
        p.last_purchase_date + round(cadence_expected_gap(elapsed, oracle_mean, truth_shape))::int as oracle_date
      from pairs p
    )
    select count(*)::int as pairs,
      avg(abs(next_expected_date - (last_purchase_date + round(oracle_mean)::int)))::float8 as "expectedVsOracle",
      percentile_cont(0.5) within group (order by abs(next_expected_date - (last_purchase_date + round(oracle_mean)::int))) as "expectedVsOracleMedian",
      avg(abs(next_expected_date - (last_purchase_date + round(truth_mean)::int)))::float8 as "expectedVsTruthMean",
      count(bought_on)::int as "boughtPairs",
      avg(abs(model_date - bought_on))::float8 as "modelVsActual",
      avg(abs(oracle_date - bought_on))::float8 as "oracleVsActual"
    from predicted`.execute(db);

  // Held-out calibration of the stored probabilities (top 50 per member).
  const cal = await sql<{ err: number }>`
    with bought as (
      select distinct l.member_id, l.gtin
      from basket_lines l join baskets b on b.member_id = l.member_id and b.id = l.basket_id
      where b.ts >= ${at} and b.ts < ${at} + make_interval(days => ${HOLDOUT_DAYS}) and l.qty > 0
    ),
    d as (
      select s.prob, (b.gtin is not null)::int as y, ntile(10) over (order by s.prob) as decile
      from member_product_scores s left join bought b on b.member_id = s.member_id and b.gtin = s.gtin
    )
    select max(abs(p - o))::float8 as err from (select avg(prob) as p, avg(y) as o from d group by decile) x`.execute(db);
  return { ...rows[0]!, calibrationMaxError: cal.rows[0]!.err };
}
