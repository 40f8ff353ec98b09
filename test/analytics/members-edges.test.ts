import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { computeCells } from '../../src/analytics/cells.ts';
import { computeMemberScores, memberProfile } from '../../src/analytics/members.ts';
import { computeTraits } from '../../src/analytics/traits.ts';
import {
  upsertCategories,
  upsertManufacturers,
  upsertMembers,
  upsertProducts,
  upsertStores,
} from '../../src/catalogue/index.ts';
import { ingestBaskets, type BasketInput } from '../../src/ingest/index.ts';
import { localToInstant } from '../../src/lib/time.ts';
import { defaultSettings, defaultTraits, type Settings } from '../../src/rules/settings.ts';
import { dbKind, useTestDeps } from '../support/db.ts';
import { gtin13, gtin14 } from '../support/factories.ts';

// Hand-built histories with exact expectations: one purchase, same-day baskets (also across a
// store's own midnight), returns, a member without baskets, anonymous baskets, baskets at or
// after asOf, a lapsed member and a spend drop.

const getDeps = useTestDeps();
const NY = 'America/New_York';
const LA = 'America/Los_Angeles';
/** Midnight starting 1 November 2026 in New York: the history is everything before it. */
const AS_OF = new Date('2026-11-01T04:00:00Z');
// one in six spending members is "the top 15%" only with a wider key-member share
const settings: Settings = { ...defaultSettings, tiers: { keyMemberTopShare: 0.2 } };
const opts = { asOf: AS_OF, timeZone: NY, settings };

const P = {
  coffeeN: gtin14(gtin13(11)),
  coffeeS: gtin14(gtin13(12)),
  milkN: gtin14(gtin13(13)),
  dog: gtin14(gtin13(14)),
  veg: gtin14(gtin13(15)),
  misc: gtin14(gtin13(16)),
};
const PRICE: Record<string, number> = {
  [P.coffeeN]: 899,
  [P.coffeeS]: 599,
  [P.milkN]: 399,
  [P.dog]: 2499,
  [P.veg]: 199,
  [P.misc]: 100,
};

const GONE_DAYS = every('2025-11-03', '2026-08-21', 3);
const weeksSince = (local: string) =>
  (AS_OF.getTime() - Date.parse(localToInstant(local, NY)!)) / 604_800_000;

let txn = 0;
/** A basket at a store-local wall-clock time; lines are [gtin, qty]. */
function at(
  member: string | null,
  local: string,
  lines: Array<[string, number]>,
  storeId = 1,
): BasketInput {
  return {
    storeId,
    terminalId: 'T1',
    txnId: `e${++txn}`,
    ts: localToInstant(local, storeId === 2 ? LA : NY)!,
    member: member === null ? null : { kind: 'number', ref: member },
    lines: lines.map(([gtin, qty]) => ({
      gtin,
      qty,
      unitPriceCents: PRICE[gtin]!,
      lineDiscountCents: 0,
    })),
  };
}

/** Dates from `from` while before `until`, every `step` days. */
function every(from: string, until: string, step: number): string[] {
  const out: string[] = [];
  for (
    let t = Date.parse(`${from}T00:00:00Z`);
    t < Date.parse(`${until}T00:00:00Z`);
    t += step * 86_400_000
  ) {
    out.push(new Date(t).toISOString().slice(0, 10));
  }
  return out;
}

async function cell(member: string, category: string) {
  const { rows } = await sql<{
    purchase_days: number;
    units: number;
    units_per_week: number;
    spend_cents: number;
    store_share: number | null;
    loyalty: string;
    volume: string;
  }>`
    select c.purchase_days, c.units, c.units_per_week, c.spend_cents, c.store_share, c.loyalty, c.volume
    from member_category_cells c join members m on m.id = c.member_id
    where m.member_number = ${member} and c.category_id = ${category}`.execute(getDeps().db);
  return rows[0];
}

async function scores(member: string) {
  return (await memberProfile(getDeps().db, member)).scores!;
}

beforeAll(async () => {
  const deps = getDeps();
  await upsertStores(deps, [
    { id: 1, name: 'Main Street', timeZone: NY },
    { id: 2, name: 'Sunset Blvd', timeZone: LA },
  ]);
  await upsertManufacturers(deps, [
    { id: 'acme', name: 'Acme' },
    { id: 'store', name: 'Cadence Market' },
  ]);
  await upsertCategories(deps, [
    { id: 'coffee', name: 'Coffee' },
    { id: 'milk', name: 'Milk' },
    { id: 'dog_food', name: 'Dog food' },
    { id: 'vegetables', name: 'Fresh vegetables' },
  ]);
  const product = (gtin: string, categoryId: string | null, brandType: 'national' | 'store') => ({
    gtin,
    name: gtin,
    categoryId,
    brand: brandType === 'store' ? 'Cadence Market' : 'Acme',
    brandType,
    manufacturerId: brandType === 'store' ? 'store' : 'acme',
    priceCents: PRICE[gtin]!,
  });
  await upsertProducts(deps, [
    product(P.coffeeN, 'coffee', 'national'),
    product(P.coffeeS, 'coffee', 'store'),
    product(P.milkN, 'milk', 'national'),
    product(P.dog, 'dog_food', 'national'),
    product(P.veg, 'vegetables', 'store'),
    product(P.misc, null, 'national'),
  ]);
  await upsertMembers(
    deps,
    ['REG', 'ONE', 'DUP', 'RET', 'NONE', 'GONE', 'DROP'].map((memberNumber) => ({
      memberNumber,
      householdSize: 2,
    })),
  );

  const baskets: BasketInput[] = [];
  // REG: every Saturday for a year (store-brand coffee, national milk, vegetables), dog food
  // every fourth week, uncategorised items that count in spend only.
  every('2025-11-08', '2026-11-01', 7).forEach((d, i) => {
    const lines: Array<[string, number]> = [
      [P.coffeeS, 1],
      [P.milkN, 4],
      [P.veg, 3],
      [P.misc, 2],
    ];
    if (i % 4 === 0) lines.push([P.dog, 1]);
    baskets.push(at('REG', `${d} 10:00`, lines));
  });
  // … and baskets at and after asOf, which must not count
  baskets.push(at('REG', '2026-11-01 00:00', [[P.coffeeN, 50]]));
  baskets.push(at('REG', '2026-11-03 12:00', [[P.coffeeN, 50]]));
  // ONE: a single purchase
  baskets.push(at('ONE', '2026-10-20 12:00', [[P.coffeeN, 1]]));
  // DUP: two baskets on 10 October; two at the Los Angeles store on its 24 October (the second
  // is already 25 October in New York)
  baskets.push(at('DUP', '2026-10-10 09:00', [[P.coffeeN, 1]]));
  baskets.push(at('DUP', '2026-10-10 18:00', [[P.coffeeN, 1]]));
  baskets.push(at('DUP', '2026-10-17 09:00', [[P.coffeeN, 1]]));
  baskets.push(at('DUP', '2026-10-24 10:00', [[P.coffeeN, 1]], 2));
  baskets.push(at('DUP', '2026-10-24 23:30', [[P.coffeeN, 1]], 2));
  // RET: buys, returns two store-brand packs the next week, buys again
  baskets.push(
    at('RET', '2026-09-05 10:00', [
      [P.coffeeS, 3],
      [P.coffeeN, 1],
    ]),
  );
  baskets.push(at('RET', '2026-09-12 10:00', [[P.coffeeS, -2]]));
  baskets.push(at('RET', '2026-09-19 10:00', [[P.coffeeN, 1]]));
  baskets.push(at('RET', '2026-09-26 10:00', [[P.coffeeN, 1]]));
  // GONE: every third day, then nothing after mid-August
  for (const d of GONE_DAYS) baskets.push(at('GONE', `${d} 17:00`, [[P.milkN, 2]]));
  // DROP: every Saturday; $50 a week until early September, then $10
  for (const d of every('2025-11-08', '2026-11-01', 7)) {
    baskets.push(
      at(
        'DROP',
        `${d} 11:00`,
        d < '2026-09-06'
          ? [
              [P.dog, 2],
              [P.misc, 2],
            ]
          : [[P.misc, 10]],
      ),
    );
  }
  // anonymous walk-ins buy plenty of everything
  for (const d of every('2026-06-01', '2026-11-01', 2)) {
    baskets.push(
      at(null, `${d} 12:00`, [
        [P.coffeeN, 5],
        [P.veg, 9],
        [P.dog, 1],
      ]),
    );
  }
  const outcomes = await ingestBaskets(deps, baskets, 'pos');
  expect(outcomes.filter((o) => o.status !== 'created')).toEqual([]);

  await computeCells(deps.db, opts);
  await computeMemberScores(deps.db, opts);
  await computeTraits(deps.db, { asOf: AS_OF, timeZone: NY, traits: defaultTraits });
});

describe(`member analytics edge cases on ${dbKind}`, () => {
  it('leaves a single purchase unclassified, and finds no rhythm in it', async () => {
    expect(await cell('ONE', 'coffee')).toMatchObject({
      purchase_days: 1,
      units: 1,
      spend_cents: 899,
      store_share: 0,
      loyalty: 'unclassified',
      volume: 'unclassified',
    });
    expect(await scores('ONE')).toMatchObject({
      visitDays: 1,
      lastVisitDate: '2026-10-20',
      daysSinceLastVisit: 12,
      meanVisitGapDays: null,
      visitGapProbability: null,
      churnRisk: false,
      churnReason: null,
      tier: 'regular',
    });
  });

  it("counts same-day baskets as one purchase day, in the store's own time zone", async () => {
    expect(await cell('DUP', 'coffee')).toMatchObject({
      purchase_days: 3,
      units: 5,
      loyalty: 'national',
    });
    expect(await scores('DUP')).toMatchObject({ visitDays: 3, lastVisitDate: '2026-10-24' });
  });

  it('nets returns: units, spend and store share after the return', async () => {
    // store 3 − 2 = 1 unit, national 3 units: store share 0.25, a switcher; the return day is not
    // a purchase day
    expect(await cell('RET', 'coffee')).toMatchObject({
      purchase_days: 3,
      units: 4,
      spend_cents: 599 + 3 * 899,
      store_share: 0.25,
      loyalty: 'switcher',
    });
  });

  it('ranks volume in tertiles of units per week observed among all the buyers', async () => {
    // weeks observed run from each member's first basket: REG 52 units since 8 November 2025
    // (≈ 1/week); DUP 5 units since 10 October (≈ 1.6/week); RET 4 units since 5 September (≈ 0.5);
    // ONE 1 unit since 20 October (≈ 0.6/week, unclassified but a buyer: it takes the middle
    // rank of four, so REG is above two thirds of the buyers)
    expect((await cell('REG', 'coffee'))!.units_per_week).toBeCloseTo(
      52 / weeksSince('2025-11-08 10:00'),
      9,
    );
    expect((await cell('DUP', 'coffee'))!.units_per_week).toBeCloseTo(
      5 / weeksSince('2026-10-10 09:00'),
      9,
    );
    expect((await cell('RET', 'coffee'))!.units_per_week).toBeCloseTo(
      4 / weeksSince('2026-09-05 10:00'),
      9,
    );
    expect(await cell('REG', 'coffee')).toMatchObject({
      loyalty: 'store',
      volume: 'high',
      units: 52,
    });
    expect((await cell('DUP', 'coffee'))!.volume).toBe('high');
    expect((await cell('RET', 'coffee'))!.volume).toBe('low');
    expect((await cell('ONE', 'coffee'))!.volume).toBe('unclassified');
  });

  it('ignores baskets at or after asOf, anonymous baskets and uncategorised products', async () => {
    const db = getDeps().db;
    const { rows } = await sql<{ n: number }>`
      select count(*)::int as n from member_category_cells where member_id = 0`.execute(db);
    expect(rows[0]!.n).toBe(0);
    expect(
      await db.selectFrom('member_scores').select('member_id').where('member_id', '=', 0).execute(),
    ).toEqual([]);
    const reg = await scores('REG');
    expect(reg.visitDays).toBe(52);
    expect(reg.lastVisitDate).toBe('2026-10-31');
    // spend counts uncategorised lines; the 50-unit baskets on and after 1 November do not count
    const weekly = 599 + 4 * 399 + 3 * 199 + 2 * 100;
    expect(reg.spendCents).toBe(52 * weekly + 13 * 2499);
    expect(await cell('REG', 'milk')).toMatchObject({ units: 208, loyalty: 'national' });
  });

  it('gives a member without baskets a row: no spend, inactive, development, no warning', async () => {
    expect(await scores('NONE')).toEqual({
      visitDays: 0,
      spendCents: 0,
      weeklySpendCents: 0,
      qualified: false,
      tier: 'inactive',
      shareOfWallet: 0,
      stage: 'development',
      lastVisitDate: null,
      daysSinceLastVisit: null,
      meanVisitGapDays: null,
      visitGapProbability: null,
      recentSpendCents: 0,
      priorSpendCents: 0,
      churnRisk: false,
      churnReason: null,
    });
    const profile = await memberProfile(getDeps().db, 'NONE');
    expect(profile.cells).toEqual([]);
    expect(profile.traits).toEqual([]);
  });

  it('qualifies on average weekly spend over the last 8 weeks, and ranks the key tier', async () => {
    const reg = await scores('REG');
    // 8 Saturdays in the last 8 weeks, two of them with dog food
    expect(reg.weeklySpendCents).toBe(
      Math.round((8 * (599 + 4 * 399 + 3 * 199 + 200) + 2 * 2499) / 8),
    );
    expect(reg.qualified).toBe(true);
    const drop = await scores('DROP');
    expect(drop.weeklySpendCents).toBe(1000);
    expect(drop.qualified).toBe(false);
    // DROP spent most over the year: the top 20% of six spending members
    expect(drop.tier).toBe('key');
    expect(reg.tier).toBe('regular');
  });

  it('flags a lapsed member by visit gap and a shrinking one by spend drop, with reasons', async () => {
    const gone = await scores('GONE');
    const last = GONE_DAYS.at(-1)!;
    const elapsed = (Date.parse('2026-11-01') - Date.parse(last)) / 86_400_000;
    expect(gone.lastVisitDate).toBe(last);
    expect(gone.daysSinceLastVisit).toBe(elapsed);
    expect(elapsed).toBeGreaterThan(70);
    // visits within the 52 weeks before the last one, every third day
    expect(gone.meanVisitGapDays).toBe(3);
    expect(gone.visitGapProbability!).toBeCloseTo(Math.exp(-elapsed / 3), 15);
    expect(gone).toMatchObject({ churnRisk: true, churnReason: 'visit_gap' });

    const drop = await scores('DROP');
    expect(drop).toMatchObject({
      recentSpendCents: 8 * 1000,
      priorSpendCents: 8 * (2 * 2499 + 200),
      churnRisk: true,
      churnReason: 'spend_drop',
    });
    expect(drop.visitGapProbability!).toBeGreaterThan(0.5);
    for (const m of ['REG', 'ONE', 'DUP', 'RET', 'NONE'])
      expect((await scores(m)).churnRisk, m).toBe(false);
  });

  it('bounds share of wallet to [0, 1] and ranks a weekly full-year shopper above a one-off', async () => {
    const all = await getDeps()
      .db.selectFrom('member_scores')
      .select(['share_of_wallet', 'stage'])
      .execute();
    expect(all).toHaveLength(7);
    for (const r of all) {
      expect(r.share_of_wallet).toBeGreaterThanOrEqual(0);
      expect(r.share_of_wallet).toBeLessThanOrEqual(1);
    }
    expect((await scores('REG')).shareOfWallet).toBeGreaterThan(
      (await scores('ONE')).shareOfWallet,
    );
    // every third day for most of the year: the most loyal-looking member here
    expect((await scores('GONE')).shareOfWallet).toBe(1);
  });

  it('finds traits from category rules, never from anonymous baskets', async () => {
    const traits = async (m: string) => (await memberProfile(getDeps().db, m)).traits;
    expect(await traits('REG')).toEqual(['dog_owner', 'vegetable_lover']);
    // dog food on 35 Saturdays
    expect(await traits('DROP')).toEqual(['dog_owner']);
    expect(await traits('ONE')).toEqual([]);
    const { rows } = await sql<{
      n: number;
    }>`select count(*)::int as n from member_traits where member_id = 0`.execute(getDeps().db);
    expect(rows[0]!.n).toBe(0);
  });

  it('is idempotent: a second run writes the same rows', async () => {
    const db = getDeps().db;
    const snapshot = async () => ({
      cells: await db
        .selectFrom('member_category_cells')
        .selectAll()
        .orderBy('member_id').orderBy('category_id')
        .execute(),
      scores: await db.selectFrom('member_scores').selectAll().orderBy('member_id').execute(),
      traits: await db
        .selectFrom('member_traits')
        .selectAll()
        .orderBy('member_id').orderBy('trait')
        .execute(),
    });
    const before = await snapshot();
    await computeCells(db, opts);
    await computeMemberScores(db, opts);
    await computeTraits(db, { asOf: AS_OF, timeZone: NY, traits: defaultTraits });
    expect(await snapshot()).toEqual(before);
  });

  it('refuses member scores over cells computed as of another instant', async () => {
    const db = getDeps().db;
    const earlier = new Date('2026-10-01T04:00:00Z');
    await expect(computeMemberScores(db, { ...opts, asOf: earlier })).rejects.toThrow(
      /run computeCells first/,
    );
  });
});
