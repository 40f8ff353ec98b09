import { sql, type RawBuilder } from 'kysely';
import { textArray, withTx, type Db } from '../db/index.ts';

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
  model: RankingAccuracy;
  topFreq: RankingAccuracy;
  /** Each reference ranking passed in `references`, by name. */
  references: Record<string, RankingAccuracy>;
  /**
   * Where the model and P-TopFreq disagree: top-k slots of the model holding a product outside
   * P-TopFreq's top k (as many the other way), and how often those products were in the basket.
   * Recall differs only through these slots.
   */
  disagreement: { slots: number; shareOfSlots: number; modelHitRate: number; topFreqHitRate: number };
}

export interface RankingAccuracy {
  recall: number;
  ndcg: number;
}

export interface EvaluationOptions {
  asOf: Date;
  k?: number;
  horizonDays?: number;
  /**
   * Other rankings to score on the same held-out baskets, by name: each a query with columns
   * (member_id, gtin, rank), rank 1 first. Benchmarks use it for references that know more than
   * a model may (the simulator's truth).
   */
  references?: Record<string, RawBuilder<unknown>>;
}

/**
 * The held-out basket of each member: the distinct products (net quantity > 0) of their first
 * basket at or after `asOf` and before `asOf + horizonDays`. Columns (member_id, gtin).
 */
export function heldOutBasketSql(asOf: Date, horizonDays: number): RawBuilder<unknown> {
  const at = sql`${asOf.toISOString()}::timestamptz`;
  return sql`
    select l.member_id, l.gtin
    from basket_lines l
    join (
      select distinct on (b.member_id) b.member_id, b.id
      from baskets b
      where b.member_id <> 0 and b.ts >= ${at} and b.ts < ${at} + make_interval(days => ${horizonDays})
      order by b.member_id, b.ts, b.id
    ) nb on nb.member_id = l.member_id and nb.id = l.basket_id
    group by 1, 2 having sum(l.qty) > 0`;
}

export async function evaluateNextBasket(db: Db, opts: EvaluationOptions): Promise<NextBasketEvaluation> {
  const k = opts.k ?? 10;
  const horizon = opts.horizonDays ?? 14;
  const references = Object.entries(opts.references ?? {});
  for (const [name] of references) {
    if (name === 'model' || name === 'topfreq') throw new RangeError(`reserved ranking name: ${name}`);
  }
  const names = ['model', 'topfreq', ...references.map(([name]) => name)];
  // The held-out baskets and the rankings in temp tables (one transaction, so one session): the
  // accuracy query and the disagreement query both read them.
  return withTx(db, async (tx) => {
    await sql`drop table if exists eval_held, eval_ranked`.execute(tx);
    await sql`create temp table eval_held on commit drop as ${heldOutBasketSql(opts.asOf, horizon)}`.execute(tx);
    await sql`
      create temp table eval_ranked on commit drop as
      select 'model' as ranking, member_id, gtin, rank from member_product_scores where rank <= ${k}
      union all
      select 'topfreq', member_id, gtin, rank from (
        select member_id, gtin, row_number() over (
          partition by member_id order by purchase_days desc, last_purchase_date desc, gtin) as rank
        from member_product_cycles
      ) t where rank <= ${k}
      ${sql.join(
        references.map(([name, query]) => sql`union all
          select ${name}::text, member_id, gtin, rank from (${query}) r where rank <= ${k}`),
        sql` `,
      )}`.execute(tx);
    try {
      const { rows } = await sql<{
        ranking: string;
        members: number;
        basket_size: number;
        seen: number;
        recall: number;
        ndcg: number;
      }>`
        with members as (
          select h.member_id, count(*)::int as n, count(c.gtin)::int as seen
          from eval_held h left join member_product_cycles c on c.member_id = h.member_id and c.gtin = h.gtin
          where h.member_id in (select member_id from member_product_cycles)
          group by h.member_id
        ),
        per_member as (
          select v.ranking, m.member_id, m.n, m.seen,
            count(h.gtin)::float8 as hits,
            coalesce(sum(1 / log(2, r.rank + 1.0)) filter (where h.gtin is not null), 0)::float8 as dcg,
            (select sum(1 / log(2, i + 1.0)) from generate_series(1, least(m.n, ${k})) i)::float8 as idcg
          from members m
          cross join unnest(${textArray(names)}) v(ranking)
          left join eval_ranked r on r.member_id = m.member_id and r.ranking = v.ranking
          left join eval_held h on h.member_id = r.member_id and h.gtin = r.gtin
          group by v.ranking, m.member_id, m.n, m.seen
        )
        select ranking, count(*)::int as members, avg(n)::float8 as basket_size,
          sum(seen)::float8 / nullif(sum(n), 0) as seen,
          avg(hits / n)::float8 as recall, avg(dcg / idcg)::float8 as ndcg
        from per_member group by ranking`.execute(tx);
      const differ = await sql<{ slots: number; all_slots: number; model_hits: number; topfreq_hits: number }>`
        with evaluated as (select distinct member_id from eval_held),
        m as (select member_id, gtin from eval_ranked where ranking = 'model' and member_id in (select member_id from evaluated)),
        t as (select member_id, gtin from eval_ranked where ranking = 'topfreq' and member_id in (select member_id from evaluated)),
        model_only as (select * from m except select * from t),
        topfreq_only as (select * from t except select * from m)
        select (select count(*) from model_only)::int as slots, (select count(*) from m)::int as all_slots,
          (select count(*) from model_only join eval_held using (member_id, gtin))::int as model_hits,
          (select count(*) from topfreq_only join eval_held using (member_id, gtin))::int as topfreq_hits`.execute(tx);
      const by = Object.fromEntries(rows.map((r) => [r.ranking, r]));
      const accuracy = (name: string): RankingAccuracy => ({ recall: by[name]?.recall ?? 0, ndcg: by[name]?.ndcg ?? 0 });
      const d = differ.rows[0]!;
      const model = by.model;
      return {
        members: model?.members ?? 0,
        k,
        basketSize: model?.basket_size ?? 0,
        seenBefore: model?.seen ?? 0,
        model: accuracy('model'),
        topFreq: accuracy('topfreq'),
        references: Object.fromEntries(references.map(([name]) => [name, accuracy(name)])),
        disagreement: {
          slots: d.slots,
          shareOfSlots: d.all_slots > 0 ? d.slots / d.all_slots : 0,
          modelHitRate: d.slots > 0 ? d.model_hits / d.slots : 0,
          topFreqHitRate: d.slots > 0 ? d.topfreq_hits / d.slots : 0,
        },
      };
    } finally {
      // Dropped here too, for a caller's longer transaction.
      await sql`drop table if exists eval_held, eval_ranked`.execute(tx);
    }
  });
}
