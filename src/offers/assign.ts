import { sql } from 'kysely';
import type { Db } from '../db/index.ts';
import { textArray } from '../db/index.ts';
import { calibrationSql } from '../analytics/calibrate.ts';
import { addDays, windowStart } from '../analytics/cells.ts';
import { holdoutSql } from '../rules/holdout.ts';
import { audienceWhere } from './audience.ts';
import { promotedProductsWhere } from '../rules/references.ts';
import type { CampaignSpec } from './spec.ts';

/**
 * Offer assignment for one list period, set-based (no per-member loop in JavaScript; a statement
 * per campaign, then a few passes of stacking, caps and budgets).
 *
 * Candidates. For each campaign active in the period and each member in its audience (member_scores
 * and member_traits of the last nightly run), in each promoted category where the member sits in
 * one of the campaign's cells (member_category_cells):
 *   predicted date  d = the category's next expected purchase (member_category_cycles), or the
 *                   period start when already overdue
 *   window          valid_from = max(period start, campaign start, d − open_days_before),
 *                   valid_to   = min(valid_from + valid_days − 1, campaign end); valid_from must fall
 *                   in the period (d: the predicted date, at least the first of those starts)
 *   probability     p = P(purchase in the window | none since the last), from the fitted gamma
 *                   (cadence_window_prob), scaled by the back-test calibration of the 14-day window
 *                   for the same stratum: p = p_raw(window) · cal(p_raw14) / p_raw14, capped at 1
 *   issued only when d lies inside the window and p ≥ min_probability.
 * Fixed-timing campaigns (rewards, seasonal offers) take every member of the audience (in one of
 * its cells, in the promoted category they buy most of, when it names cells), valid for valid_days
 * from the period start (or over the fixed window), within the campaign's active dates, with
 * p = 1 − exp(−days / mean visit gap): the chance of at least one visit, visits being the
 * exponential rhythm the churn warning uses; for rewards p = 1 − exp(−days · r), r the member's
 * rate per day of baskets of at least min_spend over the last `rewardRateWeeks` (Poisson visits).
 *
 * Value. The discount comes from the campaign's ladder by the member's volume cell in the category.
 * Per redemption, at the promoted products' mean shelf price P and u = max(min_qty, 1) units:
 *   percent_off  cost = P · u · pct / 100      amount_off  cost = min(value, P · u)
 *   price_point  cost = max(0, P − value) · u  buy_x_get_y cost = P · min(value, max_units)
 *                                               (value = free units; max_units caps them)
 *   reward       cost = value
 * Units sold per redemption: n = u, except buy_x_get_y: n = u + value, the bought units and the
 * free ones, all taken to the till (it frees `value` of every u + value units; checkout/discount.ts)
 * and rung up at P before the discount takes the free ones off; rewards sell nothing (n = 0).
 *   expected cost = p · cost;  expected value to the chain = p · P · n − p · cost · (1 − funded share)
 *
 * Holdout. A member is in a campaign's control group when `inHoldout` says so (src/rules/holdout.ts:
 * the first 32 bits of md5(campaign id ':' member id) below ⌊holdout_percent / 100 · 2³²⌋), the very
 * split the preview counts as held out: deterministic, independent between campaigns. Controls are recorded (never printed,
 * never redeemable) and go through stacking and caps like everyone, so they stand for what the
 * member would have got; they spend no budget, but are kept only where the budget would have
 * reached them (their offer would have fitted after the offers ranked before it).
 *
 * Selection, in this order:
 *   1. stacking — within an exclusive stacking group a member keeps one offer: highest priority,
 *      then expected value, then campaign id;
 *   2. list cap — at most `maxOffers` offers per member (rewards excepted), by expected value;
 *   3. budgets — per campaign, chain-wide: offers by expected value (ties broken by
 *      md5(campaign id ':' member id), then category id, deterministic) while the running count
 *      ≤ max_offers and the running expected cost ≤ max_cost, counting first the offers of the
 *      period a regenerate kept (the redeemed ones; their members get no second offer).
 * in passes: an offer a budget cuts leaves stacking and the cap, and the next pass gives its
 * member the group's next offer or the freed list slot to another campaign's offer (which that
 * campaign's budget then ranks with its others). A cut offer keeps its place in its campaign's
 * ranking, so a budget still stops at its first offer it cannot hold. Offers are only cut, never
 * restored, so the passes end (at the latest after SELECTION_PASSES; see selectOffers).
 */

export interface AssignOptions {
  /** First day of the list period (`YYYY-MM-DD`, store-local). */
  periodStart: string;
  periodDays: number;
  /** Most offers on one list, rewards excepted. */
  maxOffers: number;
  campaigns: readonly CampaignSpec[];
  /** Instant of the analytics used (member_scores, cells, cycles must be as of it). */
  analyticsAsOf: Date;
  timeZone: string;
  /** The period's live offers stay (a regenerate's redeemed ones): they count against budgets. */
  keepLive?: boolean;
  /** Weeks of baskets a reward's chance of redemption is measured over (qualification.weeks; 8). */
  rewardRateWeeks?: number;
  /** Each campaign's promoted products when the caller resolved them already (by campaign id). */
  products?: ReadonlyMap<string, readonly PromotedProduct[]>;
}

export interface PromotedProduct {
  gtin: string;
  categoryId: string | null;
  priceCents: number | null;
}

export interface CampaignAssignment {
  campaignId: string;
  candidates: number;
  offers: number;
  controls: number;
  expectedCostCents: number;
}

/** Whether a campaign is active on any day of [from, to]. */
export function activeIn(c: CampaignSpec, from: string, to: string): boolean {
  return (c.activeFrom === null || c.activeFrom <= to) && (c.activeTo === null || c.activeTo >= from);
}

/**
 * Fills the temporary table `offer_picks` (created here, dropped with the transaction's session
 * use) with the offers to issue; returns the per-campaign figures. Must run inside a transaction.
 */
export async function pickOffers(tx: Db, opts: AssignOptions): Promise<CampaignAssignment[]> {
  const periodEnd = addDays(opts.periodStart, opts.periodDays - 1);
  await sql`drop table if exists offer_candidates`.execute(tx);
  await sql`drop table if exists offer_picks`.execute(tx);
  await sql`drop table if exists offer_selection`.execute(tx);
  await sql`
    create temporary table offer_candidates (
      member_id bigint not null, campaign_id text not null, rule_hash text not null,
      priority integer not null, stacking_group text, control boolean not null, kind text not null,
      value numeric(12, 2) not null, min_qty integer not null, max_units integer,
      category_id text, volume text, valid_from date not null, valid_to date not null,
      predicted_date date, probability double precision not null,
      expected_cost_cents integer not null, expected_value_cents integer not null,
      funded_by text, funded_share double precision not null, uses_allowed integer not null,
      budget_offers integer, budget_cost bigint, min_spend_cents integer not null,
      -- filled in by the selection (the inserts below leave them to their defaults)
      id integer generated always as identity, cut boolean not null default false
    ) on commit drop`.execute(tx);

  const asOf = opts.analyticsAsOf.toISOString();
  const asOfDate = sql`(${asOf}::timestamptz at time zone ${opts.timeZone})::date`;
  for (const c of opts.campaigns) {
    if (!activeIn(c, opts.periodStart, periodEnd)) continue;
    await insertCandidates(tx, c, { ...opts, periodEnd, asOfDate });
  }

  await selectOffers(tx, opts);
  const { rows } = await sql<{
    campaign_id: string;
    candidates: number;
    offers: number;
    controls: number;
    cost: number;
  }>`
    select c.campaign_id, c.candidates,
      coalesce(p.offers, 0)::int as offers, coalesce(p.controls, 0)::int as controls,
      coalesce(p.cost, 0)::bigint as cost
    from (select campaign_id, count(*)::int as candidates from offer_candidates group by campaign_id) c
    left join (
      select campaign_id, count(*) filter (where not control) as offers,
        count(*) filter (where control) as controls,
        sum(expected_cost_cents) filter (where not control) as cost
      from offer_picks group by campaign_id
    ) p on p.campaign_id = c.campaign_id
    order by c.campaign_id`.execute(tx);
  return rows.map((r) => ({
    campaignId: r.campaign_id,
    candidates: r.candidates,
    offers: r.offers,
    controls: r.controls,
    expectedCostCents: Number(r.cost),
  }));
}

/** Most selection passes (see the comment block); the sim chains settle in 2–3. */
export const SELECTION_PASSES = 8;

/**
 * Selection (steps 1–3 of the comment block) over `offer_candidates`, into `offer_picks`. A pass
 * stacks, caps and applies the budgets; the offers a budget cuts are marked `cut` and leave the
 * stacking and the cap, so the next pass gives their members the group's next offer or the list
 * slot to another campaign's. Cut offers stay in their campaign's budget ranking: a budget stops
 * at the first offer it cannot hold, pass after pass, so an offer ranked below a cut one never gets
 * in by a later pass (nor does a member's next category of the same campaign). Offers are only
 * ever cut, never restored: the passes end when one cuts nothing, or after SELECTION_PASSES (the
 * last pass's budgets still hold; members cut in it get no further offer).
 */
async function selectOffers(tx: Db, opts: AssignOptions): Promise<number> {
  // Ties are broken on ids in byte order (collate "C"), so PGlite (C) and a PostgreSQL created
  // with another collation (en_US ignores '-' and '_') pick the same offers.
  const selection = sql`
    with stacked as (
      select *, row_number() over (
          partition by member_id, coalesce(stacking_group, 'campaign:' || campaign_id)
          order by priority desc, expected_value_cents desc, campaign_id collate "C", category_id collate "C") as in_group
      from offer_candidates where not cut
    ),
    capped as (
      select *, row_number() over (
          partition by member_id, kind = 'reward'
          order by expected_value_cents desc, priority desc, campaign_id collate "C", category_id collate "C") as slot
      from stacked where in_group = 1
    ),
    -- offers of the period kept by a regenerate (the redeemed ones) spent their budget already
    kept as (
      select campaign_id, count(*) as offers, sum(expected_cost_cents) as cost
      from offers
      where ${opts.keepLive === true} and period_start = ${opts.periodStart}::date and status = 'live' and not control
      group by campaign_id
    ),
    -- the offers the lists would hold, with those a budget cut in an earlier pass
    ranked as (
      select id, member_id, campaign_id, category_id, control, cut, expected_cost_cents, expected_value_cents,
        budget_offers, budget_cost
      from capped
      where (kind = 'reward' or slot <= ${opts.maxOffers})
        and not exists (select 1 from offers o
                        where ${opts.keepLive === true} and o.member_id = capped.member_id and o.campaign_id = capped.campaign_id
                          and o.period_start = ${opts.periodStart}::date and o.status = 'live')
      union all
      select id, member_id, campaign_id, category_id, control, cut, expected_cost_cents, expected_value_cents,
        budget_offers, budget_cost
      from offer_candidates where cut
    ),
    budgeted as (
      select c.*,
        coalesce(k.offers, 0) + sum(case when c.control then 0 else 1 end) over w as running_offers,
        coalesce(k.cost, 0) + sum(case when c.control then 0 else c.expected_cost_cents end) over w as running_cost
      from ranked c
      left join kept k on k.campaign_id = c.campaign_id
      window w as (partition by c.campaign_id
                   order by c.expected_value_cents desc, md5(c.campaign_id || ':' || c.member_id::text) collate "C",
                            c.category_id collate "C"
                   rows between unbounded preceding and current row)
    )
    select id, cut,
      -- a control is kept where its offer would have fitted: the offers ranked before it, plus its own
      (budget_offers is null or running_offers + case when control then 1 else 0 end <= budget_offers)
        and (budget_cost is null or running_cost + case when control then expected_cost_cents else 0 end <= budget_cost)
        as fits
    from budgeted`;
  let passes = 0;
  for (;;) {
    passes++;
    await sql`drop table if exists offer_selection`.execute(tx);
    await sql`create temporary table offer_selection on commit drop as ${selection}`.execute(tx);
    if (passes === SELECTION_PASSES) break;
    const cut = await sql`
      update offer_candidates c set cut = true
      from offer_selection s where s.id = c.id and not s.cut and not s.fits`.execute(tx);
    if (Number(cut.numAffectedRows ?? 0) === 0) break;
  }
  await sql`
    create temporary table offer_picks on commit drop as
    select c.member_id, c.campaign_id, c.rule_hash, c.control, c.kind, c.value, c.min_qty, c.max_units,
      c.category_id, c.volume, c.valid_from, c.valid_to, c.predicted_date, c.probability, c.expected_cost_cents,
      c.expected_value_cents, c.funded_by, c.funded_share, c.uses_allowed, c.min_spend_cents
    from offer_candidates c
    join offer_selection s on s.id = c.id
    where s.fits and not s.cut`.execute(tx);
  return passes;
}

/**
 * The products a campaign promotes, resolved against the catalogue: the same condition the rules
 * check and preview use (listed in gtins, or matching every other filter given).
 */
export async function promotedProducts(
  db: Db,
  c: CampaignSpec,
): Promise<PromotedProduct[]> {
  const { rows } = await sql<{ gtin: string; category_id: string | null; price_cents: number | null }>`
    select p.gtin, p.category_id, p.price_cents from products p
    where ${promotedProductsWhere(c.promotes)}
    order by p.gtin`.execute(db);
  return rows.map((r) => ({ gtin: r.gtin, categoryId: r.category_id, priceCents: r.price_cents }));
}

async function insertCandidates(
  tx: Db,
  c: CampaignSpec,
  o: AssignOptions & { periodEnd: string; asOfDate: ReturnType<typeof sql> },
): Promise<void> {
  const a = c.audience;
  const products = o.products?.get(c.id) ?? (await promotedProducts(tx, c));
  if (products.length === 0 && c.offer.kind !== 'reward') return;
  // Price and category per promoted category (mean shelf price of its promoted products).
  const byCategory = new Map<string, number[]>();
  for (const p of products) {
    if (p.categoryId === null) continue;
    const prices = byCategory.get(p.categoryId) ?? [];
    if (p.priceCents !== null) prices.push(p.priceCents);
    byCategory.set(p.categoryId, prices);
  }
  const categories = [...byCategory.keys()].sort();
  const meanPrice = categories.map((k) => {
    const xs = byCategory.get(k)!;
    return xs.length ? Math.round(xs.reduce((s, x) => s + x, 0) / xs.length) : 0;
  });
  const allPrices = products.flatMap((p) => (p.priceCents === null ? [] : [p.priceCents]));
  const overallPrice = allPrices.length ? Math.round(allPrices.reduce((s, x) => s + x, 0) / allPrices.length) : 0;

  const L = c.offer.ladder;
  const units = Math.max(c.offer.minQty, 1);
  const valueSql = sql`(case v.volume when 'low' then ${L.low}::numeric when 'medium' then ${L.medium}::numeric
    when 'high' then ${L.high}::numeric else ${L.unclassified}::numeric end)`;
  // n of the comment above: units rung up per redemption (a buy_x_get_y's free ones too)
  const soldUnits = c.offer.kind === 'buy_x_get_y' ? sql`(${units}::int + ${valueSql})` : sql`${units}::int`;
  const costSql = (price: ReturnType<typeof sql>, value: ReturnType<typeof sql>) => {
    // (max_units ≥ min_qty, so all u units are covered; the till never takes off more than they
    // cost: checkout/discount.ts, and the rules-check preview computes the same)
    switch (c.offer.kind) {
      case 'percent_off':
        return sql`(${price} * ${units} * ${value} / 100.0)`;
      case 'amount_off':
        return sql`least(${value}, ${price} * ${units})`;
      case 'reward':
        return sql`(${value})`;
      case 'price_point':
        return sql`(greatest(0, ${price} - ${value}) * ${units})`;
      case 'buy_x_get_y':
        // the till frees at most max_units units per redemption (checkout/discount.ts);
        // least() skips a null max_units
        return sql`(${price} * least(${value}, ${c.offer.maxUnits}::int))`;
    }
  };
  const promoted = textArray(categories);
  const audience = sql`
    select s.member_id, s.mean_visit_gap_days,
      -- uses made, plus those an earlier period's offer still live in this one may yet make
      coalesce((select sum(case when o.status = 'live' and not o.control and o.period_start < ${o.periodStart}::date
                                 and o.valid_to >= ${o.periodStart}::date then greatest(o.uses, o.uses_allowed)
                                else o.uses end)
                from offers o where o.member_id = s.member_id and o.campaign_id = ${c.id}), 0)::int as used
    from member_scores s
    where ${audienceWhere(a, promoted)}`;
  // Uses left under the campaign's lifetime limit (per member), capped by the per-offer uses; an
  // offer of an earlier period still valid counts with all its uses (it may yet be redeemed).
  const usesAllowed = c.limits.perMemberTotal === null
    ? sql`${c.limits.usesPerOffer}::int`
    : sql`least(${c.limits.usesPerOffer}::int, ${c.limits.perMemberTotal}::int - v.used)`;
  const holdout = holdoutSql(c.id, sql`v.member_id`, c.holdoutPercent);
  const common = sql`${c.id}, ${c.hash}, ${c.priority}, ${c.stackingGroup}, ${holdout}, ${c.offer.kind},
    ${valueSql}, ${c.offer.minQty}, ${c.offer.maxUnits}::int`;
  const tail = sql`${c.funding.manufacturerId}, ${c.funding.share}::float8, ${usesAllowed},
    ${c.budget.maxOffers}::int, ${c.budget.maxCostCents}::bigint, ${c.offer.minSpendCents}::int`;

  const cellL = a.cells.map((x) => x.loyalty);
  const cellV = a.cells.map((x) => x.volume);
  /** The member's cell `cell` is one the campaign targets (any, when it names none). */
  const cellMatch = sql`(cardinality(${textArray(cellL)}) = 0 or exists (
    select 1 from unnest(${textArray(cellL)}, ${textArray(cellV)}) as want(loyalty, volume)
    where (want.loyalty = '*' or want.loyalty = cell.loyalty)
      and (want.volume = '*' or want.volume = cell.volume)))`;
  const priceArray = meanPrice.length
    ? sql`array[${sql.join(meanPrice.map((x) => sql`${x}::int`))}]`
    : sql`'{}'::int[]`;

  if (c.timing.kind === 'fixed') {
    const f = c.timing;
    const from = [f.from, c.activeFrom].reduce<string>((d, x) => (x !== null && x > d ? x : d), o.periodStart);
    const until = f.to ?? addDays(o.periodStart, f.validDays - 1);
    const to = c.activeTo !== null && c.activeTo < until ? c.activeTo : until;
    if (from > o.periodEnd || to < from) return;
    const days = Math.round((Date.parse(to) - Date.parse(from)) / 86_400_000) + 1;
    // Offers on products (seasonal ones) target cells and ladder by volume like predicted ones: the
    // member's cell in the promoted category they buy most of, among those matching the cells.
    const sales = c.offer.kind === 'reward' ? sql`0` : sql`v.p * v.price * ${soldUnits}`;
    // A reward counts only on a basket of at least min_spend: the member's recent rate of those.
    const weeks = o.rewardRateWeeks ?? 8;
    const recent = windowStart(o.analyticsAsOf, weeks, o.timeZone);
    const rewardRates = c.offer.kind === 'reward'
      ? sql`left join (
          select b.member_id, count(*)::float8 / ${7 * weeks}::float8 as rate
          from baskets b
          where b.ts >= ${recent.at}::timestamptz and b.ts < ${o.analyticsAsOf.toISOString()}::timestamptz
            and b.total_cents >= ${c.offer.minSpendCents}::bigint
          group by b.member_id) r on r.member_id = a.member_id`
      : sql``;
    const visitProbability = c.offer.kind === 'reward'
      ? sql`1 - exp(-${days}::float8 * coalesce(r.rate, 0))`
      : sql`1 - exp(-${days}::float8 / greatest(coalesce(a.mean_visit_gap_days, 7), 1))`;
    await sql`
      insert into offer_candidates
      select v.member_id, ${common}, v.category_id, v.cell_volume, ${from}::date, ${to}::date, null,
        v.p, round(v.p * ${costSql(sql`v.price`, valueSql)})::int,
        round(${sales} - v.p * ${costSql(sql`v.price`, valueSql)} * (1 - ${c.funding.share}::float8))::int,
        ${tail}
      from (
        select a.member_id, a.used, coalesce(mc.volume, 'unclassified') as volume, mc.volume as cell_volume,
          mc.category_id, coalesce(mc.price, ${overallPrice}::int)::numeric as price,
          ${visitProbability} as p
        from (${audience}) a
        ${rewardRates}
        left join lateral (
          select cell.category_id, cell.volume, pr.price
          from member_category_cells cell
          join unnest(${textArray(categories)}, ${priceArray}) as pr(category_id, price)
            on pr.category_id = cell.category_id
          where cell.member_id = a.member_id and ${cellMatch}
          order by cell.units_per_week desc, cell.category_id collate "C"
          limit 1) mc on true
        where cardinality(${textArray(cellL)}) = 0 or mc.category_id is not null
      ) v
      where ${usesAllowed} > 0
        -- a seasonal window outlives the period: who still holds this campaign's offer for it,
        -- unused, gets no second one (they could redeem the same deal twice)
        and (${f.to === null} or not exists (
          select 1 from offers held
          where held.member_id = v.member_id and held.campaign_id = ${c.id} and held.status = 'live'
            and not held.control and held.period_start < ${o.periodStart}::date
            and held.valid_to >= ${from}::date and held.uses < held.uses_allowed))`.execute(tx);
    return;
  }

  if (categories.length === 0) return;
  const t = c.timing;
  // A campaign starting inside the period opens no offer before it starts (nor ends one after it).
  const firstDay = c.activeFrom !== null && c.activeFrom > o.periodStart ? c.activeFrom : o.periodStart;
  const cal = calibrationSql({
    raw: sql`w.raw14`,
    purchaseDays: sql`w.purchase_days`,
    elapsedDays: sql`w.elapsed`,
    meanGapDays: sql`w.mean_gap_days`,
  });
  await sql`
    insert into offer_candidates
    select v.member_id, ${common}, v.category_id, v.volume, v.valid_from, v.valid_to,
      v.predicted_date, v.p, round(v.p * ${costSql(sql`v.price`, valueSql)})::int,
      round(v.p * v.price * ${soldUnits} - v.p * ${costSql(sql`v.price`, valueSql)} * (1 - ${c.funding.share}::float8))::int,
      ${tail}
    from (
      select w.*, least(1, case when w.raw14 > 0 then w.raw_window * ${cal.prob} / w.raw14 else w.raw_window end) as p
      from (
        select x.*,
          cadence_window_prob(x.elapsed, x.valid_from - x.as_of_date, x.valid_to - x.as_of_date + 1,
                              x.mean_gap_days, x.gap_shape) as raw_window,
          cadence_window_prob(x.elapsed, 0, 14, x.mean_gap_days, x.gap_shape) as raw14
        from (select y.*, least(y.valid_from + ${t.validDays - 1}::int, ${c.activeTo}::date) as valid_to from (
          select a.member_id, a.used, cell.category_id, cell.volume, cy.purchase_days, cy.mean_gap_days, cy.gap_shape,
            pr.price, ${o.asOfDate} as as_of_date,
            (${o.asOfDate} - cy.last_purchase_date)::float8 as elapsed,
            greatest(cy.next_expected_date, ${firstDay}::date) as predicted_date,
            greatest(${firstDay}::date,
                     greatest(cy.next_expected_date, ${firstDay}::date) - ${t.openDaysBefore}::int) as valid_from
          from (${audience}) a
          join member_category_cells cell on cell.member_id = a.member_id
          join unnest(${textArray(categories)}, ${priceArray}) as pr(category_id, price)
            on pr.category_id = cell.category_id
          join member_category_cycles cy on cy.member_id = a.member_id and cy.category_id = cell.category_id
          where ${cellMatch}
        ) y) x
      ) w
      ${cal.join}
    ) v
    where v.valid_from <= ${o.periodEnd}::date
      and v.predicted_date between v.valid_from and v.valid_to
      and v.p >= ${t.minProbability}::float8
      and ${usesAllowed} > 0`.execute(tx);
}
