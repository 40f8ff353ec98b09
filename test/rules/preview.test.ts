import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { categoryCellMatrix } from '../../src/analytics/cells.ts';
import { expectedGapDays, windowProbability } from '../../src/analytics/predict.ts';
import { runAnalyse } from '../../src/jobs/analyse.ts';
import { withTx } from '../../src/db/index.ts';
import { runListPeriod } from '../../src/lists/period.ts';
import { pickOffers } from '../../src/offers/assign.ts';
import { campaignSpec } from '../../src/offers/from-rules.ts';
import { readRuleFiles } from '../../src/rules/node.ts';
import {
  cellMatches,
  checkRuleFiles,
  defaultRuleSet,
  formatIssue,
  formatRulesCheck,
  inHoldout,
  parseCampaignAgainst,
  previewCampaign,
  type Campaign,
  type RuleFileText,
} from '../../src/rules/index.ts';
import { generateChain, loadSimChain } from '../../src/sim/index.ts';
import { useTestDeps } from '../support/db.ts';

const getDeps = useTestDeps();
const AS_OF = '2026-10-31T04:00:00Z';
const TODAY = '2026-10-31';
const shipped = readRuleFiles(new URL('../../rules', import.meta.url).pathname);

beforeAll(async () => {
  const deps = getDeps();
  await loadSimChain(deps, generateChain({ seed: 7, members: 400, stores: 2, weeks: 30, endDate: '2026-10-30' }));
  await runAnalyse(deps, { asOf: new Date(AS_OF), timeZone: 'America/New_York', rules: defaultRuleSet });
}, 300_000);

async function campaignOf(text: string): Promise<Campaign> {
  const { rules } = await parseCampaignAgainst(defaultRuleSet, { name: 'campaigns/t.yaml', text });
  return rules.campaigns[0]!;
}

const preview = (c: Campaign) =>
  previewCampaign(getDeps().db, c, { settings: defaultRuleSet.settings, timeZone: 'America/New_York' });

const dateText = (d: unknown) => (d instanceof Date ? d.toISOString().slice(0, 10) : String(d));
const dayDiff = (a: string, b: string) => Math.round((Date.parse(a) - Date.parse(b)) / 86_400_000);

/** The offers (not controls) the list job would pick for campaign `c` alone this period, rolled back. */
async function listJobPicks(c: Campaign) {
  return withTx(getDeps().db, async (tx) => {
    await pickOffers(tx, {
      periodStart: TODAY, periodDays: 14, maxOffers: 1000, campaigns: [campaignSpec(c)],
      analyticsAsOf: new Date(AS_OF), timeZone: 'America/New_York',
    });
    return (await sql<{ probability: number; expected_cost_cents: number }>`
      select probability, expected_cost_cents from offer_picks where not control`.execute(tx)).rows;
  });
}

describe('rules check against a simulated chain', () => {
  it('validates the shipped rules against the catalogue and previews every campaign', async () => {
    const result = await checkRuleFiles(getDeps(), shipped);
    expect(result.issues.map(formatIssue)).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.previews).toHaveLength(8);
    for (const p of result.previews) {
      expect(p.asOf).toBe('2026-10-31T04:00:00.000Z');
      expect(p.total.reached, p.campaignId).toBeGreaterThan(0);
      expect(p.total.offers, p.campaignId).toBeLessThanOrEqual(p.total.reached - p.total.heldOut);
    }
    const funded = result.previews.find((p) => p.campaignId === 'relievo-keep-switchers')!;
    expect(funded.total.vendorFundedCents).toBe(Math.round(funded.rows.reduce((n, r) => n + r.expectedCostCents, 0) * 0.75));
    const report = formatRulesCheck(result);
    for (const line of report.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
    expect(report).toMatch(/^analgesic-store-brand\n  file: .*rules\/campaigns\/analgesic-store-brand\.yaml$/m);
    expect(report).toMatch(/^national\/high +\d+ +\d+ +\d+ +\d+\.\d +\$[\d,.]+ +\$[\d,.]+$/m);
  });

  it('names file, line, column and field of every bad reference, with hints', async () => {
    const bad: RuleFileText = {
      name: 'campaigns/bad.yaml',
      text: [
        'id: bad-refs', // 1
        'name: Bad references', // 2
        'active: { from: 2026-01-01, to: 2026-12-31 }', // 3
        'promotes:', // 4
        '  categories: [analgesic]', // 5
        '  brands: [Relevo]', // 6
        '  gtins: ["0000000000017"]', // 7
        'offer: { kind: percent_off, percent: 10 }', // 8
        'funding:', // 9
        '  manufacturer: meridan', // 10
        '  share: 0.5', // 11
      ].join('\n'),
    };
    const result = await checkRuleFiles(getDeps(), [...shipped, bad]);
    expect(result.ok).toBe(false);
    expect(result.issues.map(formatIssue)).toEqual([
      'rules/campaigns/bad.yaml:5:16 promotes.categories[0]: unknown category analgesic; did you mean analgesics?',
      'rules/campaigns/bad.yaml:7:11 promotes.gtins[0]: unknown GTIN 00000000000017: not in the catalogue',
      'rules/campaigns/bad.yaml:6:12 promotes.brands[0]: unknown brand Relevo; did you mean Relievo?',
      'rules/campaigns/bad.yaml:10:3 funding.manufacturer: unknown manufacturer meridan; did you mean meridian?',
    ]);
  });

  it('refuses promotes that match nothing and a funder who makes none of the products', async () => {
    const text = (promotes: string, funder: string) => ({
      name: 'campaigns/x.yaml',
      text: `id: x\nname: X\nactive: { from: 2026-01-01, to: 2026-12-31 }\npromotes: ${promotes}\n` +
        `offer: { kind: percent_off, percent: 10 }\nfunding: { manufacturer: ${funder}, share: 0.5 }\n`,
    });
    const none = await checkRuleFiles(getDeps(), [text('{ categories: [milk], brands: [Relievo] }', 'meridian')]);
    expect(none.issues.map(formatIssue)).toEqual([
      'rules/campaigns/x.yaml:4:1 promotes: matches no product in the catalogue (its filters all have to hold)',
    ]);
    const funder = await checkRuleFiles(getDeps(), [text('{ brands: [Relievo] }', 'kestrel')]);
    expect(funder.issues.map(formatIssue)).toEqual([
      'rules/campaigns/x.yaml:6:12 funding.manufacturer: kestrel makes none of the promoted products (made by meridian)',
    ]);
    const traits = await checkRuleFiles(getDeps(), [{ name: 'traits.yaml', text: 'traits:\n  tea:\n    categories: [tee]\n' }]);
    expect(traits.issues.map(formatIssue)).toEqual(['rules/traits.yaml:3:18 traits.tea.categories[0]: unknown category tee']);
  });
});

describe('campaign preview', () => {
  it("reaches, per cell, exactly the members the analytics report for that cell", async () => {
    const c = await campaignOf(
      'id: all-coffee\nname: All coffee buyers\nactive: { from: 2026-01-01, to: 2026-12-31 }\n' +
        'promotes: { categories: [coffee] }\naudience: { cells: ["*/*"], qualified_only: false }\n' +
        'offer: { kind: percent_off, percent: 10 }\nholdout_percent: 0\n',
    );
    const p = await preview(c);
    const matrix = await categoryCellMatrix(getDeps().db, 'coffee');
    const expected = new Map(matrix.cells.filter((x) => x.members > 0).map((x) => [`${x.loyalty}/${x.volume}`, x.members]));
    if (matrix.unclassified.members > 0) expected.set('unclassified/unclassified', matrix.unclassified.members);
    expect(new Map(p.rows.map((r) => [r.cell, r.reached]))).toEqual(expected);
    expect(p.total.reached).toBe(matrix.total.members);
    expect(p.total.heldOut).toBe(0);

    // Wildcards on the volume axis: */high is the sum of the high column.
    const high = await preview(await campaignOf(
      'id: heavy\nname: Heavy\nactive: { from: 2026-01-01, to: 2026-12-31 }\npromotes: { categories: [coffee] }\n' +
        'audience: { cells: ["*/high"], qualified_only: false }\noffer: { kind: percent_off, percent: 10 }\n',
    ));
    expect(high.rows.map((r) => r.cell).every((cell) => cell.endsWith('/high'))).toBe(true);
    expect(high.total.reached).toBe(matrix.cells.filter((x) => x.volume === 'high').reduce((n, x) => n + x.members, 0));
  });

  it('agrees with an independent computation from the analytics tables', async () => {
    const db = getDeps().db;
    const c = await campaignOf([
      'id: milk-test',
      'name: Store-brand milk',
      'active: { from: 2026-01-01, to: 2026-12-31 }',
      'promotes: { categories: [milk], brand_type: store }',
      'audience: { cells: [national/*, switcher/*], qualified_only: false }',
      'offer: { kind: percent_off, ladder: { low: 10, medium: 20, high: 35 } }',
      'timing: { open_days_before: 5, valid_days: 28, min_purchase_probability: 0.1 }',
      'holdout_percent: 20',
    ].join('\n'));
    const p = await preview(c);

    // The same model, computed member by member in JavaScript with the exact gamma functions.
    const scores = await db.selectFrom('member_scores').select(['member_id', 'qualified']).execute();
    const cells = await db.selectFrom('member_category_cells').selectAll().where('category_id', '=', 'milk').execute();
    const cycles = await db.selectFrom('member_category_cycles').selectAll().where('category_id', '=', 'milk').execute();
    const prices = await db.selectFrom('products').select('price_cents')
      .where('category_id', '=', 'milk').where('brand_type', '=', 'store').execute();
    const price = Math.round(prices.reduce((n, r) => n + r.price_cents!, 0) / prices.length);
    const cost = { low: Math.round(price * 0.1), medium: Math.round(price * 0.2), high: Math.round(price * 0.35) };
    const cellOf = new Map(cells.map((r) => [Number(r.member_id), r]));
    const cycleOf = new Map(cycles.map((r) => [Number(r.member_id), r]));
    const expected = new Map<string, { reached: number; heldOut: number; offers: number; redemptions: number; cost: number }>();
    for (const s of scores) {
      const id = Number(s.member_id);
      const cell = cellOf.get(id);
      if (!cell) continue;
      if (!['national/*', 'switcher/*'].some((pat) => cellMatches(pat, cell.loyalty, cell.volume))) continue;
      const key = `${cell.loyalty}/${cell.volume}`;
      const e = expected.get(key) ?? { reached: 0, heldOut: 0, offers: 0, redemptions: 0, cost: 0 };
      expected.set(key, e);
      e.reached++;
      if (inHoldout('milk-test', id, 20)) {
        e.heldOut++;
        continue;
      }
      const cy = cycleOf.get(id);
      if (!cy) continue;
      const params = { elapsedDays: dayDiff(TODAY, dateText(cy.last_purchase_date)), meanGapDays: cy.mean_gap_days, gapShape: cy.gap_shape };
      const openIn = Math.max(0, Math.floor(expectedGapDays(params) - params.elapsedDays) - 5);
      const prob = windowProbability(params, openIn, openIn + 28);
      if (openIn >= 14 || prob < 0.1) continue;
      e.offers++;
      e.redemptions += prob;
      e.cost += prob * (cell.volume === 'high' ? cost.high : cell.volume === 'medium' ? cost.medium : cost.low);
    }
    expect(p.referencePriceCents).toBe(price);
    expect(p.costPerRedemptionCents).toEqual(cost);
    expect(p.rows.map((r) => r.cell).sort()).toEqual([...expected.keys()].sort());
    let offers = 0;
    let redemptions = 0;
    let spent = 0;
    for (const r of p.rows) {
      const e = expected.get(r.cell)!;
      // Exact: who is reached and who is held out.
      expect([r.cell, r.reached, r.heldOut]).toEqual([r.cell, e.reached, e.heldOut]);
      offers += e.offers;
      redemptions += e.redemptions;
      spent += e.cost;
    }
    expect(offers).toBeGreaterThan(40);
    // Offers and cost are the list job's (calibrated probabilities: see the test below for exact
    // agreement with it); the raw gamma model above is its uncalibrated neighbour.
    expect(Math.abs(p.total.offers - offers)).toBeLessThanOrEqual(offers * 0.2);
    expect(Math.abs(p.total.expectedCostCents - spent) / spent).toBeLessThan(0.2);
    expect(p.total.heldOut / p.total.reached).toBeGreaterThan(0.05);
  });

  it('counts the same offers at the same expected cost as the list job then issues for that period', async () => {
    const db = getDeps().db;
    const campaign = (budget: string) => campaignOf([
      `id: milk-switch${budget ? '-budget' : ''}`,
      'name: Store-brand milk',
      'active: { from: 2026-01-01, to: 2026-12-31 }',
      'promotes: { categories: [milk], brand_type: store }',
      'audience: { cells: [national/*, switcher/*], qualified_only: false }',
      'offer: { kind: percent_off, ladder: { low: 10, medium: 20, high: 35 } }',
      'timing: { open_days_before: 5, valid_days: 14, min_purchase_probability: 0.3 }',
      'holdout_percent: 20',
      budget,
    ].join('\n'));
    const reward = await campaignOf(
      'id: reward-big\nname: Reward\nactive: { from: 2026-01-01, to: 2026-12-31 }\naudience: { qualified_only: false }\n' +
        'offer: { kind: reward_coupon, value_cents: 3000, min_spend_cents: 6000 }\ntiming: { valid_days: 28 }\n',
    );
    const campaigns = [await campaign(''), await campaign('budget: { max_cost_cents: 2000 }'), reward];
    const previews = await Promise.all(campaigns.map((c) => preview(c)));
    for (const p of previews) expect(p.date).toBe(TODAY);
    // The period the preview shows (from the analytics date); no stacking group, no list cap: the
    // campaigns do not compete, so each gets what it would alone.
    await runListPeriod(db, {
      periodStart: TODAY, periodDays: 14, maxOffers: 1000, dueSoon: 0, campaigns: campaigns.map(campaignSpec),
      rulesHash: 'x', timeZone: 'America/New_York', now: new Date(AS_OF),
      rewardRateWeeks: defaultRuleSet.settings.qualification.weeks,
    });
    for (const [i, c] of campaigns.entries()) {
      const { rows } = await sql<{ offers: number; cost: number; redemptions: number }>`
        select count(*)::int as offers, coalesce(sum(expected_cost_cents), 0)::int as cost,
          coalesce(sum(probability), 0)::float8 as redemptions
        from offers where campaign_id = ${c.id} and not control and status = 'live'`.execute(db);
      const p = previews[i]!;
      expect(rows[0]!.offers, c.id).toBeGreaterThan(5);
      expect([c.id, p.total.offers, p.total.expectedCostCents]).toEqual([c.id, rows[0]!.offers, rows[0]!.cost]);
      expect(p.total.expectedRedemptions).toBeCloseTo(rows[0]!.redemptions, 6);
    }
  });

  it('keeps within the budget, giving offers to the likeliest buyers first', async () => {
    const text = (budget: string) =>
      'id: budgeted\nname: Budgeted\nactive: { from: 2026-01-01, to: 2026-12-31 }\n' +
      'promotes: { categories: [milk] }\naudience: { qualified_only: false }\n' +
      `offer: { kind: amount_off, amount_cents: 50 }\nholdout_percent: 0\n${budget}`;
    const free = await preview(await campaignOf(text('')));
    expect(free.total.offers).toBeGreaterThan(20);
    const capped = await preview(await campaignOf(text('budget: { max_offers: 10 }\n')));
    expect(capped.total.offers).toBe(10);
    expect(capped.budget).toMatchObject({ maxOffers: 10, offersUse: 1, cutByBudget: free.total.offers - 10 });
    // The 10 likeliest: their mean probability is at least the mean of all.
    expect(capped.total.expectedRedemptions / 10).toBeGreaterThanOrEqual(free.total.expectedRedemptions / free.total.offers);
    const maxCost = Math.round(free.total.expectedCostCents / 3);
    const costly = await preview(await campaignOf(text(`budget: { max_cost_cents: ${maxCost} }\n`)));
    expect(costly.total.expectedCostCents).toBeLessThanOrEqual(maxCost + 1);
    expect(costly.total.expectedCostCents).toBeGreaterThan(maxCost - 60);
    expect(costly.budget.costUse).toBeLessThanOrEqual(1.0001);
  });

  it('excludes members by their churn flag, either value, in the preview and the list job alike', async () => {
    const db = getDeps().db;
    const text = (flag: boolean) =>
      `id: churn-x-${flag}\nname: Churn\nactive: { from: 2026-01-01, to: 2026-12-31 }\npromotes: { categories: [milk] }\n` +
      `audience: { qualified_only: false, exclude: { churn_risk: ${flag} } }\n` +
      'offer: { kind: amount_off, amount_cents: 50 }\ntiming: { fixed_window: { from: 2026-10-31, to: 2026-11-13 } }\nholdout_percent: 0\n';
    const { rows } = await sql<{ member_id: string; churn_risk: boolean }>`
      select member_id::text as member_id, churn_risk from member_scores order by member_id`.execute(db);
    const flagged = rows.filter((r) => r.churn_risk).map((r) => r.member_id);
    const calm = rows.filter((r) => !r.churn_risk).map((r) => r.member_id);
    expect(flagged.length).toBeGreaterThan(0);
    expect(calm.length).toBeGreaterThan(0);
    for (const [flag, kept] of [[false, flagged], [true, calm]] as const) {
      const c = await campaignOf(text(flag));
      expect(c.audience.exclude.churnRisk).toBe(flag);
      const p = await preview(c);
      // Fixed window, no cells, no holdout: everyone the audience keeps is reached and offered.
      expect([flag, p.total.reached, p.total.offers]).toEqual([flag, kept.length, kept.length]);
      // The list job's own selection picks exactly those members.
      const picked = await withTx(db, async (tx) => {
        await pickOffers(tx, {
          periodStart: TODAY, periodDays: 14, maxOffers: 1000, campaigns: [campaignSpec(c)],
          analyticsAsOf: new Date(AS_OF), timeZone: 'America/New_York',
        });
        return (await sql<{ member_id: string }>`select member_id::text as member_id from offer_picks order by member_id`.execute(tx)).rows;
      });
      expect(picked.map((r) => r.member_id)).toEqual(kept);
    }
  });

  it('previews reward coupons from the rate of big enough baskets, and audience filters by stage and tier', async () => {
    const c = await campaignOf(
      'id: reward\nname: Reward\nactive: { from: 2026-01-01, to: 2026-12-31 }\n' +
        'audience: { stages: [strategic, stable], qualified_only: false, exclude: { tiers: [inactive] } }\n' +
        'offer: { kind: reward_coupon, value_cents: 3000, min_spend_cents: 0 }\ntiming: { valid_days: 28 }\nholdout_percent: 0\n',
    );
    const p = await preview(c);
    const { rows } = await sql<{ n: number }>`
      select count(*)::int as n from member_scores where stage in ('strategic', 'stable') and tier <> 'inactive'`.execute(getDeps().db);
    expect(p.rows.map((r) => r.cell)).toEqual(['-']);
    expect(p.total.reached).toBe(rows[0]!.n);
    // Σ of each offer's expected cost in whole cents: within half a cent per offer of Σ p · $30.
    expect(Math.abs(p.total.expectedCostCents - p.total.expectedRedemptions * 3000)).toBeLessThanOrEqual(p.total.offers / 2);
    // Regular shoppers of these stages almost surely shop within four weeks.
    expect(p.total.expectedRedemptions / p.total.offers).toBeGreaterThan(0.8);
    const big = await preview({ ...c, offer: { ...c.offer, minSpendCents: 1_000_000 } });
    expect(big.total.expectedRedemptions).toBe(0);
  });
  // Last in the file: it sets one product's price.
  it("costs an amount off at most what its units cost, in the preview and the list job alike (the job counted all of it)", async () => {
    const db = getDeps().db;
    const { rows: [product] } = await sql<{ gtin: string }>`
      select gtin from products where category_id = 'coffee' order by gtin limit 1`.execute(db);
    await sql`update products set price_cents = 300 where gtin = ${product!.gtin}`.execute(db);
    const campaign = (id: string, offer: string) => campaignOf(
      `id: ${id}\nname: ${id}\nactive: { from: 2026-01-01, to: 2026-12-31 }\npromotes: { gtins: ["${product!.gtin}"] }\n` +
        `audience: { qualified_only: false }\noffer: ${offer}\n` +
        'timing: { fixed_window: { from: 2026-10-31, to: 2026-11-13 } }\nholdout_percent: 0\n',
    );
    // By hand, at $3.00: $5.00 off one unit takes at most its $3.00; $5.00 off two takes $5.00.
    for (const [c, perRedemption] of [
      [await campaign('coffee-5-off', '{ kind: amount_off, ladder: { low: 500, medium: 500, high: 500 } }'), 300],
      [await campaign('coffee-5-off-2', '{ kind: amount_off, min_qty: 2, ladder: { low: 500, medium: 500, high: 500 } }'), 500],
    ] as const) {
      const p = await preview(c);
      expect(p.costPerRedemptionCents, c.id).toEqual({ low: perRedemption, medium: perRedemption, high: perRedemption });
      const picks = await listJobPicks(c);
      expect(picks.length, c.id).toBeGreaterThan(20);
      for (const o of picks) expect(o.expected_cost_cents, c.id).toBe(Math.round(o.probability * perRedemption));
    }
  });

  it("caps a buy-X-get-Y offer's cost at max_units free units, in the preview and the list job's budget figures", async () => {
    const db = getDeps().db;
    const { rows: [product] } = await sql<{ gtin: string }>`
      select gtin from products where category_id = 'coffee' order by gtin limit 1`.execute(db);
    await sql`update products set price_cents = 300 where gtin = ${product!.gtin}`.execute(db);
    const c = await campaignOf(
      `id: coffee-b1g2\nname: Buy 1 get 2\nactive: { from: 2026-01-01, to: 2026-12-31 }\npromotes: { gtins: ["${product!.gtin}"] }\n` +
        'audience: { qualified_only: false }\noffer: { kind: buy_x_get_y, buy: 1, get: 2, max_units: 1 }\n' +
        'timing: { fixed_window: { from: 2026-10-31, to: 2026-11-13 } }\nholdout_percent: 0\n',
    );
    // By hand: buy 1, get 2 free, but at most 1 unit discounted per redemption: 1 × $3.00.
    const perRedemption = 300 * 1;
    const p = await preview(c);
    expect(p.referencePriceCents).toBe(300);
    expect(p.costPerRedemptionCents).toEqual({ low: perRedemption, medium: perRedemption, high: perRedemption });
    const picks = await listJobPicks(c);
    expect(picks.length).toBeGreaterThan(20);
    for (const o of picks) expect(o.expected_cost_cents).toBe(Math.round(o.probability * perRedemption));
    expect(p.total.offers).toBe(picks.length);
    expect(p.total.expectedCostCents).toBe(picks.reduce((n, o) => n + o.expected_cost_cents, 0));
  });
});
