import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { lockAnalytics } from '../../src/analytics/repo.ts';
import { ConflictError } from '../../src/lib/errors.ts';
import { runAnalyse } from '../../src/jobs/analyse.ts';
import { runListPeriod, type ListPeriodOptions } from '../../src/lists/period.ts';
import { storeListIds } from '../../src/lists/print.ts';
import type { CampaignSpec } from '../../src/offers/spec.ts';
import { inHoldout as rulesInHoldout } from '../../src/rules/index.ts';
import { defaultRuleSet } from '../../src/rules/rule-set.ts';
import { generateChain, loadSimChain } from '../../src/sim/index.ts';
import { dbKind, useTestDeps } from '../support/db.ts';
import { backendWaiting, holdInTransaction } from '../support/locks.ts';

const getDeps = useTestDeps();
const TZ = 'America/New_York';
const AS_OF = new Date('2026-10-31T04:00:00Z');
const PERIOD = '2026-11-02';
const PERIOD_END = '2026-11-15';

/** The 9-cell case: national-brand analgesic buyers, store brand offered, deepest for heavy users. */
const analgesics: CampaignSpec = {
  id: 'analgesics-store-brand',
  name: 'Try our pain relief',
  hash: 'h-analgesics',
  activeFrom: '2026-10-01',
  activeTo: null,
  promotes: { categories: ['analgesics'], gtins: [], brands: [], brandType: 'store' },
  audience: {
    cells: [{ loyalty: 'national', volume: '*' }],
    traits: [],
    tiers: [],
    stages: [],
    qualifiedOnly: true,
    churnRisk: null,
    exclude: { cells: [], traits: [], tiers: [], stages: [], churnRisk: null },
  },
  offer: { kind: 'percent_off', ladder: { low: 10, medium: 20, high: 30, unclassified: 10 }, minQty: 1, maxUnits: 2, minSpendCents: 0 },
  timing: { kind: 'predicted', openDaysBefore: 3, validDays: 10, minProbability: 0.15 },
  limits: { usesPerOffer: 1, perMemberTotal: null },
  budget: { maxOffers: null, maxCostCents: null },
  funding: { manufacturerId: null, share: 0 },
  holdoutPercent: 20,
  priority: 10,
  stackingGroup: null,
  content: [],
};

const coffee: CampaignSpec = {
  ...analgesics,
  id: 'coffee-any',
  name: 'Coffee for coffee drinkers',
  hash: 'h-coffee',
  promotes: { categories: ['coffee'], gtins: [], brands: [], brandType: null },
  audience: { ...analgesics.audience, cells: [] },
  offer: { kind: 'amount_off', ladder: { low: 50, medium: 75, high: 100, unclassified: 50 }, minQty: 1, maxUnits: 1, minSpendCents: 0 },
  holdoutPercent: 0,
  priority: 5,
};

const reward: CampaignSpec = {
  ...analgesics,
  id: 'strategic-reward',
  name: 'Thank you',
  hash: 'h-reward',
  promotes: { categories: [], gtins: [], brands: [], brandType: null },
  audience: { ...analgesics.audience, cells: [], stages: ['strategic'] },
  offer: { kind: 'reward', ladder: { low: 3000, medium: 3000, high: 3000, unclassified: 3000 }, minQty: 0, maxUnits: null, minSpendCents: 5000 },
  timing: { kind: 'fixed', validDays: 14, from: null, to: null },
  holdoutPercent: 10,
  priority: 1,
};

function options(overrides: Partial<ListPeriodOptions> = {}): ListPeriodOptions {
  return {
    periodStart: PERIOD,
    periodDays: 14,
    maxOffers: 12,
    dueSoon: 10,
    campaigns: [analgesics, coffee, reward],
    rulesHash: 'test-rules',
    timeZone: TZ,
    now: new Date('2026-11-01T12:00:00Z'),
    ...overrides,
  };
}

/**
 * The one holdout the README names (src/rules/holdout.ts, which the preview uses too), checked here
 * against node's own md5: the first 32 bits of md5("campaign:member") below ⌊percent/100 · 2³²⌋.
 */
function inHoldout(campaignId: string, memberId: number, percent: number): boolean {
  const h = createHash('md5').update(`${campaignId}:${memberId}`).digest();
  const held = h.readUInt32BE(0) < Math.floor((percent / 100) * 2 ** 32);
  expect(rulesInHoldout(campaignId, memberId, percent)).toBe(held);
  return held;
}

async function offers(period = PERIOD) {
  const { rows } = await sql<{
    member_id: number; id: number; campaign_id: string; control: boolean; value: number; volume: string | null;
    valid_from: string; valid_to: string; predicted_date: string | null; probability: number; list_id: number | null;
    uses: number; loyalty: string | null; cell_volume: string | null; expected_value_cents: number;
  }>`
    select o.member_id, o.id, o.campaign_id, o.control, o.value, o.volume, o.valid_from::text as valid_from,
      o.valid_to::text as valid_to, o.predicted_date::text as predicted_date, o.probability, o.list_id, o.uses,
      c.loyalty, c.volume as cell_volume, o.expected_value_cents
    from offers o
    left join member_category_cells c on c.member_id = o.member_id and c.category_id = o.category_id
    where o.period_start = ${period}::date and o.status = 'live'
    order by o.member_id, o.campaign_id`.execute(getDeps().db);
  return rows;
}

beforeAll(async () => {
  const deps = getDeps();
  await loadSimChain(deps, generateChain({ seed: 5, members: 400, stores: 2, weeks: 40, endDate: '2026-10-30' }));
  await runAnalyse(deps, { asOf: AS_OF, timeZone: TZ, rules: defaultRuleSet });
}, 180_000);

describe(`offer assignment and list periods on ${dbKind}`, () => {
  it('issues the 9-cell offer to national-brand buyers only, ladder by volume, timed before the predicted purchase', async () => {
    const summary = await runListPeriod(getDeps().db, options());
    expect(summary.built).toBe(true);
    const rows = (await offers()).filter((o) => o.campaign_id === analgesics.id);
    expect(rows.length).toBeGreaterThan(10);
    for (const o of rows) {
      expect(o.loyalty).toBe('national');
      expect(Number(o.value)).toBe(analgesics.offer.ladder[o.cell_volume as 'low' | 'medium' | 'high']);
      expect(o.valid_from >= PERIOD && o.valid_from <= PERIOD_END).toBe(true);
      expect(o.predicted_date! >= o.valid_from && o.predicted_date! <= o.valid_to).toBe(true);
      expect(o.probability).toBeGreaterThanOrEqual(0.15);
      expect(o.probability).toBeLessThanOrEqual(1);
    }
    // heavy users get the deepest discount
    expect(new Set(rows.filter((o) => o.cell_volume === 'high').map((o) => Number(o.value)))).toEqual(new Set([30]));
  });

  it('holds out the same deterministic control group as the preview (src/rules/holdout.ts), recorded but without a list slot cost', async () => {
    const rows = await offers();
    for (const o of rows) {
      const c = [analgesics, coffee, reward].find((x) => x.id === o.campaign_id)!;
      expect(o.control, `${o.campaign_id} ${o.member_id}`).toBe(inHoldout(c.id, o.member_id, c.holdoutPercent));
    }
    const rewards = rows.filter((o) => o.campaign_id === reward.id);
    const share = rewards.filter((o) => o.control).length / rewards.length;
    expect(rewards.length).toBeGreaterThan(30);
    expect(share).toBeGreaterThan(0.02);
    expect(share).toBeLessThan(0.25);
    expect(rows.filter((o) => o.campaign_id === coffee.id && o.control)).toEqual([]);
  });

  it('gives every qualified member a list, and every printed offer sits on its member\'s list', async () => {
    const { rows } = await sql<{ qualified: number; listed: number; orphan: number; bad_due: number }>`
      select
        (select count(*)::int from member_scores where qualified) as qualified,
        (select count(*)::int from lists l join member_scores s on s.member_id = l.member_id and s.qualified
          where l.period_start = ${PERIOD}::date and l.voided_at is null) as listed,
        (select count(*)::int from offers where period_start = ${PERIOD}::date and not control and list_id is null) as orphan,
        -- due soon = the member's top 10 of the next-basket ranking, in rank order
        (select count(*)::int from lists l
          where l.period_start = ${PERIOD}::date and l.voided_at is null
            and (select coalesce(jsonb_agg(d->>'gtin' order by n), '[]'::jsonb)
                 from jsonb_array_elements(l.content->'dueSoon') with ordinality as x(d, n))
             <> (select coalesce(jsonb_agg(s.gtin order by s.rank), '[]'::jsonb)
                 from member_product_scores s where s.member_id = l.member_id and s.rank <= 10)) as bad_due`
      .execute(getDeps().db);
    expect(rows[0]!.qualified).toBeGreaterThan(50);
    expect(rows[0]!.listed).toBe(rows[0]!.qualified);
    expect(rows[0]!.orphan).toBe(0);
    expect(rows[0]!.bad_due).toBe(0);
  });

  it('adds nothing when the period runs again', async () => {
    const before = await offers();
    const again = await runListPeriod(getDeps().db, options());
    expect(again.built).toBe(false);
    expect(await offers()).toEqual(before);
  });

  it('regenerates: unredeemed offers are voided and rebuilt, redeemed ones stay on the new list', async () => {
    const before = await offers();
    const redeemed = before.find((o) => !o.control && o.campaign_id === coffee.id)!;
    await sql`update offers set uses = 1 where member_id = ${redeemed.member_id} and id = ${redeemed.id}`.execute(getDeps().db);
    const summary = await runListPeriod(getDeps().db, options({ regenerate: true }));
    expect(summary.built).toBe(true);
    expect(summary.voidedOffers).toBe(before.length - 1);
    const after = await offers();
    // same assignment (deterministic), new serials except the redeemed one
    expect(after.map((o) => [o.member_id, o.campaign_id, o.control])).toEqual(before.map((o) => [o.member_id, o.campaign_id, o.control]));
    const kept = after.find((o) => o.id === redeemed.id)!;
    expect(kept.uses).toBe(1);
    expect(kept.list_id).not.toBe(redeemed.list_id);
    expect(after.filter((o) => o.id !== redeemed.id && before.some((b) => b.id === o.id))).toEqual([]);
    const { rows } = await sql<{ live: number }>`select count(*)::int as live from lists l
      where l.member_id = ${redeemed.member_id} and l.period_start = ${PERIOD}::date and l.voided_at is null`.execute(getDeps().db);
    expect(rows[0]!.live).toBe(1);
  });

  it('keeps a budget chain-wide: the best offers by expected value, controls spend nothing', async () => {
    const period = '2026-11-16';
    const open = await runListPeriod(getDeps().db, options({ periodStart: period, campaigns: [coffee] }));
    const unlimited = (await offers(period)).filter((o) => !o.control);
    expect(unlimited.length).toBeGreaterThan(5);
    const top5 = unlimited.map((o) => o.expected_value_cents).sort((a, b) => b - a).slice(0, 5);
    await runListPeriod(getDeps().db, options({
      periodStart: period,
      campaigns: [{ ...coffee, budget: { maxOffers: 5, maxCostCents: null } }],
      regenerate: true,
    }));
    const limited = (await offers(period)).filter((o) => !o.control);
    expect(limited).toHaveLength(5);
    expect(limited.map((o) => o.expected_value_cents).sort((a, b) => b - a)).toEqual(top5);
    expect(open.offers).toBe(unlimited.length);
  });

  it('records as controls only the held-out members the budget would have reached', async () => {
    const period = '2026-11-06';
    const held = { ...coffee, id: 'coffee-held-out', holdoutPercent: 20 };
    await runListPeriod(getDeps().db, options({ periodStart: period, campaigns: [held] }));
    const open = await offers(period);
    expect(open.filter((o) => o.control).length).toBeGreaterThan(10);
    await runListPeriod(getDeps().db, options({
      periodStart: period,
      campaigns: [{ ...held, budget: { maxOffers: 5, maxCostCents: null } }],
      regenerate: true,
    }));
    const rows = await offers(period);
    const exposed = rows.filter((o) => !o.control);
    const controls = rows.filter((o) => o.control);
    expect(exposed).toHaveLength(5);
    // The control group stands for what its members would have got: an offer within the budget,
    // ranked like everyone by expected value, not every held-out member of the audience.
    const cutoff = Math.min(...exposed.map((o) => o.expected_value_cents));
    expect(controls.filter((o) => o.expected_value_cents < cutoff)).toEqual([]);
    expect(controls.length).toBeLessThanOrEqual(5);
  });

  it('targets cells and ladders by volume for a fixed-window (seasonal) offer too', async () => {
    const period = '2026-11-07';
    const seasonal: CampaignSpec = {
      ...analgesics,
      id: 'analgesics-winter',
      holdoutPercent: 0,
      timing: { kind: 'fixed', validDays: 14, from: '2026-11-01', to: '2026-12-31' },
    };
    await runListPeriod(getDeps().db, options({ periodStart: period, campaigns: [seasonal] }));
    const rows = await offers(period);
    expect(rows.length).toBeGreaterThan(10);
    const { rows: national } = await sql<{ member_id: number; volume: string }>`
      select member_id, volume from member_category_cells
      where category_id = 'analgesics' and loyalty = 'national'`.execute(getDeps().db);
    const volumeOf = new Map(national.map((r) => [Number(r.member_id), r.volume]));
    for (const o of rows) {
      expect(volumeOf.has(Number(o.member_id)), `member ${o.member_id} is no national-brand buyer`).toBe(true);
      const volume = volumeOf.get(Number(o.member_id)) as 'low' | 'medium' | 'high' | 'unclassified';
      expect(Number(o.value)).toBe(seasonal.offer.ladder[volume]);
    }
  });

  it('promotes what the rule file says: the listed GTINs or the products matching every other filter', async () => {
    const db = getDeps().db;
    const period = '2026-11-08';
    const { rows: products } = await sql<{ gtin: string; category_id: string }>`
      select gtin, category_id from products where known and category_id in ('coffee', 'analgesics') order by gtin`.execute(db);
    const listed = products.find((p) => p.category_id === 'analgesics')!.gtin;
    const coffeeGtins = products.filter((p) => p.category_id === 'coffee').map((p) => p.gtin);
    expect(coffeeGtins.length).toBeGreaterThan(1);
    const both = { ...coffee, id: 'coffee-plus-one', hash: 'h-plus-one', promotes: { ...coffee.promotes, gtins: [listed] } };
    await runListPeriod(db, options({ periodStart: period, campaigns: [both] }));
    const { rows } = await sql<{ gtins: string[] }>`
      select gtins from campaign_terms where campaign_id = 'coffee-plus-one'`.execute(db);
    expect([...rows[0]!.gtins].sort()).toEqual([listed, ...coffeeGtins].sort());
  });

  it('counts the redeemed offers a regenerate keeps against the budget', async () => {
    const db = getDeps().db;
    const period = '2026-11-10';
    const capped = { ...coffee, id: 'coffee-capped', budget: { maxOffers: 5, maxCostCents: null } };
    await runListPeriod(db, options({ periodStart: period, campaigns: [capped] }));
    const first = await offers(period);
    expect(first).toHaveLength(5);
    await sql`update offers set uses = 1 where id = ${first[0]!.id}`.execute(db);
    // Regenerated with a lifetime limit of one: the member who redeemed is no candidate any more,
    // five others are; the redeemed offer stays, and the five of the budget include it.
    await runListPeriod(db, options({
      periodStart: period,
      campaigns: [{ ...capped, limits: { usesPerOffer: 1, perMemberTotal: 1 } }],
      regenerate: true,
    }));
    const after = await offers(period);
    expect(after.some((o) => o.id === first[0]!.id)).toBe(true);
    expect(after).toHaveLength(5);
  });

  it('stacks an exclusive group by priority, and caps the list', async () => {
    const period = '2026-11-30';
    const a = { ...analgesics, stackingGroup: 'one-per-member', holdoutPercent: 0 };
    const b = { ...coffee, stackingGroup: 'one-per-member', priority: 99 };
    await runListPeriod(getDeps().db, options({ periodStart: period, campaigns: [a, b] }));
    const rows = await offers(period);
    const perMember = new Map<number, string[]>();
    for (const o of rows) perMember.set(o.member_id, [...(perMember.get(o.member_id) ?? []), o.campaign_id]);
    expect([...perMember.values()].every((c) => c.length === 1)).toBe(true);
    expect(rows.some((o) => o.campaign_id === coffee.id)).toBe(true);

    const capped = '2026-11-09';
    await runListPeriod(getDeps().db, options({ periodStart: capped, campaigns: [analgesics, coffee], maxOffers: 1 }));
    const counts = new Map<number, number>();
    for (const o of await offers(capped)) counts.set(o.member_id, (counts.get(o.member_id) ?? 0) + 1);
    expect(Math.max(...counts.values())).toBe(1);
  });

  it('leaves out excluded members and members past the campaign\'s lifetime limit', async () => {
    const db = getDeps().db;
    const period = '2026-11-23';
    const { rows: dogs } = await sql<{ member_id: number }>`select member_id from member_traits where trait = 'dog_owner'`.execute(db);
    expect(dogs.length).toBeGreaterThan(5);
    const noDogs = { ...coffee, id: 'coffee-no-dogs', audience: { ...coffee.audience, exclude: { ...coffee.audience.exclude, traits: ['dog_owner'] } } };
    // fixed timing: every member of the audience is a candidate in every period
    const once = { ...reward, id: 'reward-once', limits: { usesPerOffer: 1, perMemberTotal: 1 }, holdoutPercent: 0 };
    // a member who already used the once-only campaign in an earlier period
    const before = await runListPeriod(db, options({ periodStart: '2026-10-26', campaigns: [once] }));
    expect(before.offers).toBeGreaterThan(0);
    const usedBy = (await offers('2026-10-26')).find((o) => !o.control)!;
    await sql`update offers set uses = 1 where id = ${usedBy.id}`.execute(db);
    await runListPeriod(db, options({ periodStart: period, campaigns: [noDogs, once] }));
    const rows = await offers(period);
    const dogSet = new Set(dogs.map((d) => d.member_id));
    expect(rows.filter((o) => o.campaign_id === 'coffee-no-dogs').length).toBeGreaterThan(0);
    expect(rows.filter((o) => o.campaign_id === 'coffee-no-dogs' && dogSet.has(o.member_id))).toEqual([]);
    const onceRows = rows.filter((o) => o.campaign_id === 'reward-once');
    expect(onceRows.length).toBe((await offers('2026-10-26')).length - 1);
    expect(onceRows.filter((o) => o.member_id === usedBy.member_id)).toEqual([]);
  });

  it('keeps every offer inside its campaign\'s active dates when they straddle the period', async () => {
    const db = getDeps().db;
    // The deal ends on the period's 5th day (a vendor pays until then, not a day longer) ...
    const ending = '2026-11-04';
    const endsOn = '2026-11-08';
    await runListPeriod(db, options({
      periodStart: ending,
      campaigns: [
        { ...coffee, id: 'coffee-ending', activeTo: endsOn },
        { ...reward, id: 'reward-ending', activeTo: endsOn },
      ],
    }));
    const ended = await offers(ending);
    expect(ended.filter((o) => o.campaign_id === 'coffee-ending').length).toBeGreaterThan(5);
    expect(ended.filter((o) => o.campaign_id === 'reward-ending').length).toBeGreaterThan(5);
    expect(ended.filter((o) => o.valid_to > endsOn)).toEqual([]);
    for (const o of ended) {
      expect(o.valid_from <= o.valid_to).toBe(true);
      if (o.predicted_date) expect(o.predicted_date >= o.valid_from && o.predicted_date <= o.valid_to).toBe(true);
    }
    // ... and another starts on the period's 8th day: nothing is redeemable before it starts.
    const starting = '2026-11-05';
    const startsOn = '2026-11-12';
    await runListPeriod(db, options({
      periodStart: starting,
      campaigns: [
        { ...coffee, id: 'coffee-starting', activeFrom: startsOn },
        { ...reward, id: 'reward-starting', activeFrom: startsOn },
      ],
    }));
    const started = await offers(starting);
    expect(started.filter((o) => o.campaign_id === 'coffee-starting').length).toBeGreaterThan(0);
    expect(started.filter((o) => o.campaign_id === 'reward-starting').length).toBeGreaterThan(5);
    expect(started.filter((o) => o.valid_from < startsOn)).toEqual([]);
  });

  it('keeps a once-per-member campaign once: no second offer while the first is still redeemable', async () => {
    const db = getDeps().db;
    const once = { ...reward, id: 'welcome-once', hash: 'h-welcome', limits: { usesPerOffer: 1, perMemberTotal: 1 },
      holdoutPercent: 0, timing: { kind: 'fixed' as const, validDays: 28, from: null, to: null } };
    await runListPeriod(db, options({ periodStart: '2027-01-04', campaigns: [once] }));
    const first = (await offers('2027-01-04')).filter((o) => !o.control);
    expect(first.length).toBeGreaterThan(5);
    expect(first.every((o) => o.valid_to === '2027-01-31')).toBe(true);
    // Two weeks on, the first offers are still valid (and unredeemed): a second one would let a
    // member redeem the once-only coupon twice.
    await runListPeriod(db, options({ periodStart: '2027-01-18', campaigns: [once] }));
    const holders = new Set(first.map((o) => o.member_id));
    const second = (await offers('2027-01-18')).filter((o) => !o.control);
    expect(second.filter((o) => holders.has(o.member_id))).toEqual([]);
  });

  it('issues a seasonal offer once per member for its window, not again each period while it is valid', async () => {
    const db = getDeps().db;
    const seasonal: CampaignSpec = {
      ...analgesics, id: 'analgesics-spring', hash: 'h-spring', holdoutPercent: 0,
      timing: { kind: 'fixed', validDays: 14, from: '2027-02-01', to: '2027-03-31' },
    };
    await runListPeriod(db, options({ periodStart: '2027-02-01', campaigns: [seasonal] }));
    const first = (await offers('2027-02-01')).filter((o) => !o.control);
    expect(first.length).toBeGreaterThan(5);
    expect(first.every((o) => o.valid_to === '2027-03-31')).toBe(true);
    // One member used theirs: a new one is theirs to have (usesPerOffer 1, no lifetime limit).
    const used = first[0]!;
    await sql`update offers set uses = 1 where id = ${used.id}`.execute(db);
    await runListPeriod(db, options({ periodStart: '2027-02-15', campaigns: [seasonal] }));
    const second = (await offers('2027-02-15')).filter((o) => !o.control);
    expect(second.map((o) => o.member_id)).toEqual([used.member_id]);
  });

  it('refuses to build lists from analytics tables of different runs, naming them', async () => {
    const db = getDeps().db;
    const period = '2026-12-07';
    for (const [table, at] of [
      ['member_product_scores', sql`as_of - interval '1 day'`],
      ['member_category_cycles', sql`as_of + interval '7 days'`],
    ] as const) {
      await sql`update ${sql.table(table)} set as_of = ${at}`.execute(db);
      try {
        await expect(runListPeriod(db, options({ periodStart: period }))).rejects.toThrow(
          new RegExp(`different runs \\(.*${table} as of (?!${AS_OF.toISOString()})`),
        );
      } finally {
        await sql`update ${sql.table(table)} set as_of = ${AS_OF.toISOString()}::timestamptz`.execute(db);
      }
      const { rows } = await sql`select 1 from list_periods where period_start = ${period}::date`.execute(db);
      expect(rows).toEqual([]);
    }
    // The same tables, of one run again: the lists are built.
    expect((await runListPeriod(db, options({ periodStart: period }))).built).toBe(true);
  });

  it.skipIf(dbKind !== 'postgres')('waits for a running analyse job before reading the analytics', async () => {
    const db = getDeps().db;
    const job = await holdInTransaction(db, (tx) => lockAnalytics(tx, 'write'));
    const period = '2026-12-21';
    const lists = runListPeriod(db, options({ periodStart: period }));
    lists.catch(() => {});
    expect(await backendWaiting(db, job.pid, 'advisory')).not.toBeNull();
    job.release();
    await job.done;
    expect((await lists).built).toBe(true);
  });

  it.skipIf(dbKind !== 'postgres')('builds one of two overlapping periods started at once: the other is refused (409)', async () => {
    // Two builds of different, overlapping periods (an admin's periodStart and the daily job's
    // default after a settings change), both started while an analyse job holds the analytics: each
    // may get past the overlap check before the other has built anything.
    const db = getDeps().db;
    const job = await holdInTransaction(db, (tx) => lockAnalytics(tx, 'write'));
    const builds = ['2027-04-05', '2027-04-12'].map((periodStart) =>
      runListPeriod(db, options({ periodStart, refuseOverlap: true })),
    );
    for (const b of builds) b.catch(() => {});
    let waiting = 0;
    for (let i = 0; i < 600 && waiting < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      waiting = (await sql<{ n: number }>`
        select count(*)::int as n from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock' and wait_event = 'advisory'
          and pid not in (pg_backend_pid(), ${job.pid})`.execute(db)).rows[0]!.n;
    }
    job.release();
    await job.done;
    expect(waiting).toBe(2);
    const results = await Promise.allSettled(builds);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(refused).toHaveLength(1);
    expect(refused[0]!.reason).toBeInstanceOf(ConflictError);
    expect((refused[0]!.reason as ConflictError).status).toBe(409);
    expect(String((refused[0]!.reason as Error).message)).toMatch(/overlaps the period/);
    // one set of offers: the members of the refused period hold nothing from it
    const { rows } = await sql<{ period_start: string; status: string }>`
      select period_start::text, status from list_periods where period_start between '2027-03-22' and '2027-04-25'`.execute(db);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.status).toBe('done');
    const other = rows[0]!.period_start === '2027-04-05' ? '2027-04-12' : '2027-04-05';
    expect(await offers(other)).toEqual([]);
    expect((await offers(rows[0]!.period_start)).length).toBeGreaterThan(0);
  });

  it('refuses a malformed period', async () => {
    await expect(runListPeriod(getDeps().db, options({ periodStart: '2026-13-40' }))).rejects.toThrow(/not a date/);
  });
});

describe(`the store a list prints at on ${dbKind}`, () => {
  it("is a member without a home store's last store, even when a store-less import came after it", async () => {
    const rollback = new Error('rollback');
    await expect(
      getDeps().db.transaction().execute(async (tx) => {
        const m = (await sql<{ member_id: number }>`
          select member_id from member_scores where qualified order by member_id limit 1`.execute(tx)).rows[0]!.member_id;
        const last = (await sql<{ store_id: number }>`
          select store_id from baskets where member_id = ${m} and store_id is not null
          order by ts desc limit 1`.execute(tx)).rows[0]!.store_id;
        await sql`update members set home_store_id = null where id = ${m}`.execute(tx);
        // a history import without store_id, later than every basket at a till
        await sql`insert into baskets (member_id, store_id, txn_id, ts, total_cents, line_count, content_hash, source)
          values (${m}, null, 'no-store-1', '2026-10-30T22:00:00Z', 499, 1, 'x', 'import')`.execute(tx);
        await runListPeriod(tx, options({ periodStart: '2027-06-07', campaigns: [] }));
        const list = (await sql<{ id: number; store_id: number | null }>`
          select id, store_id from lists where member_id = ${m} and period_start = '2027-06-07'`.execute(tx)).rows[0]!;
        expect(list.store_id).toBe(last);
        expect(await storeListIds(tx, last, '2027-06-07')).toContain(list.id);
        throw rollback;
      }),
    ).rejects.toBe(rollback);
  });
});
