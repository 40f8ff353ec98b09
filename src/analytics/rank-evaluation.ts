import { sql } from 'kysely';
import type { Db } from '../db/index.ts';

/**
 * Next-basket accuracy of the stored ranking (member_product_scores) against the personal
 * top-frequency baseline (P-TopFreq: most purchase days first, then the most recent), on each
 * member's first basket at or after `asOf` within `horizonDays` — held out, since the ranking used
 * only baskets before `asOf`. Members without such a basket, or without any history, are left out.
 *
 * Recall@k = |top k ∩ basket| / |basket|; NDCG@k with binary relevance,
 * DCG = Σ_{hits} 1 / log₂(rank + 1) over the ideal DCG of min(|basket|, k) hits (as in
 * Hu et al., "Modeling personalized item frequency information for next-basket recommendation",
 * SIGIR 2020, which introduced TIFU-KNN and reports P-TopFreq).
 */
export interface NextBasketEvaluation {
  members: number;
  k: number;
  /** Mean held-out basket size (distinct products bought). */
  basketSize: number;
  /** Share of held-out products the member had bought before (the ceiling of any personal ranking). */
  seenBefore: number;
  model: { recall: number; ndcg: number };
  topFreq: { recall: number; ndcg: number };
}

export async function evaluateNextBasket(
  db: Db,
  opts: { asOf: Date; k?: number; horizonDays?: number },
): Promise<NextBasketEvaluation> {
  const k = opts.k ?? 10;
  const horizon = opts.horizonDays ?? 14;
  const asOf = sql`${opts.asOf.toISOString()}::timestamptz`;
  const { rows } = await sql<{
    ranking: string;
    members: number;
    basket_size: number;
    seen: number;
    recall: number;
    ndcg: number;
  }>`
    with next_basket as (
      select distinct on (b.member_id) b.member_id, b.id
      from baskets b
      where b.member_id <> 0 and b.ts >= ${asOf} and b.ts < ${asOf} + make_interval(days => ${horizon})
      order by b.member_id, b.ts, b.id
    ),
    held as (
      select l.member_id, l.gtin
      from basket_lines l join next_basket nb on nb.member_id = l.member_id and nb.id = l.basket_id
      group by 1, 2 having sum(l.qty) > 0
    ),
    members as (
      select h.member_id, count(*)::int as n, count(c.gtin)::int as seen
      from held h left join member_product_cycles c on c.member_id = h.member_id and c.gtin = h.gtin
      where h.member_id in (select member_id from member_product_cycles)
      group by h.member_id
    ),
    ranked as (
      select 'model' as ranking, member_id, gtin, rank from member_product_scores where rank <= ${k}
      union all
      select 'topfreq', member_id, gtin, rank from (
        select member_id, gtin, row_number() over (
          partition by member_id order by purchase_days desc, last_purchase_date desc, gtin) as rank
        from member_product_cycles
      ) t where rank <= ${k}
    ),
    per_member as (
      select v.ranking, m.member_id, m.n, m.seen,
        count(h.gtin)::float8 as hits,
        coalesce(sum(1 / log(2, r.rank + 1.0)) filter (where h.gtin is not null), 0)::float8 as dcg,
        (select sum(1 / log(2, i + 1.0)) from generate_series(1, least(m.n, ${k})) i)::float8 as idcg
      from members m
      cross join (values ('model'), ('topfreq')) v(ranking)
      left join ranked r on r.member_id = m.member_id and r.ranking = v.ranking
      left join held h on h.member_id = r.member_id and h.gtin = r.gtin
      group by v.ranking, m.member_id, m.n, m.seen
    )
    select ranking, count(*)::int as members, avg(n)::float8 as basket_size,
      sum(seen)::float8 / nullif(sum(n), 0) as seen,
      avg(hits / n)::float8 as recall, avg(dcg / idcg)::float8 as ndcg
    from per_member group by ranking`.execute(db);
  const by = Object.fromEntries(rows.map((r) => [r.ranking, r]));
  const model = by.model;
  const topFreq = by.topfreq;
  return {
    members: model?.members ?? 0,
    k,
    basketSize: model?.basket_size ?? 0,
    seenBefore: model?.seen ?? 0,
    model: { recall: model?.recall ?? 0, ndcg: model?.ndcg ?? 0 },
    topFreq: { recall: topFreq?.recall ?? 0, ndcg: topFreq?.ndcg ?? 0 },
  };
}
