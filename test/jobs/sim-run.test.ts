import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/index.ts';
import { runAnalyse } from '../../src/jobs/analyse.ts';
import { runListsJob } from '../../src/jobs/lists.ts';
import { runSimLoop, type LoopSummary } from '../../src/jobs/sim-run.ts';
import { loadRuleFiles } from '../../src/rules/node.ts';
import { staticRules, type RuleSet } from '../../src/rules/rule-set.ts';
import { generateChain, loadSimChain } from '../../src/sim/index.ts';
import { dbKind, freshDatabase, useTestDeps } from '../support/db.ts';

// The closed loop on a small chain (300 members, 2 stores, history through Sat 2026-10-31): two
// weeks of `sim run`, then a second run over four weeks that re-drives the first two (replays) and
// adds two more, so the last list period (Mon Nov 23) is built on the new baskets. A twin database
// holding the same chain without the simulated weeks is the counterfactual.

const TZ = 'America/New_York';
const CHAIN = { seed: 21, members: 300, stores: 2, weeks: 40, endDate: '2026-10-31', timeZone: TZ };
const NEXT_PERIOD = '2026-11-23';
const AS_OF = new Date('2026-11-23T05:00:00Z'); // local midnight
let rules: RuleSet;
const getDeps = useTestDeps();
let twin: Awaited<ReturnType<typeof freshDatabase>>;
let first: LoopSummary;
let second: LoopSummary;

const count = async (db: Db, q: ReturnType<typeof sql<{ n: number }>>) => (await q.execute(db)).rows[0]!.n;

beforeAll(async () => {
  rules = await loadRuleFiles(join(import.meta.dirname, '..', '..', 'rules'));
  const deps = getDeps();
  deps.rules = staticRules(rules);
  await loadSimChain(deps, generateChain(CHAIN));
  first = await runSimLoop(deps, { days: 14, analyse: 'period' });
  second = await runSimLoop(deps, { days: 22, analyse: 'period' });
  // the lists that follow the simulated weeks
  await runAnalyse(deps, { asOf: AS_OF, timeZone: TZ, rules });
  await runListsJob(deps, { at: AS_OF, timeZone: TZ, rules, periodStart: NEXT_PERIOD });

  twin = await freshDatabase();
  const twinDeps = { ...deps, db: twin.db, copyIn: twin.copyIn, copyTx: twin.copyTx, clock: { now: () => AS_OF } };
  await loadSimChain(twinDeps, generateChain(CHAIN));
  await runAnalyse(twinDeps, { asOf: AS_OF, timeZone: TZ, rules });
  await runListsJob(twinDeps, { at: AS_OF, timeZone: TZ, rules, periodStart: NEXT_PERIOD });
}, 240_000);

afterAll(async () => {
  await twin?.dispose();
});

describe(`sim run: the closed loop on ${dbKind}`, () => {
  it('commits the simulated days through the checkout, and they enter the members\' history', async () => {
    const { db } = getDeps();
    expect(first).toMatchObject({ firstDate: '2026-11-01', lastDate: '2026-11-14', days: 14, replayed: 0 });
    expect(first.baskets).toBeGreaterThan(300);
    // lists for the period holding Nov 1 (from Oct 26), then Nov 9
    expect(first.periods.map((p) => [p.periodStart, p.built])).toEqual([['2026-10-26', true], ['2026-11-09', true]]);
    expect(first.analyses).toBe(2);

    const rows = (
      await sql<{ day: string; n: number }>`
        select (ts at time zone ${TZ})::date::text as day, count(*)::int as n from baskets
        where source = 'checkout' group by 1 order by 1`.execute(db)
    ).rows;
    const total = rows.reduce((a, r) => a + r.n, 0);
    expect(total).toBe(first.baskets + second.baskets);
    expect(rows[0]!.day).toBe('2026-11-01');
    expect(rows.at(-1)!.day).toBe('2026-11-22');
    expect(rows.length).toBeGreaterThanOrEqual(18); // the chain is closed on a few holidays/Sundays at most
    // every committed basket is a member's, and every one went through the checkout's commit record
    expect(await count(db, sql`select count(*)::int as n from baskets where source = 'checkout' and member_id = 0`)).toBe(0);
    expect(await count(db, sql`select count(*)::int as n from checkout_commits where kind = 'sale'`)).toBe(total);

    // History: the analytics as of Nov 23 see the checkout purchases as members' last purchases.
    const moved = await count(db, sql`
      select count(distinct c.member_id)::int as n from member_product_cycles c
      where c.last_purchase_date > '2026-10-31'`);
    const buyers = await count(db, sql`select count(distinct member_id)::int as n from baskets where source = 'checkout'`);
    expect(moved).toBeGreaterThan(0.9 * buyers);
    expect(await count(twin.db, sql`
      select count(*)::int as n from member_product_cycles where last_purchase_date > '2026-10-31'`)).toBe(0);
    // and each moved date is a day the member really bought that product at a lane
    expect(await count(db, sql`
      select count(*)::int as n from member_product_cycles c
      where c.last_purchase_date > '2026-10-31' and not exists (
        select 1 from baskets b join basket_lines l on l.member_id = b.member_id and l.basket_id = b.id
        where b.member_id = c.member_id and b.source = 'checkout' and l.gtin = c.gtin
          and (b.ts at time zone ${TZ})::date = c.last_purchase_date)`)).toBe(0);
  });

  it('redeems offers at the lanes, only within their windows and never a holdout control', async () => {
    const { db } = getDeps();
    const redemptions = await count(db, sql`select count(*)::int as n from offer_redemptions`);
    expect(redemptions).toBe(first.redemptions + second.redemptions);
    expect(redemptions).toBeGreaterThan(20);
    // members used the offers their truth made them want
    expect(first.intended + second.intended).toBeGreaterThan(10);
    expect(await count(db, sql`
      select count(*)::int as n from offer_redemptions r join offers o on o.member_id = r.member_id and o.id = r.offer_id
      where (r.ts at time zone ${TZ})::date not between o.valid_from and o.valid_to`)).toBe(0);
    expect(await count(db, sql`
      select count(*)::int as n from offer_redemptions r join offers o on o.member_id = r.member_id and o.id = r.offer_id
      where o.uses > o.uses_allowed or o.control`)).toBe(0);
    // Holdout: members held out of a campaign in a period never redeem that campaign then.
    const controls = await count(db, sql`select count(*)::int as n from offers where control and period_start < ${NEXT_PERIOD}::date`);
    expect(controls).toBeGreaterThan(0);
    expect(await count(db, sql`
      select count(*)::int as n from offers c
      join offers o on o.member_id = c.member_id and o.campaign_id = c.campaign_id and o.period_start = c.period_start
      join offer_redemptions r on r.member_id = o.member_id and r.offer_id = o.id
      where c.control`)).toBe(0);
    expect(await count(db, sql`select count(*)::int as n from offers where control and uses > 0`)).toBe(0);
    // the discounts are in the stored baskets' line discounts
    const given = await count(db, sql`select coalesce(sum(discount_cents), 0)::int as n from offer_redemptions`);
    expect(given).toBe(first.discountCents + second.discountCents);
    expect(await count(db, sql`
      select coalesce(sum(l.line_discount_cents), 0)::int as n from basket_lines l
      join baskets b on b.member_id = l.member_id and b.id = l.basket_id where b.source = 'checkout'`)).toBe(given);
  });

  it('builds the next lists on the new baskets: they differ from the lists without them', async () => {
    const { db } = getDeps();
    type Due = { member_number: string; due: Array<{ gtin: string; predictedDate: string }> };
    const lists = async (d: Db) =>
      new Map(
        (
          await sql<Due>`select m.member_number, l.content->'dueSoon' as due from lists l
            join members m on m.id = l.member_id where l.period_start = ${NEXT_PERIOD}::date and l.voided_at is null`.execute(d)
        ).rows.map((r) => [r.member_number, r.due]),
      );
    const [withLoop, without] = await Promise.all([lists(db), lists(twin.db)]);
    const buyers = new Set(
      (
        await sql<{ member_number: string }>`select distinct m.member_number from baskets b join members m on m.id = b.member_id
          where b.source = 'checkout'`.execute(db)
      ).rows.map((r) => r.member_number),
    );
    let compared = 0;
    let changed = 0;
    for (const [member, due] of withLoop) {
      const other = without.get(member);
      if (!other || !buyers.has(member)) continue;
      compared++;
      if (JSON.stringify(due) !== JSON.stringify(other)) changed++;
    }
    expect(compared).toBeGreaterThan(50);
    expect(changed / compared).toBeGreaterThan(0.8);
    // Products bought at a lane in the simulated weeks: without those baskets they look overdue
    // (predicted before the period); with them, their next purchase is predicted later.
    const bought = (
      await sql<{ member_number: string; gtin: string }>`
        select distinct m.member_number, l.gtin from baskets b
        join basket_lines l on l.member_id = b.member_id and l.basket_id = b.id
        join members m on m.id = b.member_id
        where b.source = 'checkout' and b.ts >= '2026-11-09T05:00:00Z'`.execute(db)
    ).rows;
    let earlier = 0;
    let later = 0;
    for (const { member_number, gtin } of bought) {
      const a = withLoop.get(member_number)?.find((x) => x.gtin === gtin);
      const b = without.get(member_number)?.find((x) => x.gtin === gtin);
      if (!a || !b) continue;
      if (a.predictedDate > b.predictedDate) later++;
      else if (a.predictedDate < b.predictedDate) earlier++;
    }
    expect(later + earlier).toBeGreaterThan(50);
    expect(later).toBeGreaterThan(3 * earlier);
  });

  it('re-running over days already simulated adds nothing: every commit replays', async () => {
    const { db } = getDeps();
    // the second run re-drove Nov 1–14 (same members, offers, transactions), then went on
    expect(second).toMatchObject({ firstDate: '2026-11-01', lastDate: '2026-11-22', days: 22 });
    expect(second.replayed).toBe(first.baskets);
    expect(second.baskets).toBeGreaterThan(0);
    expect(second.periods.map((p) => [p.periodStart, p.built])).toEqual([
      ['2026-10-26', false], ['2026-11-09', false],
    ]);
    expect(second.analyses).toBe(0); // Nov 23's period was not reached inside the run
    const run = await db.selectFrom('sim_runs').select('simulated_through').executeTakeFirstOrThrow();
    expect(run.simulated_through).toBe('2026-11-22');
    // no key the loops created is left active
    expect(await count(db, sql`select count(*)::int as n from api_keys where name like 'sim run:%' and revoked_at is null`)).toBe(0);
  });
});
