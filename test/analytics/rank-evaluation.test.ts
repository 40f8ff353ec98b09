import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { computeCycles } from '../../src/analytics/cycles.ts';
import { scoreNextBasket } from '../../src/analytics/rank.ts';
import { evaluateLastBaskets } from '../../src/analytics/rank-evaluation.ts';
import { withTx } from '../../src/db/index.ts';
import { ingestBaskets, type BasketInput } from '../../src/ingest/index.ts';
import { dbKind, useTestDeps } from '../support/db.ts';
import { gtin13, gtin14, seedCatalogue } from '../support/factories.ts';

const getDeps = useTestDeps();
const TZ = 'America/New_York';
/** The window: members whose last basket is on 18–31 October (New York) are evaluated. */
const FROM = new Date('2026-10-18T04:00:00Z');
const TO = new Date('2026-11-01T04:00:00Z');

const X = gtin14(gtin13(1));
const Y = gtin14(gtin13(2));
const W = gtin14(gtin13(3));

let txn = 0;
function basket(member: string, ts: string, gtins: string[]): BasketInput {
  return {
    storeId: 1,
    terminalId: 'T01',
    txnId: `e${++txn}`,
    ts,
    member: { kind: 'number', ref: member },
    lines: gtins.map((gtin) => ({ gtin, qty: 1, unitPriceCents: 100, lineDiscountCents: 0 })),
  };
}

beforeAll(async () => {
  const deps = getDeps();
  await seedCatalogue(deps);
  const outcomes = await ingestBaskets(
    deps,
    [
      // A: X on two days, Y on one; on 25 October Y in the morning, then the last basket, Y again.
      // The morning's Y is not history (same day): X stays P-TopFreq's first. A basket after `to`
      // does not count.
      basket('A1', '2026-10-01T10:00:00-04:00', [X]),
      basket('A1', '2026-10-03T10:00:00-04:00', [Y]),
      basket('A1', '2026-10-13T10:00:00-04:00', [X]),
      basket('A1', '2026-10-25T09:00:00-04:00', [Y]),
      basket('A1', '2026-10-25T18:00:00-04:00', [Y]),
      basket('A1', '2026-11-02T10:00:00-05:00', [W]),
      // B: last basket before the window: lapsed, not evaluated.
      basket('B1', '2026-10-01T10:00:00-04:00', [X]),
      basket('B1', '2026-10-10T10:00:00-04:00', [X]),
      // C: W on two days, X the day before the last basket (after the window opens: still history).
      basket('C1', '2026-10-02T10:00:00-04:00', [W]),
      basket('C1', '2026-10-04T10:00:00-04:00', [W]),
      basket('C1', '2026-10-27T10:00:00-04:00', [X]),
      basket('C1', '2026-10-28T10:00:00-04:00', [X, W]),
      // D: one basket, in the window: no history to rank from.
      basket('D1', '2026-10-20T10:00:00-04:00', [X]),
    ],
    'pos',
  );
  expect(outcomes.map((o) => o.status)).toEqual(outcomes.map(() => 'created'));
  // The stored predictions, as of the window's start: the evaluation must leave them as they are.
  await computeCycles(deps.db, { asOf: FROM, timeZone: TZ });
  await scoreNextBasket(deps.db, { asOf: FROM, timeZone: TZ });
});

async function storedScores() {
  return (
    await sql<{ as_of: Date; n: number }>`
      select min(as_of) as as_of, count(*)::int as n from member_product_scores`.execute(getDeps().db)
  ).rows[0]!;
}

describe(`next-basket evaluation on last baskets (${dbKind})`, () => {
  it('holds out each member’s last basket and ranks from the days before it', async () => {
    const before = await storedScores();
    const e = await evaluateLastBaskets(getDeps().db, {
      from: FROM,
      to: TO,
      timeZone: TZ,
      k: 1,
      // A reference that knows the basket: every first slot a hit.
      references: {
        oracle: sql`select member_id, gtin, row_number() over (partition by member_id order by gtin) as rank
          from eval_held`,
      },
    });
    // A, B, C, D have baskets; A, C and D a last one in the window, each on a day of its own;
    // D no history.
    expect(e).toMatchObject({ membersWithBaskets: 4, membersInWindow: 3, members: 2, days: 3, k: 1 });
    // A's basket {Y}, C's {X, W}: every product seen before, X only thanks to 27 October.
    expect(e.basketSize).toBe(1.5);
    expect(e.seenBefore).toBe(1);
    // P-TopFreq's first: A's X (a miss), C's W (one of two).
    expect(e.topFreq.recall).toBeCloseTo(0.25, 12);
    expect(e.topFreq.ndcg).toBeCloseTo(0.5, 12);
    expect(e.references.oracle).toEqual({ recall: 0.75, ndcg: 1 });
    expect(e.model.recall).toBeGreaterThanOrEqual(0);
    // Rolled back: the stored scores are still those as of the window's start.
    expect(await storedScores()).toEqual(before);
  });

  it('runs inside a caller’s transaction and leaves it usable', async () => {
    const before = await storedScores();
    const recall = await withTx(getDeps().db, async (tx) => {
      const e = await evaluateLastBaskets(tx, { from: FROM, to: TO, timeZone: TZ, k: 10 });
      await sql`select 1`.execute(tx);
      return e.topFreq.recall;
    });
    // With ten slots every product bought before is ranked.
    expect(recall).toBe(1);
    expect(await storedScores()).toEqual(before);
  });

  it('rejects an empty window', async () => {
    await expect(evaluateLastBaskets(getDeps().db, { from: TO, to: FROM, timeZone: TZ })).rejects.toThrow(RangeError);
  });
});
