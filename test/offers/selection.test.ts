import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { pickOffers, type CampaignAssignment, type PromotedProduct } from '../../src/offers/assign.ts';
import type { CampaignSpec } from '../../src/offers/spec.ts';
import { dbKind, useTestDeps } from '../support/db.ts';

// A hand-built chain small enough to assign by hand: three members and fixed-timing campaigns on
// products without a category, so every figure follows from the comment block of assign.ts.
// Valid 14 days from the period start, a member of mean visit gap g is given p = 1 − exp(−14 / g):
// the gaps below make p exactly ¾, ½ and ¼ (up to floating point).

const getDeps = useTestDeps();
const TZ = 'America/New_York';
const PERIOD = '2026-11-02';
const P = { m1: 0.75, m2: 0.5, m3: 0.25 } as const;
const rollback = new Error('rollback');
const gapFor = (p: number) => 14 / -Math.log(1 - p);

function campaign(id: string, overrides: Partial<CampaignSpec> = {}): CampaignSpec {
  return {
    id,
    name: id,
    hash: `h-${id}`,
    activeFrom: null,
    activeTo: null,
    promotes: { categories: [], gtins: [`gtin-${id}`], brands: [], brandType: null },
    audience: {
      cells: [],
      traits: [],
      tiers: [],
      stages: [],
      qualifiedOnly: false,
      churnRisk: null,
      exclude: { cells: [], traits: [], tiers: [], stages: [], churnRisk: null },
    },
    offer: { kind: 'amount_off', ladder: { low: 100, medium: 100, high: 100, unclassified: 100 }, minQty: 1, maxUnits: 1, minSpendCents: 0 },
    timing: { kind: 'fixed', validDays: 14, from: null, to: null },
    limits: { usesPerOffer: 1, perMemberTotal: null },
    budget: { maxOffers: null, maxCostCents: null },
    funding: { manufacturerId: null, share: 0 },
    holdoutPercent: 0,
    priority: 1,
    stackingGroup: null,
    content: [],
    ...overrides,
  };
}

interface Pick {
  member_id: number;
  campaign_id: string;
  expected_cost_cents: number;
  expected_value_cents: number;
}

/** Runs the assignment (rolled back) and returns the picks and the per-campaign figures. */
async function assign(
  campaigns: CampaignSpec[],
  prices: Record<string, number>,
  maxOffers = 12,
): Promise<{ picks: Pick[]; figures: CampaignAssignment[] }> {
  const products = new Map<string, PromotedProduct[]>(
    campaigns.map((c) => [c.id, [{ gtin: `gtin-${c.id}`, categoryId: null, priceCents: prices[c.id]! }]]),
  );
  let out!: { picks: Pick[]; figures: CampaignAssignment[] };
  await getDeps().db.transaction().execute(async (tx) => {
    const figures = await pickOffers(tx, {
      periodStart: PERIOD,
      periodDays: 14,
      maxOffers,
      campaigns,
      analyticsAsOf: new Date('2026-11-01T04:00:00Z'),
      timeZone: TZ,
      products,
    });
    const { rows } = await sql<Pick>`
      select member_id::int as member_id, campaign_id, expected_cost_cents, expected_value_cents
      from offer_picks order by member_id, campaign_id collate "C"`.execute(tx);
    out = { picks: rows, figures };
    throw rollback; // keeps nothing
  }).catch((e: unknown) => {
    if (e !== rollback) throw e;
  });
  return out;
}

beforeAll(async () => {
  const { db } = getDeps();
  for (const [i, p] of [P.m1, P.m2, P.m3].entries()) {
    await sql`
      insert into member_scores (member_id, visit_days, spend_cents, weekly_spend_cents, qualified, tier,
        share_of_wallet, stage, mean_visit_gap_days, recent_spend_cents, prior_spend_cents, churn_risk)
      values (${i + 1}, 10, 100000, 5000, true, 'regular', 0.5, 'stable', ${gapFor(p)}, 50000, 50000, false)`.execute(db);
  }
});

describe(`offer selection on a hand-built chain on ${dbKind}`, () => {
  it('values a buy-2-get-1 at the units taken home: the 2 bought and the 1 free are all sales', async () => {
    // At P = 300 a redemption takes 3 units home (900 of sales) and frees 1 (cost 300). Expected
    // value to the chain = p · 900 − p · 300 · (1 − funded share); expected cost = p · 300.
    const bogo = (share: number) =>
      campaign(`bogo-${share}`, {
        offer: { kind: 'buy_x_get_y', ladder: { low: 1, medium: 1, high: 1, unclassified: 1 }, minQty: 2, maxUnits: null, minSpendCents: 0 },
        funding: { manufacturerId: share ? 'acme' : null, share },
      });
    const { picks } = await assign([bogo(0), bogo(0.2)], { 'bogo-0': 300, 'bogo-0.2': 300 });
    const ev = (p: number, share: number) => Math.round(p * 900 - p * 300 * (1 - share));
    expect(picks).toEqual([
      { member_id: 1, campaign_id: 'bogo-0', expected_cost_cents: 225, expected_value_cents: ev(P.m1, 0) },
      { member_id: 1, campaign_id: 'bogo-0.2', expected_cost_cents: 225, expected_value_cents: ev(P.m1, 0.2) },
      { member_id: 2, campaign_id: 'bogo-0', expected_cost_cents: 150, expected_value_cents: ev(P.m2, 0) },
      { member_id: 2, campaign_id: 'bogo-0.2', expected_cost_cents: 150, expected_value_cents: ev(P.m2, 0.2) },
      { member_id: 3, campaign_id: 'bogo-0', expected_cost_cents: 75, expected_value_cents: ev(P.m3, 0) },
      { member_id: 3, campaign_id: 'bogo-0.2', expected_cost_cents: 75, expected_value_cents: ev(P.m3, 0.2) },
    ]);
    expect(ev(P.m2, 0)).toBe(300); // ½ · 900 − ½ · 300
    expect(ev(P.m2, 0.2)).toBe(330); // ½ · 900 − ½ · 300 · 0.8
  });
});

describe(`budgets inside stacking and the list cap, on a hand-built chain on ${dbKind}`, () => {
  // One offer per list (maxOffers 1). A and B are an exclusive group, A first by priority; C
  // stands alone. At p = ¾, ½, ¼ (members 1, 2, 3) the expected values are
  //   A: 1000 − 100 off → 900 p = 675, 450, 225    (budget: 1 offer)
  //   B: 1000 −  50 off → 950 p = 713, 475, 238    (budget: 1 offer)
  //   C:  500 − 200 off → 300 p = 225, 150,  75
  // Stacking gives everyone A, the cap keeps it over C; A's budget reaches member 1 only. Member 2
  // then gets the group's next offer, B (B's budget: its best, 475 over 238); member 3, cut by
  // both budgets, gets the list slot back for C.
  const A = campaign('a-first', { stackingGroup: 'g', priority: 10, budget: { maxOffers: 1, maxCostCents: null } });
  const B = campaign('b-second', {
    stackingGroup: 'g',
    priority: 5,
    offer: { ...A.offer, ladder: { low: 50, medium: 50, high: 50, unclassified: 50 } },
    budget: { maxOffers: 1, maxCostCents: null },
  });
  const C = campaign('c-alone', { offer: { ...A.offer, ladder: { low: 200, medium: 200, high: 200, unclassified: 200 } } });
  const prices = { 'a-first': 1000, 'b-second': 1000, 'c-alone': 500 };

  it('gives a member cut by a budget the next offer of the group, or the list slot to another campaign', async () => {
    const { picks, figures } = await assign([A, B, C], prices, 1);
    expect(picks.map((p) => [p.member_id, p.campaign_id, p.expected_value_cents])).toEqual([
      [1, 'a-first', 675],
      [2, 'b-second', 475],
      [3, 'c-alone', 75],
    ]);
    expect(figures.map((f) => [f.campaignId, f.candidates, f.offers])).toEqual([
      ['a-first', 3, 1],
      ['b-second', 3, 1],
      ['c-alone', 3, 1],
    ]);
    // same inputs, same offers, whatever order the campaigns come in
    expect((await assign([C, B, A], prices, 1)).picks).toEqual(picks);
  });

  it('spends a cost budget the same way, and leaves room on a longer list to the next offer', async () => {
    // A's budget by cost: 75 + 50 cents of expected cost reach members 1 and 2, not 3 (25 more).
    const byCost = { ...A, budget: { maxOffers: null, maxCostCents: 125 } };
    const { picks } = await assign([byCost, B, C], prices, 2);
    expect(picks.map((p) => [p.member_id, p.campaign_id])).toEqual([
      [1, 'a-first'], [1, 'c-alone'],
      [2, 'a-first'], [2, 'c-alone'],
      // B's one offer goes to its best member left, 3; C keeps the second slot
      [3, 'b-second'], [3, 'c-alone'],
    ]);
  });
});
