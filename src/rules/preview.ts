import { sql, type RawBuilder } from 'kysely';
import { textArray, withTx, type Db } from '../db/index.ts';
import { localDate } from '../lib/time.ts';
import { pickOffers } from '../offers/assign.ts';
import { audienceWhere } from '../offers/audience.ts';
import { campaignSpec } from '../offers/from-rules.ts';
import { isLiveOn, type Campaign } from './campaign.ts';
import { holdoutSql } from './holdout.ts';
import { promotedProductsWhere } from './references.ts';
import type { Settings } from './settings.ts';

/**
 * Who a campaign would reach and what it would cost in the next list period, from the last nightly
 * analytics.
 *
 *   reached   members of the audience (every audience condition holds; see campaign.ts), counted
 *             in their 9-cell (loyalty/volume) in the promoted category they buy most of (units per
 *             week) among those matching `audience.cells`; '-' for campaigns without categories
 *             (reward coupons) or members without a cell
 *   held out  inHoldout(campaign, member, holdout_percent) — the control group, never offered
 *   offers, expected redemptions and cost: exactly what the list job assigns (src/offers/assign.ts,
 *             its timing, calibrated probability, ladder, limits and budget) to this campaign alone
 *             for a period of `lists.period_days` starting on the analytics date, computed in a
 *             transaction that keeps nothing; each offer counted in the cell whose ladder step it
 *             got. Expected redemptions = Σ p, expected cost = Σ the offers' expected cost (cents),
 *             vendor-funded = cost · funding share.
 * Each campaign is previewed alone: stacking groups and the per-list offer cap (`lists.max_offers`)
 * are applied when offers are assigned with the other campaigns. A campaign not live on the
 * analytics date is previewed as if it were.
 */

export interface PreviewRow {
  /** `loyalty/volume`, or `-` (no category cell). */
  cell: string;
  reached: number;
  heldOut: number;
  /** Not held out, window opens this period, probability high enough: offers before the budget. */
  eligible: number;
  offers: number;
  expectedRedemptions: number;
  expectedCostCents: number;
  vendorFundedCents: number;
}

export interface CampaignPreview {
  campaignId: string;
  name: string;
  file: string;
  /** Instant of the analytics the preview uses (null: never analysed). */
  asOf: string | null;
  /** Store-local date the period starts (the analytics date). */
  date: string | null;
  liveOnDate: boolean;
  periodDays: number;
  referencePriceCents: number | null;
  costPerRedemptionCents: { low: number; medium: number; high: number };
  rows: PreviewRow[];
  total: PreviewRow;
  budget: {
    maxOffers: number | null;
    maxCostCents: number | null;
    /** Share of max_offers used, 0–1 (null without that limit). */
    offersUse: number | null;
    costUse: number | null;
    /** Eligible members the budget left without an offer. */
    cutByBudget: number;
  };
  notes: string[];
}

const LEVELS = ['low', 'medium', 'high'] as const;

/** What one redemption costs at a ladder step, at the reference price (integer cents). */
export function costPerRedemption(
  offer: Campaign['offer'],
  level: (typeof LEVELS)[number],
  priceCents: number | null,
): number {
  if (offer.kind === 'reward_coupon') return offer.valueCents ?? 0;
  if (priceCents === null) return 0;
  const units = offer.maxUnits === null ? offer.minQty : Math.min(offer.minQty, offer.maxUnits);
  const step = offer.ladder?.[level] ?? 0;
  switch (offer.kind) {
    case 'percent_off':
      return Math.round((priceCents * units * step) / 100);
    case 'amount_off':
      return Math.min(step, priceCents * units);
    case 'price_point':
      return Math.max(0, priceCents - step) * units;
    case 'buy_x_get_y':
      return priceCents * Math.min(offer.get ?? 0, offer.maxUnits ?? Infinity);
  }
}

function cellsMatch(column: { loyalty: RawBuilder<unknown>; volume: RawBuilder<unknown> }, patterns: string[]) {
  const loyalties = patterns.map((p) => p.split('/')[0]!);
  const volumes = patterns.map((p) => p.split('/')[1]!);
  return sql<boolean>`exists (select 1 from unnest(${textArray(loyalties)}, ${textArray(volumes)}) as pat(l, v)
    where (pat.l = '*' or pat.l = ${column.loyalty}) and (pat.v = '*' or pat.v = ${column.volume}))`;
}

/** Previews one campaign (see the model above). Read-only. */
export async function previewCampaign(
  db: Db,
  campaign: Campaign,
  opts: { settings: Settings; timeZone: string },
): Promise<CampaignPreview> {
  const periodDays = opts.settings.lists.periodDays;
  const notes: string[] = [];
  const snapshot = await db
    .selectFrom('analytics_snapshots')
    .select('as_of')
    .where('component', '=', 'member_scores')
    .executeTakeFirst();
  const asOf = snapshot ? new Date(snapshot.as_of) : null;
  const date = asOf ? localDate(asOf, opts.timeZone) : null;

  let referencePriceCents: number | null = null;
  if (campaign.promotes) {
    const price = await sql<{ price: number | null; products: number }>`
      select round(avg(p.price_cents))::int as price, count(*)::int as products
      from products p where ${promotedProductsWhere(campaign.promotes)}`.execute(db);
    referencePriceCents = price.rows[0]?.price ?? null;
    if (price.rows[0]?.products === 0) notes.push('promotes matches no product in the catalogue');
    else if (referencePriceCents === null) notes.push('no promoted product has a price: costs are 0');
  }
  const costs = {
    low: costPerRedemption(campaign.offer, 'low', referencePriceCents),
    medium: costPerRedemption(campaign.offer, 'medium', referencePriceCents),
    high: costPerRedemption(campaign.offer, 'high', referencePriceCents),
  };
  const share = campaign.funding?.share ?? 0;
  const base = {
    campaignId: campaign.id,
    name: campaign.name,
    file: campaign.file,
    asOf: asOf?.toISOString() ?? null,
    date,
    liveOnDate: date !== null && isLiveOn(campaign, date),
    periodDays,
    referencePriceCents,
    costPerRedemptionCents: costs,
  };
  const budgetOf = (total: PreviewRow) => ({
    maxOffers: campaign.budget.maxOffers,
    maxCostCents: campaign.budget.maxCostCents,
    offersUse: campaign.budget.maxOffers ? total.offers / campaign.budget.maxOffers : null,
    costUse: campaign.budget.maxCostCents ? total.expectedCostCents / campaign.budget.maxCostCents : null,
    cutByBudget: total.eligible - total.offers,
  });
  if (!asOf || !date) {
    notes.push('no analytics yet: run `cadence analyse` (or POST /v1/jobs/analyse) first');
    const total = emptyRow('total');
    return { ...base, rows: [], total, budget: budgetOf(total), notes };
  }
  if (!base.liveOnDate) {
    notes.push(`not live on ${date} (active ${campaign.activeFrom} to ${campaign.activeTo}); previewed as if it were`);
  }

  const a = campaign.audience;
  const spec = campaignSpec(campaign);
  const promoted = campaign.promotes;
  const categories = promoted
    ? sql`select distinct p.category_id from products p
          where ${promotedProductsWhere(promoted)} and p.category_id is not null`
    : sql`select null::text as category_id where false`;
  const holdout = holdoutSql(campaign.id, sql`s.member_id`, campaign.holdoutPercent);

  // Who is reached and held out, by the member's cell in the promoted category they buy most of.
  const { rows: reach } = await sql<{ cell: string; reached: number; held_out: number }>`
    with promoted_categories as (${categories}),
    member_cell as (
      select distinct on (c.member_id) c.member_id, c.category_id, c.loyalty, c.volume
      from member_category_cells c
      where c.category_id in (select category_id from promoted_categories)
        ${a.cells.length ? sql`and ${cellsMatch({ loyalty: sql`c.loyalty`, volume: sql`c.volume` }, a.cells)}` : sql``}
      order by c.member_id, c.units_per_week desc, c.category_id collate "C"
    )
    select coalesce(mc.loyalty || '/' || mc.volume, '-') as cell, count(*)::int as reached,
           count(*) filter (where ${holdout})::int as held_out
    from member_scores s
    left join member_cell mc on mc.member_id = s.member_id
    where ${audienceWhere(spec.audience, sql`array(select category_id from promoted_categories)`)}
      ${a.cells.length ? sql`and mc.member_id is not null` : sql``}
    group by 1`.execute(db);

  // Offers, redemptions and cost: the list job's own assignment (src/offers) of this campaign alone
  // for the period starting on the analytics date, in a transaction that keeps nothing (its tables
  // are temporary), so the preview shows what the list job will issue.
  const alone = base.liveOnDate ? spec : { ...spec, activeFrom: null, activeTo: null };
  const offered = await withTx(db, async (tx) => {
    await pickOffers(tx, {
      periodStart: date,
      periodDays,
      maxOffers: 1_000_000_000,
      campaigns: [alone],
      analyticsAsOf: asOf,
      timeZone: opts.timeZone,
      rewardRateWeeks: opts.settings.qualification.weeks,
    });
    // Each member's offer counted in the cell whose ladder step it got.
    const cellOf = (t: string) => sql`coalesce((select c.loyalty || '/' || c.volume from member_category_cells c
      where c.member_id = ${sql.ref(`${t}.member_id`)} and c.category_id = ${sql.ref(`${t}.category_id`)}), '-')`;
    const eligible = await sql<{ cell: string; eligible: number }>`
      select ${cellOf('e')} as cell, count(*)::int as eligible
      from (select distinct on (member_id) member_id, category_id from offer_candidates where not control
            order by member_id, expected_value_cents desc, category_id collate "C") e
      group by 1`.execute(tx);
    const picks = await sql<{ cell: string; offers: number; redemptions: number | null; cost: number | null }>`
      select ${cellOf('p')} as cell, count(*)::int as offers, sum(p.probability)::float8 as redemptions,
             sum(p.expected_cost_cents)::float8 as cost
      from offer_picks p where not p.control
      group by 1`.execute(tx);
    return { eligible: eligible.rows, picks: picks.rows };
  });

  const byCell = new Map<string, { cell: string; reached: number; held_out: number; eligible: number; offers: number; redemptions: number | null; cost: number | null }>();
  const rowOf = (cell: string) => {
    const row = byCell.get(cell) ?? { cell, reached: 0, held_out: 0, eligible: 0, offers: 0, redemptions: null, cost: null };
    byCell.set(cell, row);
    return row;
  };
  for (const r of reach) Object.assign(rowOf(r.cell), { reached: r.reached, held_out: r.held_out });
  for (const r of offered.eligible) rowOf(r.cell).eligible = r.eligible;
  for (const r of offered.picks) Object.assign(rowOf(r.cell), { offers: r.offers, redemptions: r.redemptions, cost: r.cost });
  const rows = [...byCell.values()];

  const toRow = (r: (typeof rows)[number]): PreviewRow => {
    const cost = Math.round(r.cost ?? 0);
    return {
      cell: r.cell,
      reached: r.reached,
      heldOut: r.held_out,
      eligible: r.eligible,
      offers: r.offers,
      expectedRedemptions: r.redemptions ?? 0,
      expectedCostCents: cost,
      vendorFundedCents: Math.round(cost * share),
    };
  };
  const out = sortCells(rows.map(toRow));
  const total = out.reduce<PreviewRow>((t, r) => ({
    cell: 'total',
    reached: t.reached + r.reached,
    heldOut: t.heldOut + r.heldOut,
    eligible: t.eligible + r.eligible,
    offers: t.offers + r.offers,
    expectedRedemptions: t.expectedRedemptions + r.expectedRedemptions,
    expectedCostCents: t.expectedCostCents + r.expectedCostCents,
    vendorFundedCents: t.vendorFundedCents + r.vendorFundedCents,
  }), emptyRow('total'));
  // The funder's share of the whole cost, rounded once (not the sum of the rows' roundings).
  total.vendorFundedCents = Math.round(total.expectedCostCents * share);
  if (total.reached === 0) notes.push('reaches no member with the current analytics');
  return { ...base, rows: out, total, budget: budgetOf(total), notes };
}

function emptyRow(cell: string): PreviewRow {
  return { cell, reached: 0, heldOut: 0, eligible: 0, offers: 0, expectedRedemptions: 0, expectedCostCents: 0, vendorFundedCents: 0 };
}

const LOYALTY_ORDER = ['national', 'switcher', 'store', 'unclassified'];
const VOLUME_ORDER = ['low', 'medium', 'high', 'unclassified'];
function sortCells(rows: PreviewRow[]): PreviewRow[] {
  const key = (cell: string) => {
    const [l, v] = cell.split('/');
    return l === '-' ? 99 : LOYALTY_ORDER.indexOf(l!) * 10 + VOLUME_ORDER.indexOf(v!);
  };
  return rows.sort((a, b) => key(a.cell) - key(b.cell));
}
