import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { calibrate } from '../../src/analytics/calibrate.ts';
import { computeCycles } from '../../src/analytics/cycles.ts';
import { exportPredictions, predictionCsvLine, scoreNextBasket, type PredictionRow } from '../../src/analytics/rank.ts';
import { ingestBaskets, type BasketInput } from '../../src/ingest/index.ts';
import { ConflictError } from '../../src/lib/errors.ts';
import { dbKind, useTestDeps } from '../support/db.ts';
import { gtin13, gtin14, seedCatalogue } from '../support/factories.ts';

const getDeps = useTestDeps();
const TZ = 'America/New_York';
/** Midnight, 1 November 2026 in New York (still EDT). */
const AS_OF = new Date('2026-11-01T04:00:00Z');

// X and Y are analgesics, W is milk, Z is unknown to the catalogue (no category).
const X = gtin14(gtin13(1));
const Y = gtin14(gtin13(2));
const W = gtin14(gtin13(3));
const Z = gtin14(gtin13(4));

let txn = 0;
function basket(member: string | null, ts: string, lines: [gtin: string, qty: number][]): BasketInput {
  return {
    storeId: 1,
    terminalId: 'T01',
    txnId: `c${++txn}`,
    ts,
    member: member === null ? null : { kind: 'number', ref: member },
    lines: lines.map(([gtin, qty]) => ({ gtin, qty, unitPriceCents: 100, lineDiscountCents: 0 })),
  };
}

async function rows<T>(query: ReturnType<typeof sql<T>>): Promise<T[]> {
  return (await query.execute(getDeps().db)).rows;
}

beforeAll(async () => {
  const deps = getDeps();
  await seedCatalogue(deps);
  const outcomes = await ingestBaskets(
    deps,
    [
      // X: twice on 1 October (two baskets, one with the line scanned twice), then every 10 days.
      basket('A1', '2026-10-01T10:00:00-04:00', [[X, 1], [X, 1]]),
      basket('A1', '2026-10-01T18:00:00-04:00', [[X, 1]]),
      basket('A1', '2026-10-11T10:00:00-04:00', [[X, 1]]),
      basket('A1', '2026-10-21T10:00:00-04:00', [[X, 2]]),
      // Y: once.
      basket('A1', '2026-10-05T10:00:00-04:00', [[Y, 1]]),
      // Z: bought, returned on a later day, bought and returned the same day: one purchase day.
      basket('A1', '2026-10-03T10:00:00-04:00', [[Z, 2]]),
      basket('A1', '2026-10-08T10:00:00-04:00', [[Z, -1]]),
      basket('A1', '2026-10-15T10:00:00-04:00', [[Z, 1], [Z, -1]]),
      // W: late evening and just after midnight, New York time: two days (one day in UTC).
      basket('A1', '2026-10-10T23:30:00-04:00', [[W, 1]]),
      basket('A1', '2026-10-11T00:30:00-04:00', [[W, 1]]),
      // On or after asOf: not history.
      basket('A1', '2026-11-01T00:00:00-04:00', [[X, 1], [Y, 1]]),
      basket('A1', '2026-11-02T10:00:00-05:00', [[X, 1]]),
      // Anonymous: never anyone's cycle.
      basket(null, '2026-10-02T10:00:00-04:00', [[X, 1], [Y, 1]]),
      // B shops only after asOf: as good as no baskets.
      basket('B1', '2026-11-03T10:00:00-05:00', [[X, 1]]),
    ],
    'pos',
  );
  expect(outcomes.map((o) => o.status)).toEqual(outcomes.map(() => 'created'));
  // C has no baskets at all.
  await deps.db.insertInto('members').values({ member_number: 'C1', status: 'registered' }).execute();
});

describe(`repurchase cycles on ${dbKind}: edge cases`, () => {
  it('counts store-local purchase days with net positive quantity, before asOf only', async () => {
    const summary = await computeCycles(getDeps().db, { asOf: AS_OF, timeZone: TZ });
    expect(summary).toMatchObject({ asOfDate: '2026-11-01', memberProducts: 4, memberCategories: 2 });
    const got = await rows(sql<Record<string, unknown>>`
      select m.member_number, c.gtin, c.category_id, c.purchase_days,
        c.first_purchase_date::text as first, c.last_purchase_date::text as last,
        c.observed_mean_gap_days as observed
      from member_product_cycles c join members m on m.id = c.member_id order by 2`);
    expect(got).toEqual([
      { member_number: 'A1', gtin: X, category_id: 'analgesics', purchase_days: 3, first: '2026-10-01', last: '2026-10-21', observed: 10 },
      { member_number: 'A1', gtin: Y, category_id: 'analgesics', purchase_days: 1, first: '2026-10-05', last: '2026-10-05', observed: null },
      { member_number: 'A1', gtin: W, category_id: 'milk', purchase_days: 2, first: '2026-10-10', last: '2026-10-11', observed: 1 },
      { member_number: 'A1', gtin: Z, category_id: null, purchase_days: 1, first: '2026-10-03', last: '2026-10-03', observed: null },
    ].sort((a, b) => a.gtin.localeCompare(b.gtin)));
  });

  it('shrinks toward the prior: one purchase takes it whole, more trust the member', async () => {
    // Too few pairs for a category prior: everything falls back to the global one, the geometric
    // mean gap of pairs with ≥ 3 purchase days (X alone: 10 days), and the default shape 1.5.
    const got = await rows(sql<{ gtin: string; prior: number; mean: number; shape: number; next: string }>`
      select gtin, prior_mean_gap_days as prior, mean_gap_days as mean,
        gap_shape as shape, next_expected_date::text as next
      from member_product_cycles order by 1`);
    const by = Object.fromEntries(got.map((r) => [r.gtin, r]));
    const expected = {
      [X]: { mean: 10, next: '2026-10-31' },
      [Y]: { mean: 10, next: '2026-10-15' },
      [Z]: { mean: 10, next: '2026-10-13' },
      // (1 · 10 + 1) / (1 + 1)
      [W]: { mean: 5.5, next: '2026-10-17' },
    };
    for (const [gtin, e] of Object.entries(expected)) {
      expect(by[gtin]).toMatchObject({ shape: 1.5, next: e.next });
      expect(by[gtin]!.prior).toBeCloseTo(10, 9);
      expect(by[gtin]!.mean).toBeCloseTo(e.mean, 9);
    }
  });

  it('keeps category cycles from the category purchase days', async () => {
    const got = await rows(sql<Record<string, unknown>>`
      select category_id, purchase_days, first_purchase_date::text as first,
        last_purchase_date::text as last, round(observed_mean_gap_days::numeric, 3)::float8 as observed
      from member_category_cycles order by 1`);
    expect(got).toEqual([
      // 1, 5, 11 and 21 October
      { category_id: 'analgesics', purchase_days: 4, first: '2026-10-01', last: '2026-10-21', observed: 6.667 },
      { category_id: 'milk', purchase_days: 2, first: '2026-10-10', last: '2026-10-11', observed: 1 },
    ]);
  });

  it('weights basket shares by recency, within 0–1', async () => {
    const got = await rows(sql<{ gtin: string; share: number }>`
      select gtin, basket_share as share from member_product_cycles`);
    for (const r of got) {
      expect(r.share).toBeGreaterThan(0);
      expect(r.share).toBeLessThanOrEqual(1);
    }
    const share = Object.fromEntries(got.map((r) => [r.gtin, r.share]));
    // Visit days: 1, 3, 5, 8, 10, 11, 15, 21 October. X on three of them.
    expect(share[X]).toBeCloseTo(3 / 8, 1);
    expect(share[X]).toBeGreaterThan(share[Y]!);
  });

  it('snapshots the back-test 14 days before asOf, with what happened after', async () => {
    const got = await rows(sql<Record<string, unknown>>`
      select gtin, purchase_days, elapsed_days, bought, cutoff_date::text as cutoff
      from member_product_backtest order by 1`);
    expect(got).toEqual(
      [
        // cutoff 18 October: X seen 1 and 11 October, bought again on the 21st
        { gtin: X, purchase_days: 2, elapsed_days: 7, bought: true, cutoff: '2026-10-18' },
        { gtin: Y, purchase_days: 1, elapsed_days: 13, bought: false, cutoff: '2026-10-18' },
        { gtin: W, purchase_days: 2, elapsed_days: 7, bought: false, cutoff: '2026-10-18' },
        { gtin: Z, purchase_days: 1, elapsed_days: 15, bought: false, cutoff: '2026-10-18' },
      ].sort((a, b) => a.gtin.localeCompare(b.gtin)),
    );
  });

  it('has no rows for members without baskets before asOf', async () => {
    for (const table of ['member_product_cycles', 'member_category_cycles', 'member_product_backtest'] as const) {
      const got = await rows(sql<{ member_number: string }>`
        select distinct m.member_number from ${sql.table(table)} t join members m on m.id = t.member_id`);
      expect(got).toEqual([{ member_number: 'A1' }]);
    }
  });

  it('is idempotent', async () => {
    const snapshot = () =>
      rows(sql`select * from member_product_cycles order by member_id, gtin`).then((r) => JSON.stringify(r));
    const before = await snapshot();
    await computeCycles(getDeps().db, { asOf: AS_OF, timeZone: TZ });
    expect(await snapshot()).toBe(before);
  });

  it('bins tied raw probabilities by key, not by the order the back-test rows were written in', async () => {
    // Back-tested pairs often share a raw probability (same purchase count, elapsed days and
    // prior). Here 800 pairs of one stratum all have 0.5, and the first 400 members bought: with
    // ties split in physical order, writing the rows in reverse turned falling bins (pooled to one
    // 0.5) into rising ones (0 … 1). The order a plan writes rows in changes with the tables'
    // statistics and between PostgreSQL and PGlite; the calibration must not.
    const db = getDeps().db;
    const asOf = new Date('2026-09-01T04:00:00Z'); // not AS_OF: later tests calibrate afresh
    const fit = async (order: 'asc' | 'desc') => {
      await sql`delete from member_product_backtest`.execute(db);
      await sql`
        insert into member_product_backtest (member_id, gtin, purchase_days, elapsed_days, mean_gap_days,
          gap_shape, basket_share, raw_prob, bought, cutoff_date, window_days, as_of)
        select m, ${X}, 5, 10, 10, 2, 0.1, 0.5, m <= 400, '2026-08-18', 14, ${asOf.toISOString()}::timestamptz
        from generate_series(1, 800) as m
        order by case when ${order} = 'asc' then m else -m end`.execute(db);
      await calibrate(db, { asOf, timeZone: TZ, windowDays: 14 });
      return rows(sql`
        select bin, pairs, bought, calibrated_prob from prediction_calibration order by count_bucket, ratio_bucket, bin`);
    };
    const ascending = await fit('asc');
    expect(ascending).toHaveLength(10);
    expect(await fit('desc')).toEqual(ascending);
  });

  it('scores, ranks and exports by member number; a past date leaves the tables alone', async () => {
    const db = getDeps().db;
    await calibrate(db, { asOf: AS_OF, timeZone: TZ });
    const summary = await scoreNextBasket(db, { asOf: AS_OF, timeZone: TZ });
    expect(summary).toMatchObject({ members: 1, rows: 4, calibrated: true });
    await expect(scoreNextBasket(db, { asOf: new Date('2026-10-20T04:00:00Z'), timeZone: TZ })).rejects.toThrow(ConflictError);

    const exported: PredictionRow[] = [];
    for await (const row of exportPredictions(db, { asOf: AS_OF, timeZone: TZ, top: 3 })) exported.push(row);
    expect(exported.map((r) => [r.memberNumber, r.rank])).toEqual([['A1', 1], ['A1', 2], ['A1', 3]]);
    for (const r of exported) {
      expect(r.gtin).toMatch(/^\d{14}$/);
      expect(r.prob).toBeGreaterThanOrEqual(0);
      expect(r.prob).toBeLessThanOrEqual(1);
      expect(r.predictedDate >= '2026-11-01').toBe(true);
      expect(predictionCsvLine(r)).toMatch(/^A1,\d{14},\d,\d\.\d{6},\d{4}-\d\d-\d\d,\d\.\d{4}$/);
    }
    expect(exported[0]!.score).toBeGreaterThanOrEqual(exported[1]!.score);

    // As of 20 October only the baskets before then count (X twice, not its 21 October purchase)…
    const past: PredictionRow[] = [];
    for await (const row of exportPredictions(db, { asOf: new Date('2026-10-20T04:00:00Z'), timeZone: TZ })) past.push(row);
    expect(past.map((r) => r.gtin).sort()).toEqual([X, Y, W, Z].sort());
    expect(past.every((r) => r.predictedDate >= '2026-10-20')).toBe(true);
    // …and the stored tables are still as of 1 November.
    const asOfs = await rows(sql<{ as_of: Date }>`
      select distinct as_of from member_product_cycles union select distinct as_of from member_product_scores`);
    expect(asOfs.map((r) => new Date(r.as_of).toISOString())).toEqual([AS_OF.toISOString()]);
    const x = await rows(sql<{ n: number }>`
      select purchase_days as n from member_product_cycles where gtin = ${X}`);
    expect(x).toEqual([{ n: 3 }]);
  });
});
