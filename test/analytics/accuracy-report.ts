/**
 * Accuracy of the 9-cell volume and the share-of-wallet stage against the simulator's truth, with
 * confusion matrices, on one simulated chain. Not a test: a measuring tool.
 *
 *   npx tsx test/analytics/accuracy-report.ts [seed] [members]
 *
 * Runs on in-memory PGlite (or DATABASE_URL's server when set).
 */
import { sql } from 'kysely';
import { computeCells } from '../../src/analytics/cells.ts';
import { computeMemberScores } from '../../src/analytics/members.ts';
import { migrateToLatest } from '../../src/db/index.ts';
import { openPglite } from '../../src/db/node.ts';
import { defaultSettings } from '../../src/rules/settings.ts';
import { generateChain, loadSimChain } from '../../src/sim/index.ts';

const seed = Number(process.argv[2] ?? 2026);
const members = Number(process.argv[3] ?? 3000);
const NY = 'America/New_York';
const AS_OF = new Date('2026-11-01T04:00:00Z');

const t0 = performance.now();
const database = await openPglite('memory://');
await migrateToLatest(database.db);
const db = database.db;
const chain = generateChain({ seed, members, stores: 4, weeks: 52, endDate: '2026-10-31' });
await loadSimChain({ db }, chain);
const t1 = performance.now();
const opts = { asOf: AS_OF, timeZone: NY, settings: defaultSettings };
await computeCells(db, opts);
await computeMemberScores(db, opts);
const t2 = performance.now();
console.log(`seed ${seed}, ${members} members: load ${((t1 - t0) / 1000).toFixed(1)} s, cells+scores ${((t2 - t1) / 1000).toFixed(1)} s`);

function matrix(title: string, rows: { est: string; truth: string; n: number }[], order: string[]) {
  const total = rows.reduce((s, r) => s + r.n, 0);
  const right = rows.filter((r) => r.est === r.truth).reduce((s, r) => s + r.n, 0);
  console.log(`\n${title}: ${(right / total).toFixed(3)} right of ${total} (rows truth, columns estimate)`);
  console.log(['truth\\est', ...order].map((s) => s.padStart(12)).join(''));
  for (const t of order) {
    const cells = order.map((e) =>
      String(rows.find((r) => r.truth === t && r.est === e)?.n ?? 0).padStart(12),
    );
    console.log(t.padStart(12) + cells.join(''));
  }
}

const volume = await sql<{ est: string; truth: string; n: number }>`
  select c.volume as est, t.volume_level as truth, count(*)::int as n
  from member_category_cells c join sim_member_category_truth t using (member_id, category_id)
  where c.purchase_days >= 6 group by 1, 2`.execute(db);
matrix('volume, members with >= 6 purchase days in the category', volume.rows, ['low', 'medium', 'high']);

const both = await sql<{ band: string; cell: number; loyalty: number; volume: number; n: number }>`
  select case when c.purchase_days < 6 then 'a: 3-5' when c.purchase_days < 12 then 'b: 6-11'
              when c.purchase_days < 24 then 'c: 12-23' else 'd: 24+' end as band,
         avg((t.brand_pref = c.loyalty and t.volume_level = c.volume)::int)::float8 as cell,
         avg((t.brand_pref = c.loyalty)::int)::float8 as loyalty,
         avg((t.volume_level = c.volume)::int)::float8 as volume, count(*)::int as n
  from member_category_cells c join sim_member_category_truth t using (member_id, category_id)
  where c.purchase_days >= 3 group by 1 order by 1`.execute(db);
console.log('\nby purchase days in the category: 9-cell / loyalty / volume right (pairs)');
for (const r of both.rows) {
  console.log(`  ${r.band.padEnd(10)} ${r.cell.toFixed(3)} / ${r.loyalty.toFixed(3)} / ${r.volume.toFixed(3)}  (${r.n})`);
}
const regular = await sql<{ regular: boolean; cell: number; volume: number; n: number }>`
  select t.regular, avg((t.brand_pref = c.loyalty and t.volume_level = c.volume)::int)::float8 as cell,
         avg((t.volume_level = c.volume)::int)::float8 as volume, count(*)::int as n
  from member_category_cells c join sim_member_category_truth t using (member_id, category_id)
  where c.purchase_days >= 6 group by 1 order by 1`.execute(db);
console.log('\n>= 6 purchase days, by regular (staple adopted) or not: 9-cell / volume (pairs)');
for (const r of regular.rows) console.log(`  regular=${r.regular} ${r.cell.toFixed(3)} / ${r.volume.toFixed(3)} (${r.n})`);

const stageOf = (share: number) =>
  share < 0.05 ? 'development' : share < 0.5 ? 'initial' : share < 0.8 ? 'stable' : 'strategic';
const { rows: scored } = await sql<{ est: string; share: number; truth: number; churn: boolean }>`
  select s.stage as est, s.share_of_wallet::float8 as share, t.share_of_wallet::float8 as truth,
         t.churn_onset_date is not null as churn
  from member_scores s join sim_member_truth t using (member_id)`.execute(db);
for (const subset of ['not churning', 'all'] as const) {
  const rows = scored.filter((r) => subset === 'all' || !r.churn);
  const counts = new Map<string, number>();
  for (const r of rows) {
    const k = `${r.est}|${stageOf(r.truth)}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  matrix(
    `stage, ${subset}`,
    [...counts].map(([k, n]) => ({ est: k.split('|')[0]!, truth: k.split('|')[1]!, n })),
    ['development', 'initial', 'stable', 'strategic'],
  );
  const n = rows.length;
  const mean = (f: (r: (typeof rows)[number]) => number) => rows.reduce((s, r) => s + f(r), 0) / n;
  const mx = mean((r) => r.share);
  const my = mean((r) => r.truth);
  const cov = mean((r) => (r.share - mx) * (r.truth - my));
  const sx = Math.sqrt(mean((r) => (r.share - mx) ** 2));
  const sy = Math.sqrt(mean((r) => (r.truth - my) ** 2));
  console.log(`  corr ${(cov / sx / sy).toFixed(3)}, mean est ${mx.toFixed(3)} vs truth ${my.toFixed(3)}, MAE ${mean((r) => Math.abs(r.share - r.truth)).toFixed(3)}`);
}

await database.close();
