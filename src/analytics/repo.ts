import { sql } from 'kysely';
import type { Db, Loyalty, Stage, Tier, ChurnReason, Volume } from '../db/index.ts';

/** Components of the nightly analysis that record when they last ran. */
export type AnalyticsComponent = 'cells' | 'member_scores' | 'traits' | 'associations';

export async function saveSnapshot(
  db: Db,
  component: AnalyticsComponent,
  asOf: Date,
  timeZone: string,
): Promise<void> {
  await db
    .insertInto('analytics_snapshots')
    .values({ component, as_of: asOf, time_zone: timeZone })
    .onConflict((oc) =>
      oc.column('component').doUpdateSet((eb) => ({
        as_of: eb.ref('excluded.as_of'),
        time_zone: eb.ref('excluded.time_zone'),
      })),
    )
    .execute();
}

export async function snapshotOf(
  db: Db,
  component: AnalyticsComponent,
): Promise<{ asOf: Date; timeZone: string } | null> {
  const row = await db
    .selectFrom('analytics_snapshots')
    .select(['as_of', 'time_zone'])
    .where('component', '=', component)
    .executeTakeFirst();
  return row ? { asOf: new Date(row.as_of), timeZone: row.time_zone } : null;
}

/**
 * The analytics lock: 'write' (exclusive) for the nightly analyse job, 'read' (shared) for a
 * transaction that reads tables of both its chains (the list job), taken before the first such
 * read and held until commit. See beginJob in jobs/analyse.ts for why.
 */
export async function lockAnalytics(tx: Db, mode: 'read' | 'write'): Promise<void> {
  await (mode === 'write'
    ? sql`select pg_advisory_xact_lock(hashtext('cadence:analytics'))`
    : sql`select pg_advisory_xact_lock_shared(hashtext('cadence:analytics'))`
  ).execute(tx);
}

/**
 * When each table list generation reads was last computed: the member steps' snapshots and the
 * prediction tables' own `as_of` (null: never, or empty). One analyse job writes them all as of
 * one instant, committed together (jobs/analyse.ts); differing instants mean the tables were
 * computed step by step (the CLI's single steps, tests) or a commit was lost between the job's two
 * transactions.
 */
export async function analyticsAsOf(db: Db): Promise<Record<string, Date | null>> {
  const { rows } = await sql<{ part: string; as_of: Date | null }>`
    select component as part, as_of from analytics_snapshots
      where component in ('cells', 'member_scores', 'traits')
    union all select 'member_category_cycles', (select as_of from member_category_cycles limit 1)
    union all select 'member_product_scores', (select as_of from member_product_scores limit 1)`.execute(db);
  const out: Record<string, Date | null> = {};
  for (const r of rows) out[r.part] = r.as_of === null ? null : new Date(r.as_of);
  return out;
}

export async function findCategory(
  db: Db,
  id: string,
): Promise<{ id: string; name: string } | null> {
  return (
    (await db
      .selectFrom('categories')
      .select(['id', 'name'])
      .where('id', '=', id)
      .executeTakeFirst()) ?? null
  );
}

/**
 * Members are named outside by the chain's member number, never by the internal id; an
 * unregistered member (a card seen at the till, no number yet) by their card number, as the
 * predictions export and their printed list name them. A member number wins over a card.
 */
export async function findMemberByNumber(
  db: Db,
  memberNumber: string,
): Promise<{ id: number; memberNumber: string } | null> {
  const row = await db
    .selectFrom('members')
    .select(['id', 'member_number', 'card_number'])
    .where((eb) =>
      eb.or([
        eb('member_number', '=', memberNumber),
        eb.and([eb('member_number', 'is', null), eb('card_number', '=', memberNumber)]),
      ]),
    )
    .where('id', '<>', 0)
    .orderBy(sql`member_number is null`)
    .limit(1)
    .executeTakeFirst();
  return row
    ? { id: Number(row.id), memberNumber: (row.member_number ?? row.card_number) as string }
    : null;
}

export interface MemberScoresRow {
  visitDays: number;
  spendCents: number;
  weeklySpendCents: number;
  qualified: boolean;
  tier: Tier;
  shareOfWallet: number;
  stage: Stage;
  lastVisitDate: string | null;
  daysSinceLastVisit: number | null;
  meanVisitGapDays: number | null;
  visitGapProbability: number | null;
  recentSpendCents: number;
  priorSpendCents: number;
  churnRisk: boolean;
  churnReason: ChurnReason | null;
}

export async function memberScores(db: Db, memberId: number): Promise<MemberScoresRow | null> {
  const row = await db
    .selectFrom('member_scores')
    .selectAll()
    // drivers differ in how they hand back a date; text is the same everywhere
    .select(sql<string | null>`to_char(last_visit_date, 'YYYY-MM-DD')`.as('last_visit_text'))
    .where('member_id', '=', memberId)
    .executeTakeFirst();
  if (!row) return null;
  return {
    visitDays: row.visit_days,
    spendCents: Number(row.spend_cents),
    weeklySpendCents: row.weekly_spend_cents,
    qualified: row.qualified,
    tier: row.tier,
    shareOfWallet: row.share_of_wallet,
    stage: row.stage,
    lastVisitDate: row.last_visit_text,
    daysSinceLastVisit: row.days_since_last_visit,
    meanVisitGapDays: row.mean_visit_gap_days,
    visitGapProbability: row.visit_gap_probability,
    recentSpendCents: Number(row.recent_spend_cents),
    priorSpendCents: Number(row.prior_spend_cents),
    churnRisk: row.churn_risk,
    churnReason: row.churn_reason,
  };
}

export interface MemberCellRow {
  categoryId: string;
  categoryName: string | null;
  loyalty: Loyalty;
  volume: Volume;
  purchaseDays: number;
  units: number;
  spendCents: number;
  storeShare: number | null;
}

export async function memberCells(db: Db, memberId: number): Promise<MemberCellRow[]> {
  const rows = await db
    .selectFrom('member_category_cells as c')
    .leftJoin('categories as k', 'k.id', 'c.category_id')
    .select([
      'c.category_id',
      'k.name',
      'c.loyalty',
      'c.volume',
      'c.purchase_days',
      'c.units',
      'c.spend_cents',
      'c.store_share',
    ])
    .where('c.member_id', '=', memberId)
    .orderBy('c.spend_cents', 'desc')
    .orderBy(sql`c.category_id collate "C"`)
    .execute();
  return rows.map((r) => ({
    categoryId: r.category_id,
    categoryName: r.name,
    loyalty: r.loyalty,
    volume: r.volume,
    purchaseDays: r.purchase_days,
    units: Number(r.units),
    spendCents: Number(r.spend_cents),
    storeShare: r.store_share,
  }));
}

export async function memberTraits(db: Db, memberId: number): Promise<string[]> {
  const rows = await db
    .selectFrom('member_traits')
    .select('trait')
    .where('member_id', '=', memberId)
    .orderBy(sql`trait collate "C"`)
    .execute();
  return rows.map((r) => r.trait);
}

export interface DueProductRow {
  gtin: string;
  name: string | null;
  rank: number;
  score: number;
  predictedDate: string;
  /** Calibrated probability of a purchase within `windowDays` (14 by default). */
  probability: number;
  windowDays: number;
}

/** The member's top products due, from the next-basket ranking (`member_product_scores`). */
export async function memberDueProducts(
  db: Db,
  memberId: number,
  limit: number,
): Promise<DueProductRow[]> {
  const rows = await db
    .selectFrom('member_product_scores as s')
    .leftJoin('products as p', 'p.gtin', 's.gtin')
    .select([
      's.gtin',
      'p.name',
      's.rank',
      's.score',
      sql<string>`to_char(s.predicted_date, 'YYYY-MM-DD')`.as('predicted_date'),
      's.prob',
      's.window_days',
    ])
    .where('s.member_id', '=', memberId)
    .orderBy('s.rank')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    gtin: r.gtin,
    name: r.name,
    rank: r.rank,
    score: r.score,
    predictedDate: r.predicted_date,
    probability: r.prob,
    windowDays: r.window_days,
  }));
}
