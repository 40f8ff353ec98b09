/**
 * The database half of the lists bench (issue 7): the list period job on real PostgreSQL with a
 * simulated chain, and the accuracy of the lists it builds on the simulator's held-out days.
 *
 * One cutoff serves both: the history ends on `end`; the analytics run as of local midnight of
 * `end + 1 − 14` (the cutoff) and the period starts on the cutoff, 14 days long, so the period is
 * exactly the 14 held-out days whose baskets are loaded but unseen by the analytics.
 *
 * Assignment time: runListPeriod (offers for the shipped campaigns, controls, budgets, one list per
 * qualified member) — the period's rows are deleted and the tables vacuumed between repeats, so every
 * repeat does the same work from the same state. Baselines in the same run:
 *   floor      one plain `insert into … select` of one row per qualified member carrying its due-soon
 *              items as jsonb (what writing the lists costs with no offers at all);
 *   group-by   one `select member_id, count(*) from member_category_cells group by member_id` pass,
 *              rows fetched.
 *
 * Accuracy, micro-averaged over the members who got a list:
 *   precision  share of the list's "Due soon" items (lists.content->'dueSoon') the member bought in
 *              the 14 days;
 *   recall     share of the staples the member bought in the 14 days that the list carried. Staples
 *              are the simulator's truth (sim_member_product_truth: products the member repurchases on
 *              a personal rhythm, not given up before the cutoff); a second line uses an observable
 *              definition instead: products bought on ≥ 3 days before the cutoff.
 * next to P-TopFreq lists of the same length per member: the member's products by purchase days
 * before the cutoff, ties by the latest purchase day, then gtin (as in analytics/rank-evaluation.ts).
 */
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { Db } from '../../src/db/index.ts';
import { runAnalyse } from '../../src/jobs/analyse.ts';
import { sha256Hex } from '../../src/lib/hash.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { runListPeriod, type ListPeriodSummary } from '../../src/lists/period.ts';
import { campaignSpec } from '../../src/offers/from-rules.ts';
import { loadRuleFiles } from '../../src/rules/node.ts';
import type { RuleSet } from '../../src/rules/rule-set.ts';
import type { SimOptions } from '../../src/sim/index.ts';
import { withBenchChain } from './support.ts';

const DATABASE = 'bench_lists';
const TZ = 'America/New_York';
const HOLDOUT_DAYS = 14;
const OBSERVED_STAPLE_DAYS = 3;

const seconds = (start: number) => (performance.now() - start) / 1000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (x: number, digits = 3) => x.toFixed(digits);
const int = (n: number) => n.toLocaleString('en-US');

export interface PeriodBenchOptions {
  sim: SimOptions;
  repeat: number;
  reuse: boolean;
  keep: boolean;
}

/** Needs DATABASE_URL (an admin connection); creates, loads and (unless kept) drops `bench_lists`. */
export async function periodBench(adminUrl: string, root: string, o: PeriodBenchOptions): Promise<void> {
  await withBenchChain(adminUrl, { name: DATABASE, sim: o.sim, reuse: o.reuse, keep: o.keep }, async ({ db, version, load }) => {
    const rules = await loadRuleFiles(join(root, 'rules'));
    await measure(db, rules, o, version, load?.seconds ?? null);
  });
}

/** Removes everything a build of `periodStart` wrote, so the next build starts from the same state. */
async function clearPeriod(db: Db, periodStart: string): Promise<void> {
  await sql`delete from offers where period_start = ${periodStart}::date`.execute(db);
  await sql`delete from lists where period_start = ${periodStart}::date`.execute(db);
  await sql`delete from list_periods where period_start = ${periodStart}::date`.execute(db);
  await sql`delete from campaign_terms`.execute(db);
  await sql`vacuum analyze offers, lists, list_periods, campaign_terms`.execute(db);
}

async function measure(db: Db, rules: RuleSet, o: PeriodBenchOptions, version: string, load: number | null) {
  const { sim, repeat } = o;
  const l = rules.settings.lists;
  const counts = (
    await sql<{ lines: number; members: number; baskets: number }>`
      select (select count(*) from basket_lines)::int as lines,
        (select count(*) from members where id <> 0)::int as members,
        (select count(*) from baskets)::int as baskets`.execute(db)
  ).rows[0]!;
  const cutoff = (
    await sql<{ d: string; at: Date }>`
      select to_char(${sim.endDate}::date + 1 - ${HOLDOUT_DAYS}::int, 'YYYY-MM-DD') as d,
        ((${sim.endDate}::date + 1 - ${HOLDOUT_DAYS}::int)::timestamp at time zone ${TZ}) as at`.execute(db)
  ).rows[0]!;
  const asOf = new Date(cutoff.at);
  const periodStart = cutoff.d;

  let t = performance.now();
  const analyse = await runAnalyse({ db, logger: silentLogger }, { asOf, timeZone: TZ, rules, periodDays: HOLDOUT_DAYS });
  const analyseSeconds = seconds(t);
  const qualified = analyse.memberScores.qualified;

  // Baselines, warmed once, then `repeat` times each.
  const floorSql = sql`
    insert into bench_list_floor (member_id, content)
    select q.member_id, jsonb_build_object('dueSoon', coalesce((
        select jsonb_agg(jsonb_build_object('gtin', s.gtin, 'predictedDate', s.predicted_date,
                 'probability', round(s.prob::numeric, 4)) order by s.rank)
        from member_product_scores s where s.member_id = q.member_id and s.rank <= ${l.dueSoonItems}), '[]'::jsonb))
    from member_scores q where q.qualified`;
  await sql`drop table if exists bench_list_floor`.execute(db);
  await sql`create table bench_list_floor (id bigserial primary key, member_id bigint not null, content jsonb not null)`.execute(db);
  const floor: number[] = [];
  const groupBy: number[] = [];
  for (let i = 0; i <= repeat; i++) {
    await sql`truncate bench_list_floor`.execute(db);
    t = performance.now();
    await floorSql.execute(db);
    if (i > 0) floor.push(seconds(t));
    t = performance.now();
    await sql`select member_id, count(*) from member_category_cells group by member_id`.execute(db);
    if (i > 0) groupBy.push(seconds(t));
  }
  await sql`drop table bench_list_floor`.execute(db);

  const rulesHash = await sha256Hex(rules.files.map((f) => `${f.path}:${f.hash}`).sort().join('\n') || 'defaults');
  const campaigns = rules.campaigns.map(campaignSpec);
  const runs: number[] = [];
  let summary: ListPeriodSummary | undefined;
  for (let i = 0; i < repeat; i++) {
    await clearPeriod(db, periodStart);
    t = performance.now();
    summary = await runListPeriod(db, {
      periodStart,
      periodDays: HOLDOUT_DAYS,
      maxOffers: l.maxOffers,
      dueSoon: l.dueSoonItems,
      campaigns,
      rulesHash,
      timeZone: TZ,
      now: new Date(),
    });
    runs.push(seconds(t));
  }
  const s = summary!;
  if (!s.built) throw new Error('the period job built nothing: was the period left over from an earlier run?');

  const period = median(runs);
  const fl = median(floor);
  const gb = median(groupBy);
  console.log('');
  console.log(`list period job on PostgreSQL ${version} — shipped rules/ (${campaigns.length} campaigns)`);
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`);
  console.log(
    `chain: seed ${sim.seed}, ${int(counts.members)} members, ${sim.stores} stores, ${sim.weeks} weeks to ${sim.endDate}: ` +
      `${int(counts.baskets)} baskets, ${int(counts.lines)} lines` + (load === null ? ' (reused)' : ` (loaded in ${fmt(load, 1)} s)`),
  );
  console.log(
    `analytics as of ${periodStart} 00:00 ${TZ} (runAnalyse ${fmt(analyseSeconds, 1)} s, once): ` +
      `${int(qualified)} qualified members of ${int(analyse.memberScores.members)}`,
  );
  console.log(`period ${s.periodStart} – ${s.periodEnd} (${HOLDOUT_DAYS} days; the held-out days); medians of ${repeat} run(s)`);
  console.log('');
  console.log(`  baseline: one GROUP BY member_id pass over member_category_cells, fetched   ${fmt(gb)} s`);
  console.log(`  baseline: plain insert…select of one list row per qualified member        ${fmt(fl)} s  (due-soon jsonb, no offers)`);
  console.log(`  runListPeriod (offers + controls + lists, one transaction)                 ${fmt(period)} s  runs: ${runs.map((x) => fmt(x, 2)).join(', ')}`);
  console.log(`    ${int(s.lists)} lists, ${int(s.offers)} offers, ${int(s.controls)} controls; ${fmt((period * 1000) / Math.max(1, s.lists), 3)} ms per list`);
  console.log(`    ${'campaign'.padEnd(26)} ${'candidates'.padStart(10)} ${'offers'.padStart(8)} ${'controls'.padStart(8)} ${'exp. cost'.padStart(12)}`);
  for (const c of s.campaigns) {
    console.log(
      `    ${c.campaignId.padEnd(26)} ${int(c.candidates).padStart(10)} ${int(c.offers).padStart(8)} ${int(c.controls).padStart(8)} ` +
        `${('$' + (c.expectedCostCents / 100).toFixed(2)).padStart(12)}`,
    );
  }
  console.log(`  period job vs the insert…select floor: ${fmt(period / fl, 2)}× the time; vs the GROUP BY pass: ${fmt(period / gb, 1)}× the time`);

  const acc = await accuracy(db, periodStart, asOf);
  console.log('');
  console.log(
    `list accuracy on the held-out ${HOLDOUT_DAYS} days (${int(acc.members)} members with a list, ${int(acc.buyers)} of them shopped; ` +
      `"Due soon" ${fmt(acc.meanLength, 2)} items on average, ${fmt(100 * acc.emptyShare, 1)}% of lists without any):`,
  );
  console.log(`  P-TopFreq: same number of items per member, most purchase days before the cutoff first, ties by the latest day`);
  console.log(`  ranked top-n: member_product_scores' first n by rank, the same n, without the "predicted by the period's end" filter`);
  const row = (label: string, k: 'precision' | 'truthRecall' | 'observedRecall') =>
    console.log(
      `  ${label.padEnd(62)} model ${fmt(acc.model[k], 4)}  P-TopFreq ${fmt(acc.topFreq[k], 4)}  ratio ${fmt(acc.model[k] / acc.topFreq[k])}` +
        `  (ranked top-n ${fmt(acc.ranked[k], 4)})`,
    );
  row(`"Due soon" items bought (precision, ${int(acc.listed)} items)`, 'precision');
  row(`bought truth staples listed (recall, ${int(acc.truthStaplesBought)} staples bought)`, 'truthRecall');
  row(`bought staples listed, staple = ≥ ${OBSERVED_STAPLE_DAYS} purchase days (${int(acc.observedStaplesBought)} bought)`, 'observedRecall');
  console.log(
    `  for scale: ${int(acc.boughtPairs)} member × products bought in the held-out days, ${fmt(100 * acc.boughtSeen, 1)}% of them bought before the cutoff`,
  );
  if (acc.model.precision < acc.topFreq.precision || acc.model.truthRecall < acc.topFreq.truthRecall) {
    console.log('  NOTE: the model\'s "Due soon" list is below P-TopFreq on at least one of these figures.');
  }
  console.log('note: absolute times drift between machines and runs; ratios compare work measured in the same run on the same server.');
}

interface Accuracy {
  members: number;
  buyers: number;
  listed: number;
  meanLength: number;
  emptyShare: number;
  truthStaplesBought: number;
  observedStaplesBought: number;
  boughtPairs: number;
  boughtSeen: number;
  model: { precision: number; truthRecall: number; observedRecall: number };
  topFreq: { precision: number; truthRecall: number; observedRecall: number };
  /** The stored next-basket ranking's top n, without the list's "predicted within the period" filter. */
  ranked: { precision: number; truthRecall: number; observedRecall: number };
}

/**
 * Set-based, on one pinned connection: the inputs go into analysed temporary tables first, so the
 * planner knows their sizes (CTE scans carry no statistics, and nested loops over them took minutes
 * at 10,000 members), then one query counts the hits.
 */
async function accuracy(db: Db, periodStart: string, asOf: Date): Promise<Accuracy> {
  const at = sql`${asOf.toISOString()}::timestamptz`;
  const end = sql`${at} + make_interval(days => ${HOLDOUT_DAYS})`;
  return db.connection().execute(async (c) => {
    const temp = ['acc_members', 'acc_bought', 'acc_history', 'acc_staples', 'acc_listed'];
    for (const t of temp) await sql`drop table if exists ${sql.table(t)}`.execute(c);
    await sql`
      create temporary table acc_members as
      select member_id, content->'dueSoon' as due, jsonb_array_length(content->'dueSoon') as n
      from lists where period_start = ${periodStart}::date and voided_at is null`.execute(c);
    // What each member bought in the held-out days.
    await sql`
      create temporary table acc_bought as
      select distinct l.member_id, l.gtin::text as gtin
      from basket_lines l join baskets b on b.member_id = l.member_id and b.id = l.basket_id
      where b.ts >= ${at} and b.ts < ${end} and l.qty > 0
        and l.member_id in (select member_id from acc_members)`.execute(c);
    await sql`
      create temporary table acc_history as
      select l.member_id, l.gtin::text as gtin,
        count(distinct (b.ts at time zone ${TZ})::date)::int as days, max(b.ts) as last_ts
      from basket_lines l join baskets b on b.member_id = l.member_id and b.id = l.basket_id
      where b.ts < ${at} and l.qty > 0 and l.member_id in (select member_id from acc_members)
      group by 1, 2`.execute(c);
    await sql`
      create temporary table acc_staples as
      select t.member_id, t.gtin::text as gtin, 'truth' as kind from sim_member_product_truth t
      where (t.abandoned_on is null or t.abandoned_on >= ${periodStart}::date)
        and t.member_id in (select member_id from acc_members)
      union all
      select member_id, gtin, 'observed' from acc_history where days >= ${OBSERVED_STAPLE_DAYS}`.execute(c);
    // The lists compared: the model's "Due soon", the ranking's top n, P-TopFreq's top n.
    await sql`
      create temporary table acc_listed as
      select 'model' as ranking, m.member_id, d.e->>'gtin' as gtin
      from acc_members m cross join lateral jsonb_array_elements(m.due) as d(e)
      union all
      select 'ranked', s.member_id, s.gtin::text
      from acc_members m join member_product_scores s on s.member_id = m.member_id and s.rank <= m.n
      union all
      select 'topfreq', member_id, gtin from (
        select h.member_id, h.gtin, m.n,
          row_number() over (partition by h.member_id order by h.days desc, h.last_ts desc, h.gtin) as r
        from acc_history h join acc_members m on m.member_id = h.member_id
      ) t where r <= n`.execute(c);
    for (const t of temp) await sql`analyze ${sql.table(t)}`.execute(c);

    const { rows } = await sql<{
      ranking: string;
      listed: number;
      hits: number;
      truth_listed: number;
      observed_listed: number;
    }>`
      select x.ranking, count(*)::int as listed, count(b.gtin)::int as hits,
        count(*) filter (where b.gtin is not null and exists (select 1 from acc_staples s
          where s.kind = 'truth' and s.member_id = x.member_id and s.gtin = x.gtin))::int as truth_listed,
        count(*) filter (where b.gtin is not null and exists (select 1 from acc_staples s
          where s.kind = 'observed' and s.member_id = x.member_id and s.gtin = x.gtin))::int as observed_listed
      from acc_listed x left join acc_bought b on b.member_id = x.member_id and b.gtin = x.gtin
      group by x.ranking`.execute(c);
    const totals = (
      await sql<{
        members: number;
        buyers: number;
        empty: number;
        truth_bought: number;
        observed_bought: number;
        bought_pairs: number;
        bought_seen: number;
      }>`
        select (select count(*) from acc_members)::int as members,
          (select count(distinct member_id) from acc_bought)::int as buyers,
          (select count(*) from acc_members where n = 0)::int as empty,
          (select count(*) from acc_bought b join acc_staples s using (member_id, gtin) where s.kind = 'truth')::int as truth_bought,
          (select count(*) from acc_bought b join acc_staples s using (member_id, gtin) where s.kind = 'observed')::int as observed_bought,
          (select count(*) from acc_bought)::int as bought_pairs,
          (select count(*) from acc_bought b join acc_history h using (member_id, gtin))::int as bought_seen`.execute(c)
    ).rows[0]!;
    for (const t of temp) await sql`drop table ${sql.table(t)}`.execute(c);

    const by = new Map(rows.map((r) => [r.ranking, r]));
    const figures = (ranking: string) => {
      const r = by.get(ranking) ?? { listed: 0, hits: 0, truth_listed: 0, observed_listed: 0 };
      return {
        precision: r.hits / Math.max(1, r.listed),
        truthRecall: r.truth_listed / Math.max(1, totals.truth_bought),
        observedRecall: r.observed_listed / Math.max(1, totals.observed_bought),
      };
    };
    const listed = by.get('model')?.listed ?? 0;
    return {
      members: totals.members,
      buyers: totals.buyers,
      listed,
      meanLength: listed / Math.max(1, totals.members),
      emptyShare: totals.empty / Math.max(1, totals.members),
      truthStaplesBought: totals.truth_bought,
      observedStaplesBought: totals.observed_bought,
      boughtPairs: totals.bought_pairs,
      boughtSeen: totals.bought_seen / Math.max(1, totals.bought_pairs),
      model: figures('model'),
      topFreq: figures('topfreq'),
      ranked: figures('ranked'),
    };
  });
}
