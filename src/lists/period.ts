import { sql } from 'kysely';
import type { Db } from '../db/index.ts';
import { jsonb, withTx } from '../db/index.ts';
import { addDays } from '../analytics/cells.ts';
import { analyticsAsOf, lockAnalytics } from '../analytics/repo.ts';
import { ConflictError, ValidationError } from '../lib/errors.ts';
import { activeIn, pickOffers, promotedProducts, type CampaignAssignment, type PromotedProduct } from '../offers/assign.ts';
import type { CampaignSpec } from '../offers/spec.ts';

export interface ListPeriodOptions {
  /** First day of the period, `YYYY-MM-DD` (store-local). */
  periodStart: string;
  periodDays: number;
  maxOffers: number;
  /** Predicted products printed under "Due soon". */
  dueSoon: number;
  campaigns: readonly CampaignSpec[];
  /** Hash of the rule set, recorded with the period. */
  rulesHash: string;
  timeZone: string;
  now: Date;
  /** Void the period's unredeemed offers and its lists, then build again. */
  regenerate?: boolean;
  /** Weeks of baskets a reward's chance of redemption is measured over (qualification.weeks). */
  rewardRateWeeks?: number;
  /**
   * Refuse (409) a period overlapping one already built: its members would hold two sets of
   * offers at once. The list job sets it; tests of the assignment build periods side by side.
   */
  refuseOverlap?: boolean;
}

/**
 * Refuses (409) a period overlapping another one built: its members would hold two sets of offers
 * at once. A period built with the same start is not in the way (it is the one to rerun).
 */
export async function refuseOverlap(db: Db, periodStart: string, periodEnd: string): Promise<void> {
  const overlapping = await db
    .selectFrom('list_periods')
    .select(['period_start', 'period_end'])
    .where('period_start', '<>', periodStart)
    .where('period_start', '<=', periodEnd)
    .where('period_end', '>=', periodStart)
    .where('status', '=', 'done')
    .orderBy('period_start')
    .execute();
  if (overlapping.length > 0) {
    const built = overlapping.map((p) => `${String(p.period_start)} – ${String(p.period_end)}`).join(', ');
    throw new ConflictError(
      `the period ${periodStart} – ${periodEnd} overlaps the period ${built} already built: ` +
        'build the period holding the date (lists.period_days and lists.weekday), or regenerate that one',
    );
  }
}

/**
 * Serialises list builds across processes, until the transaction ends: one lock for every
 * period, not one per period start, because two builds of different overlapping periods (an
 * explicit periodStart and the daily job's default after lists.period_days or lists.weekday
 * changed) would each pass the overlap check before the other had built, and members would hold
 * two sets of offers at once. Taken before the built periods are read (the overlap check, the
 * default period's plan). Re-entrant within a transaction.
 */
export async function lockListBuilds(tx: Db): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext('cadence:lists'))`.execute(tx);
}

export interface ListPeriodSummary {
  periodStart: string;
  periodEnd: string;
  /** False when the period had already been built (nothing was added). */
  built: boolean;
  lists: number;
  offers: number;
  controls: number;
  voidedOffers: number;
  campaigns: CampaignAssignment[];
}

/**
 * Builds one list period in one transaction: offers (src/offers/assign.ts) and one list per member
 * who qualifies or holds an offer. Idempotent: a period already built is left as it is (its
 * figures are returned with `built: false`); `regenerate` voids the period's unredeemed offers and
 * its lists and builds again — redeemed offers stay, moved to the new list. Concurrent builds, of
 * any periods, serialize on one advisory lock (`lockListBuilds`): the later one then finds the
 * period built (same start) or refuses the overlap (409).
 */
/** Refuses (422 naming periodStart) a period start that is not a real YYYY-MM-DD date. */
export function assertPeriodStart(periodStart: string): void {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(periodStart) || Number.isNaN(Date.parse(periodStart))
      || addDays(periodStart, 0) !== periodStart) {
    throw new ValidationError(`not a date: ${periodStart}`, [
      { path: 'periodStart', message: 'expected a real date as YYYY-MM-DD' },
    ]);
  }
}

export async function runListPeriod(db: Db, opts: ListPeriodOptions): Promise<ListPeriodSummary> {
  assertPeriodStart(opts.periodStart);
  const periodEnd = addDays(opts.periodStart, opts.periodDays - 1);
  return withTx(db, async (tx) => {
    await lockListBuilds(tx);
    const existing = await tx
      .selectFrom('list_periods')
      .selectAll()
      .where('period_start', '=', opts.periodStart)
      .executeTakeFirst();
    if (existing && existing.status === 'done' && !opts.regenerate) {
      return {
        periodStart: opts.periodStart,
        periodEnd: existing.period_end,
        built: false,
        lists: existing.lists,
        offers: existing.offers,
        controls: existing.controls,
        voidedOffers: 0,
        campaigns: [],
      };
    }
    if (opts.refuseOverlap) await refuseOverlap(tx, opts.periodStart, periodEnd);
    // Before the first read of the analytics: a running analyse job finishes first.
    await lockAnalytics(tx, 'read');
    const parts = await analyticsAsOf(tx);
    const asOf = parts.member_scores;
    if (!asOf) throw new ConflictError('no analytics yet: run `cadence analyse` first');
    const computed = Object.entries(parts).filter(([, at]) => at !== null);
    if (computed.some(([, at]) => at!.getTime() !== asOf.getTime())) {
      const runs = computed.map(([part, at]) => `${part} as of ${at!.toISOString()}`).join(', ');
      throw new ConflictError(
        `the analytics tables are from different runs (${runs}): run \`cadence analyse\` again`,
      );
    }

    let voidedOffers = 0;
    if (opts.regenerate) {
      const voided = await sql`
        update offers set status = 'voided', updated_at = ${opts.now.toISOString()}::timestamptz
        where period_start = ${opts.periodStart}::date and status = 'live' and uses = 0`.execute(tx);
      voidedOffers = Number(voided.numAffectedRows ?? 0);
      await sql`update lists set voided_at = ${opts.now.toISOString()}::timestamptz
        where period_start = ${opts.periodStart}::date and voided_at is null`.execute(tx);
    }
    await sql`
      insert into list_periods (period_start, period_end, analytics_as_of, rules_hash, status, started_at)
      values (${opts.periodStart}::date, ${periodEnd}::date, ${asOf.toISOString()}::timestamptz,
              ${opts.rulesHash}, 'running', ${opts.now.toISOString()}::timestamptz)
      on conflict (period_start) do update set period_end = excluded.period_end,
        analytics_as_of = excluded.analytics_as_of, rules_hash = excluded.rules_hash,
        status = 'running', started_at = excluded.started_at, finished_at = null`.execute(tx);

    // The terms each offer is issued under, frozen.
    const active = opts.campaigns.filter((c) => activeIn(c, opts.periodStart, periodEnd));
    const products = new Map<string, PromotedProduct[]>();
    for (const c of active) {
      products.set(c.id, await promotedProducts(tx, c));
      const gtins = products.get(c.id)!.map((p) => p.gtin);
      await tx
        .insertInto('campaign_terms')
        .values({
          campaign_id: c.id,
          rule_hash: c.hash,
          name: c.name,
          spec: jsonb(c),
          gtins,
          created_at: opts.now,
        })
        .onConflict((oc) => oc.columns(['campaign_id', 'rule_hash']).doNothing())
        .execute();
    }

    const campaigns = await pickOffers(tx, {
      periodStart: opts.periodStart,
      periodDays: opts.periodDays,
      maxOffers: opts.maxOffers,
      campaigns: active,
      analyticsAsOf: asOf,
      timeZone: opts.timeZone,
      products,
      ...(opts.rewardRateWeeks !== undefined ? { rewardRateWeeks: opts.rewardRateWeeks } : {}),
      keepLive: opts.regenerate === true,
    });

    // One list per member who qualifies or holds an offer to print.
    await sql`
      insert into lists (member_id, period_start, period_end, store_id, content, created_at)
      select m.member_id, ${opts.periodStart}::date, ${periodEnd}::date,
        -- no home store: the last store shopped (a history import without store_id names none,
        -- and a list without a store is in no store's print batch)
        coalesce(mb.home_store_id, (select b.store_id from baskets b where b.member_id = m.member_id
                                      and b.store_id is not null
                                    order by b.ts desc limit 1)),
        jsonb_build_object('dueSoon', coalesce((
          select jsonb_agg(jsonb_build_object('gtin', s.gtin, 'predictedDate', s.predicted_date,
                   'probability', round(s.prob::numeric, 4)) order by s.rank)
          from member_product_scores s
          -- the top of the next-basket ranking for the period: the score already weighs the
          -- period's window probability; cutting at the predicted date as well measured 2% below
          -- a plain top-frequency list (npm run bench -- lists)
          where s.member_id = m.member_id and s.rank <= ${opts.dueSoon}), '[]'::jsonb)),
        ${opts.now.toISOString()}::timestamptz
      from (
        select member_id from member_scores where qualified
        union
        select member_id from offer_picks where not control
      ) m
      join members mb on mb.id = m.member_id
      on conflict (member_id, period_start) where voided_at is null do nothing`.execute(tx);

    await sql`
      insert into offers (member_id, list_id, campaign_id, rule_hash, period_start, control, kind, value,
        min_qty, max_units, min_spend_cents, category_id, volume, valid_from, valid_to, predicted_date, probability,
        expected_cost_cents, expected_value_cents, funded_by, funded_share, uses_allowed, status, created_at,
        updated_at)
      select p.member_id, l.id, p.campaign_id, p.rule_hash, ${opts.periodStart}::date, p.control, p.kind,
        p.value, p.min_qty, p.max_units, p.min_spend_cents, p.category_id, p.volume, p.valid_from, p.valid_to,
        p.predicted_date, p.probability, p.expected_cost_cents, p.expected_value_cents, p.funded_by,
        p.funded_share, p.uses_allowed, 'live', ${opts.now.toISOString()}::timestamptz,
        ${opts.now.toISOString()}::timestamptz
      from offer_picks p
      left join lists l on l.member_id = p.member_id and l.period_start = ${opts.periodStart}::date
        and l.voided_at is null
      on conflict (member_id, campaign_id, period_start) where status = 'live' do nothing`.execute(tx);
    // Offers kept from before a regenerate (the redeemed ones: the rest were voided) move to the
    // member's new list; the offers just inserted already point at it. Only those few rows are
    // touched: with the period's offers as the outer side, a plan made on stale statistics (the
    // lists and offers just inserted in this transaction, counted as empty) loops over the whole
    // period, measured at 4.6 s for 10,000 members (test/bench/lists-period.ts).
    if (opts.regenerate) {
      await sql`
        update offers o set list_id = l.id
        from lists l
        where o.period_start = ${opts.periodStart}::date and o.status = 'live' and o.uses > 0
          and l.member_id = o.member_id and l.period_start = o.period_start and l.voided_at is null
          and o.list_id is distinct from l.id`.execute(tx);
    }

    const counts = await sql<{ lists: number; offers: number; controls: number }>`
      select
        (select count(*)::int from lists where period_start = ${opts.periodStart}::date and voided_at is null) as lists,
        (select count(*)::int from offers where period_start = ${opts.periodStart}::date and status = 'live' and not control) as offers,
        (select count(*)::int from offers where period_start = ${opts.periodStart}::date and status = 'live' and control) as controls`.execute(tx);
    const c = counts.rows[0]!;
    await tx
      .updateTable('list_periods')
      .set({ status: 'done', finished_at: opts.now, lists: c.lists, offers: c.offers, controls: c.controls })
      .where('period_start', '=', opts.periodStart)
      .execute();
    return {
      periodStart: opts.periodStart,
      periodEnd,
      built: true,
      lists: c.lists,
      offers: c.offers,
      controls: c.controls,
      voidedOffers,
      campaigns,
    };
  });
}

export interface BuiltPeriod {
  periodStart: string;
  periodEnd: string;
}

/**
 * The built periods next to `date`: the last one starting on or before it, and the first one
 * starting after it (built ahead), or null.
 */
export async function builtPeriodsAround(
  db: Db,
  date: string,
): Promise<{ last: BuiltPeriod | null; next: BuiltPeriod | null }> {
  const { rows } = await sql<{ which: 'last' | 'next'; period_start: string; period_end: string }>`
    (select 'last' as which, period_start::text as period_start, period_end::text as period_end
     from list_periods where status = 'done' and period_start <= ${date}::date
     order by period_start desc limit 1)
    union all
    (select 'next', period_start::text, period_end::text
     from list_periods where status = 'done' and period_start > ${date}::date
     order by period_start limit 1)`.execute(db);
  const pick = (which: 'last' | 'next') => {
    const r = rows.find((x) => x.which === which);
    return r ? { periodStart: r.period_start, periodEnd: r.period_end } : null;
  };
  return { last: pick('last'), next: pick('next') };
}
