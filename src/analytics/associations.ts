import { sql } from 'kysely';
import { withTx, type Db } from '../db/index.ts';
import { windowStart, type AnalyseOptions } from './cells.ts';
import { tuneSession } from './cycles.ts';
import { purchaseLinesFor } from './purchase-lines.ts';
import { saveSnapshot, snapshotOf } from './repo.ts';

export interface AssociationsSummary {
  /** members' baskets in the window */
  baskets: number;
  /** ordered pairs written */
  pairs: number;
}

/**
 * Market-basket associations between categories (Agrawal, Imieliński & Swami, SIGMOD 1993;
 * lift as Brin et al.'s "interest", SIGMOD 1997), over members' baskets in the last
 * `associations.lookback_weeks`. Anonymous baskets are left out: the table serves member
 * targeting, and walk-in shoppers are another population.
 *
 *   N          = baskets with at least one categorised line (qty > 0)
 *   n(X)       = baskets holding category X;  n(A, B) = baskets holding both
 *   support    = n(A, B) / N
 *   confidence = P(B | A) = n(A, B) / n(A)
 *   lift       = confidence / (n(B) / N)   — 1 when A tells nothing about B
 * Both orders of each pair are stored (confidence is asymmetric); pairs below `min_support` or
 * `min_pair_baskets` are not.
 *
 * Replaces the table's contents in one transaction.
 */
export async function computeAssociations(
  db: Db,
  opts: AnalyseOptions,
): Promise<AssociationsSummary> {
  const { asOf, timeZone, settings } = opts;
  const a = settings.associations;
  const at = asOf.toISOString();
  const from = windowStart(asOf, a.lookbackWeeks, timeZone).at;

  return withTx(db, async (tx) => {
    await tuneSession(tx);
    const { lines, release } = await purchaseLinesFor(tx, opts);
    await sql`delete from category_associations`.execute(tx);
    await sql`
      insert into category_associations (antecedent_id, consequent_id, baskets, support, confidence, lift)
      with basket_categories as (
        -- one row per basket: its distinct categories, sorted (pairs come from the array, not from
        -- a self-join, which the planner may turn into a nested loop over a CTE scan)
        select member_id, basket_id, array_agg(distinct category_id order by category_id) as cats
        from ${lines.table} l
        where ts >= ${from}::timestamptz and category_id is not null and qty_milli > 0
        group by member_id, basket_id
      ),
      total as (
        select count(*)::float8 as baskets from basket_categories
      ),
      single as (
        select c.category_id, count(*)::float8 as baskets
        from basket_categories bc cross join lateral unnest(bc.cats) as c(category_id)
        group by c.category_id
      ),
      pair as (
        -- each unordered pair once (a < b: the arrays are sorted), by position: only the pairs
        -- are generated, not every position pair then filtered
        select bc.cats[i] as a, bc.cats[j] as b, count(*) as baskets
        from basket_categories bc
        cross join lateral generate_series(1, cardinality(bc.cats) - 1) as i
        cross join lateral generate_series(i + 1, cardinality(bc.cats)) as j
        group by 1, 2
        having count(*) >= ${a.minPairBaskets}
      ),
      ordered as (
        select a as antecedent_id, b as consequent_id, baskets from pair
        union all
        select b, a, baskets from pair
      )
      select o.antecedent_id, o.consequent_id, o.baskets,
             o.baskets / t.baskets as support,
             o.baskets / sa.baskets as confidence,
             (o.baskets / sa.baskets) / (sc.baskets / t.baskets) as lift
      from ordered o
      cross join total t
      join single sa on sa.category_id = o.antecedent_id
      join single sc on sc.category_id = o.consequent_id
      where o.baskets / t.baskets >= ${a.minSupport}::float8`.execute(tx);
    await release();
    await saveSnapshot(tx, 'associations', asOf, timeZone);
    const { rows } = await sql<{ baskets: number; pairs: number }>`
      select (select count(*)::int from category_associations) as pairs,
             (select count(*)::int from (
                select distinct b.member_id, b.id
                from baskets b
                where b.member_id <> 0 and b.ts >= ${from}::timestamptz and b.ts < ${at}::timestamptz
              ) x) as baskets`.execute(tx);
    return rows[0]!;
  });
}

export interface Association {
  antecedentId: string;
  antecedentName: string | null;
  consequentId: string;
  consequentName: string | null;
  baskets: number;
  support: number;
  confidence: number;
  lift: number;
}

export interface AssociationQuery {
  minLift?: number | undefined;
  minSupport?: number | undefined;
  /** Only rules whose antecedent is this category. */
  categoryId?: string | undefined;
  limit?: number | undefined;
}

/** Top association rules by lift (then support), for reports and the API. */
export async function topAssociations(
  db: Db,
  query: AssociationQuery = {},
): Promise<{ asOf: Date | null; associations: Association[] }> {
  let q = db
    .selectFrom('category_associations as r')
    .leftJoin('categories as a', 'a.id', 'r.antecedent_id')
    .leftJoin('categories as c', 'c.id', 'r.consequent_id')
    .select([
      'r.antecedent_id',
      'a.name as antecedent_name',
      'r.consequent_id',
      'c.name as consequent_name',
      'r.baskets',
      'r.support',
      'r.confidence',
      'r.lift',
    ]);
  if (query.minLift !== undefined) q = q.where('r.lift', '>=', query.minLift);
  if (query.minSupport !== undefined) q = q.where('r.support', '>=', query.minSupport);
  if (query.categoryId !== undefined) q = q.where('r.antecedent_id', '=', query.categoryId);
  const rows = await q
    .orderBy('r.lift', 'desc')
    .orderBy('r.support', 'desc')
    .orderBy(sql`r.antecedent_id collate "C"`)
    .orderBy(sql`r.consequent_id collate "C"`)
    .limit(query.limit ?? 20)
    .execute();
  return {
    asOf: (await snapshotOf(db, 'associations'))?.asOf ?? null,
    associations: rows.map((r) => ({
      antecedentId: r.antecedent_id,
      antecedentName: r.antecedent_name,
      consequentId: r.consequent_id,
      consequentName: r.consequent_name,
      baskets: r.baskets,
      support: r.support,
      confidence: r.confidence,
      lift: r.lift,
    })),
  };
}
