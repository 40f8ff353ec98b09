import { sql, type RawBuilder } from 'kysely';
import { textArray, type Db } from '../db/index.ts';
import { localDate } from '../lib/time.ts';
import { windowStart } from '../analytics/cells.ts';
import { isLiveOn, type Campaign } from './campaign.ts';
import { holdoutSql } from './holdout.ts';
import { promotedProductsWhere } from './references.ts';
import type { Settings } from './settings.ts';

/**
 * Who a campaign would reach and what it would cost in the next list period, from the last nightly
 * analytics — computed in one set-based query per campaign.
 *
 * Model, per member of the audience (every audience condition holds; see campaign.ts):
 *   cell      the member's 9-cell (loyalty/volume) in the promoted category they buy most of
 *             (units per week), among the categories whose cell matches `audience.cells`;
 *             '-' for campaigns without categories (reward coupons) or members without a cell
 *   held out  inHoldout(campaign, member, holdout_percent) — the control group, never offered
 *   window    predicted timing: the offer opens `open_days_before` days before the member's expected
 *             next purchase in that category (E[gap | no purchase yet], member_category_cycles) and
 *             stays valid `valid_days`; fixed timing: the fixed window. It is issued this period when
 *             it opens within the next `lists.period_days` days.
 *   p         P(a purchase in the category inside the window | none since the last one), the
 *             gamma renewal model of the cycles (cadence_window_prob); for reward coupons
 *             P(a basket of at least min_spend in the window) = 1 − exp(−days · r), r the member's
 *             rate of such baskets per day over the last `qualification.weeks` (Poisson visits). Members below `min_purchase_probability`, or (predicted timing) without a cycle
 *             in the category, get no offer.
 *   budget    offers go to the most likely buyers first (p desc): at most `max_offers`, and while the
 *             expected cost so far stays within `max_cost_cents`.
 *   expected redemptions = Σ p over offers — every purchase in the window redeems: an upper bound
 *             for offers that ask a member to switch brands;
 *   expected cost = Σ p · cost per redemption, where the cost per redemption applies the offer (and
 *             its ladder step for the member's volume) to `min_qty` units at the reference price:
 *             the mean shelf price of the promoted products. Vendor-funded = cost · funding share.
 * Each campaign is previewed alone: stacking groups and the per-list offer cap (`lists.max_offers`)
 * are applied when offers are assigned.
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
  const x = a.exclude;
  const today = sql`${date}::date`;
  const reward = campaign.offer.kind === 'reward_coupon';
  const promoted = campaign.promotes;
  const categories = promoted
    ? sql`select distinct p.category_id from products p
          where ${promotedProductsWhere(promoted)} and p.category_id is not null`
    : sql`select null::text as category_id where false`;
  const holdout = holdoutSql(campaign.id, sql`s.member_id`, campaign.holdoutPercent);
  const t = campaign.timing;

  // Window [open_in, close_in) in days from the period start, and the probability of a purchase
  // (or, for rewards, a visit) inside it.
  const window = reward
    ? t.mode === 'fixed'
      ? sql`greatest(0, ${t.from}::date - ${today})::float8 as open_in, (${t.to}::date - ${today} + 1)::float8 as close_in`
      : sql`0::float8 as open_in, ${t.validDays}::float8 as close_in`
    : t.mode === 'fixed'
      ? sql`greatest(0, ${t.from}::date - ${today})::float8 as open_in, (${t.to}::date - ${today} + 1)::float8 as close_in`
      : sql`o.open_in, o.open_in + ${t.validDays} as close_in`;
  const openIn =
    !reward && t.mode === 'predicted'
      ? sql`greatest(0, floor(cadence_expected_gap(e.elapsed, cc.mean_gap_days, cc.gap_shape) - e.elapsed)
                        - ${t.openDaysBefore})::float8`
      : sql`0::float8`;
  const probability = reward
    ? sql`case when w.close_in > w.open_in
            then 1 - exp(-(w.close_in - w.open_in) * coalesce(v.rate, 0)) else 0 end`
    : sql`case when cc.member_id is not null and w.close_in > w.open_in
            then cadence_window_prob(e.elapsed, w.open_in, w.close_in, cc.mean_gap_days, cc.gap_shape)
            else 0 end`;
  // Rewards: the member's recent rate of baskets big enough for the coupon, per day.
  const recentFrom = windowStart(asOf, opts.settings.qualification.weeks, opts.timeZone);
  const rewardRates = reward
    ? sql`, reward_rate as (
        select a.member_id, count(*)::float8 / ${7 * opts.settings.qualification.weeks} as rate
        from audience a
        join baskets b on b.member_id = a.member_id
        where b.ts >= ${recentFrom.at}::timestamptz and b.ts < ${asOf.toISOString()}::timestamptz
          and b.total_cents >= ${campaign.offer.minSpendCents ?? 0}
        group by a.member_id)`
    : sql``;
  const minP = t.mode === 'predicted' ? t.minPurchaseProbability : 0;
  const needsCycle = !reward && t.mode === 'predicted';
  const maxOffers = campaign.budget.maxOffers;
  const maxCost = campaign.budget.maxCostCents;

  const { rows } = await sql<{
    cell: string;
    reached: number;
    held_out: number;
    eligible: number;
    offers: number;
    redemptions: number | null;
    cost: number | null;
  }>`
    with promoted_categories as (${categories}),
    member_cell as (
      select distinct on (c.member_id) c.member_id, c.category_id, c.loyalty, c.volume
      from member_category_cells c
      where c.category_id in (select category_id from promoted_categories)
        ${a.cells.length ? sql`and ${cellsMatch({ loyalty: sql`c.loyalty`, volume: sql`c.volume` }, a.cells)}` : sql``}
      order by c.member_id, c.units_per_week desc, c.category_id
    ),
    audience as materialized (
      select s.member_id, s.visit_days, s.mean_visit_gap_days, mc.category_id, mc.volume,
             coalesce(mc.loyalty || '/' || mc.volume, '-') as cell, ${holdout} as held_out
      from member_scores s
      left join member_cell mc on mc.member_id = s.member_id
      where true
        ${a.qualifiedOnly ? sql`and s.qualified` : sql``}
        ${a.tiers.length ? sql`and s.tier = any(${textArray(a.tiers)})` : sql``}
        ${a.stages.length ? sql`and s.stage = any(${textArray(a.stages)})` : sql``}
        ${a.churnRisk !== null ? sql`and s.churn_risk = ${a.churnRisk}` : sql``}
        ${a.cells.length ? sql`and mc.member_id is not null` : sql``}
        ${a.traits.length ? sql`and exists (select 1 from member_traits t where t.member_id = s.member_id and t.trait = any(${textArray(a.traits)}))` : sql``}
        ${x.traits.length ? sql`and not exists (select 1 from member_traits t where t.member_id = s.member_id and t.trait = any(${textArray(x.traits)}))` : sql``}
        ${x.tiers.length ? sql`and s.tier <> all(${textArray(x.tiers)})` : sql``}
        ${x.stages.length ? sql`and s.stage <> all(${textArray(x.stages)})` : sql``}
        ${x.churnRisk !== null ? sql`and s.churn_risk <> ${x.churnRisk}` : sql``}
        ${x.cells.length ? sql`and not exists (select 1 from member_category_cells xc
              where xc.member_id = s.member_id and xc.category_id in (select category_id from promoted_categories)
                and ${cellsMatch({ loyalty: sql`xc.loyalty`, volume: sql`xc.volume` }, x.cells)})` : sql``}
    )
    ${rewardRates}
    , scored as materialized (
      select s.member_id, s.cell, s.volume, s.held_out, w.open_in, w.close_in, ${probability} as p,
             ${needsCycle ? sql`cc.member_id is not null` : sql`true`} as has_cycle
      from audience s
      left join member_category_cycles cc on cc.member_id = s.member_id and cc.category_id = s.category_id
      ${reward ? sql`left join reward_rate v on v.member_id = s.member_id` : sql``}
      cross join lateral (select (${today} - cc.last_purchase_date)::float8 as elapsed) e
      cross join lateral (select ${openIn} as open_in) o
      cross join lateral (select ${window}) w
    ),
    eligible as (
      select member_id, p,
             case volume when 'high' then ${costs.high}::float8 when 'medium' then ${costs.medium}::float8
                         else ${costs.low}::float8 end as cost
      from scored
      where not held_out and has_cycle and open_in < ${periodDays} and close_in > open_in and p >= ${minP}::float8
    ),
    ranked as (
      select member_id, p, cost,
             row_number() over (order by p desc, member_id) as n,
             sum(p * cost) over (order by p desc, member_id rows between unbounded preceding and current row) as cum_cost
      from eligible
    ),
    offered as (
      select member_id, p, cost from ranked
      where true
        ${maxOffers !== null ? sql`and n <= ${maxOffers}` : sql``}
        ${maxCost !== null ? sql`and cum_cost <= ${maxCost}::float8` : sql``}
    )
    select s.cell, count(*)::int as reached,
           count(*) filter (where s.held_out)::int as held_out,
           count(e.member_id)::int as eligible,
           count(o.member_id)::int as offers,
           sum(o.p)::float8 as redemptions,
           sum(o.p * o.cost)::float8 as cost
    from scored s
    left join eligible e on e.member_id = s.member_id
    left join offered o on o.member_id = s.member_id
    group by s.cell
    order by s.cell`.execute(db);

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
