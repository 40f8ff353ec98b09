import { sql, type RawBuilder } from 'kysely';
import { textArray, withTx, type Db } from '../db/index.ts';
import { calibrate } from './calibrate.ts';
import { computeCycles } from './cycles.ts';
import { deferReplacements } from './replace-rows.ts';
import { preparePurchaseLines } from './purchase-lines.ts';
import { SCORE_DEFAULTS, scoreNextBasket, type ScoreOptions } from './rank.ts';

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
  const k = checkedK(opts.k);
  const horizon = opts.horizonDays ?? 14;
  const references = Object.entries(opts.references ?? {});
  const names = rankingNames(['model'], references);
  // The held-out baskets and the rankings in temp tables (one transaction, so one session): the
  // accuracy query and the disagreement query both read them.
  return withTx(db, async (tx) => {
    await sql`drop table if exists eval_held, eval_ranked`.execute(tx);
    await sql`create temp table eval_held on commit drop as ${heldOutBasketSql(opts.asOf, horizon)}`.execute(tx);
    await sql`
      create temp table eval_ranked on commit drop as
      select 'model' as ranking, member_id, gtin, rank from member_product_scores where rank <= ${k}
      union all
      select 'topfreq', member_id, gtin, rank from (${topFreqSql(sql`member_product_cycles`)}) t where rank <= ${k}`
      .execute(tx);
    try {
      await insertReferences(tx, references, k);
      const { of, ...e } = await accuracyOf(tx, { k, names, cycles: sql`member_product_cycles` });
      return { ...e, references: Object.fromEntries(references.map(([name]) => [name, of(name)])) };
    } finally {
      // Dropped here too, for a caller's longer transaction.
      await sql`drop table if exists eval_held, eval_ranked`.execute(tx);
    }
  });
}

export interface LastBasketOptions {
  /** The end of the history: baskets at or after this instant are ignored. */
  to: Date;
  /**
   * Members whose last basket before `to` is older than this are left out: a member who stopped
   * coming months ago has no "next basket" worth predicting.
   */
  from: Date;
  /** The chain's IANA time zone: baskets are grouped by their local day in it. */
  timeZone: string;
  k?: number;
  /** The model's score options (list period, α, …); the calibration window is the period. */
  score?: Omit<ScoreOptions, 'asOf' | 'timeZone' | 'keep'>;
  /** Other score options to evaluate on the same baskets, by name (reported in `variants`). */
  variants?: Record<string, Omit<ScoreOptions, 'asOf' | 'timeZone' | 'keep'>>;
  /**
   * Other rankings, by name: queries with columns (member_id, gtin, rank), run after the pass over
   * the days. They may read eval_last (member_id, basket_id, ts, day: the held-out basket),
   * eval_held (member_id, gtin: its products) and eval_cycles (member_product_cycles of each
   * evaluated member as of their own day).
   */
  references?: Record<string, RawBuilder<unknown>>;
}

export interface LastBasketEvaluation extends NextBasketEvaluation {
  /** Members with a basket before `to`, and those whose last one is at or after `from`. */
  membersWithBaskets: number;
  membersInWindow: number;
  /** Distinct local days of the held-out baskets: the prediction chain ran once per day. */
  days: number;
  /** Whether every day's scores were calibrated (a calibration for the period was learnt). */
  calibrated: boolean;
  variants: Record<string, RankingAccuracy>;
}

/**
 * Next-basket accuracy on each member's LAST basket before `to` (issue 5), for members whose last
 * basket is at or after `from`; the ranking uses only the history before that basket.
 *
 * Set-based: members are grouped by the local day D of their last basket, and for each distinct D
 * the prediction chain runs as of D's local midnight, as `predict --at D` does (computeCycles with
 * its back-test → calibrate → scoreNextBasket), keeping the top k of the model and of P-TopFreq for
 * the members whose last basket is on D. So the model knows the day of the basket it predicts
 * (elapsed days are exact), and nothing from that day: baskets the member made earlier on D are
 * neither history nor held out (the day is the model's unit: purchase days, elapsed days).
 *
 * Everything runs in a transaction (a savepoint within the caller's) that is rolled back at the
 * end: the stored cycles, calibration and scores stay as they were. Cost: one prediction chain per
 * distinct day (14 for a 14-day window).
 */
export async function evaluateLastBaskets(db: Db, opts: LastBasketOptions): Promise<LastBasketEvaluation> {
  const k = checkedK(opts.k);
  if (!(opts.from.getTime() < opts.to.getTime())) throw new RangeError('from must be before to');
  const score = opts.score ?? {};
  const periodDays = score.periodDays ?? SCORE_DEFAULTS.periodDays;
  const variants = Object.entries(opts.variants ?? {});
  const references = Object.entries(opts.references ?? {});
  for (const [name] of variants) {
    if (name === 'model' || name === 'topfreq' || Object.hasOwn(opts.references ?? {}, name)) {
      throw new RangeError(`ranking name used twice: ${name}`);
    }
  }
  const names = rankingNames(['model', ...variants.map(([name]) => name)], references);
  const tz = sql`${opts.timeZone}::text`;

  return rolledBack(db, async (tx) => {
    // The replayed days' tables are built beside the live ones and never moved: readers of the
    // live analytics do not wait for the evaluation.
    await deferReplacements(tx);
    await sql`drop table if exists eval_last, eval_held, eval_ranked, eval_cycles`.execute(tx);
    await sql`create temp table eval_last on commit drop as ${lastBasketSql(opts.to, opts.timeZone)}`.execute(tx);
    const counted = await sql<{ all: number; in_window: number }>`
      select count(*)::int as all, count(*) filter (where ts >= ${opts.from.toISOString()}::timestamptz)::int as in_window
      from eval_last`.execute(tx);
    await sql`delete from eval_last where ts < ${opts.from.toISOString()}::timestamptz`.execute(tx);
    await sql`
      create temp table eval_held on commit drop as
      select l.member_id, l.gtin
      from basket_lines l join eval_last e on e.member_id = l.member_id and e.basket_id = l.basket_id
      group by 1, 2 having sum(l.qty) > 0`.execute(tx);
    await sql`
      create temp table eval_ranked on commit drop as
      select ''::text as ranking, member_id, gtin, rank from member_product_scores with no data`.execute(tx);
    await sql`create temp table eval_cycles on commit drop as select * from member_product_cycles with no data`
      .execute(tx);
    await sql`analyze eval_last`.execute(tx);

    const days = await sql<{ day: string; at: Date }>`
      select day::text as day, (day::timestamp at time zone ${tz}) as at
      from eval_last group by day order by day`.execute(tx);
    let calibrated = true;
    for (const { day, at } of days.rows) {
      const asOf = new Date(at);
      const base = { asOf, timeZone: opts.timeZone };
      const lines = await preparePurchaseLines(tx, { ...base, owner: 'job', inline: true });
      await computeCycles(tx, { ...base, backtestDays: periodDays, lines });
      await calibrate(tx, { ...base, windowDays: periodDays });
      const onDay = sql`e.member_id = s.member_id and e.day = ${day}::date`;
      await sql`insert into eval_cycles select s.* from member_product_cycles s join eval_last e on ${onDay}`
        .execute(tx);
      // The model last: its calibration (for its period) is the one a variant with another
      // period replaced.
      let calibratedFor = periodDays;
      for (const [name, options] of [...variants, ['model', score] as const]) {
        const period = options.periodDays ?? SCORE_DEFAULTS.periodDays;
        if (options.calibrated !== false && period !== calibratedFor) {
          await calibrate(tx, { ...base, windowDays: period });
          calibratedFor = period;
        }
        const summary = await scoreNextBasket(tx, { ...options, ...base, keep: k });
        if (name === 'model') calibrated &&= summary.calibrated;
        await sql`
          insert into eval_ranked
          select ${name}, s.member_id, s.gtin, s.rank from member_product_scores s join eval_last e on ${onDay}`
          .execute(tx);
      }
    }
    await sql`analyze eval_cycles`.execute(tx);
    await sql`insert into eval_ranked select 'topfreq', member_id, gtin, rank from (${topFreqSql(sql`eval_cycles`)}) t
      where rank <= ${k}`.execute(tx);
    await insertReferences(tx, references, k);
    const { of, ...e } = await accuracyOf(tx, { k, names, cycles: sql`eval_cycles` });
    return {
      ...e,
      references: Object.fromEntries(references.map(([name]) => [name, of(name)])),
      variants: Object.fromEntries(variants.map(([name]) => [name, of(name)])),
      membersWithBaskets: counted.rows[0]!.all,
      membersInWindow: counted.rows[0]!.in_window,
      days: days.rows.length,
      calibrated: calibrated && days.rows.length > 0,
    };
  });
}

/**
 * Each member's last basket before `to`: columns (member_id, basket_id, ts, day), day being its
 * local date in `timeZone`. Filter on ts for the members still coming.
 */
export function lastBasketSql(to: Date, timeZone: string): RawBuilder<unknown> {
  return sql`
    select member_id, basket_id, ts, (ts at time zone ${timeZone}::text)::date as day
    from (
      select distinct on (b.member_id) b.member_id, b.id as basket_id, b.ts
      from baskets b
      where b.member_id <> 0 and b.ts < ${to.toISOString()}::timestamptz
      order by b.member_id, b.ts desc, b.id desc
    ) last`;
}

function checkedK(k = 10): number {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer: ${k}`);
  return k;
}

function rankingNames(models: string[], references: [string, unknown][]): string[] {
  for (const [name] of references) {
    if (name === 'model' || name === 'topfreq') throw new RangeError(`reserved ranking name: ${name}`);
  }
  return [...models, 'topfreq', ...references.map(([name]) => name)];
}

/** P-TopFreq over a table shaped like member_product_cycles: most purchase days, then most recent. */
function topFreqSql(cycles: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`
    select member_id, gtin, row_number() over (
      partition by member_id order by purchase_days desc, last_purchase_date desc, gtin) as rank
    from ${cycles}`;
}

async function insertReferences(tx: Db, references: [string, RawBuilder<unknown>][], k: number): Promise<void> {
  for (const [name, query] of references) {
    await sql`insert into eval_ranked
      select ${name}::text, member_id, gtin, rank from (${query}) r where rank <= ${k}`.execute(tx);
  }
}

/**
 * `fn` in a transaction that is rolled back afterwards (a savepoint when `db` is a transaction
 * already), whether it succeeds or not.
 */
async function rolledBack<T>(db: Db, fn: (tx: Db) => Promise<T>): Promise<T> {
  if (db.isTransaction) {
    await sql`savepoint evaluation`.execute(db);
    try {
      return await fn(db);
    } finally {
      await sql`rollback to savepoint evaluation`.execute(db);
      await sql`release savepoint evaluation`.execute(db);
    }
  }
  const trx = await db.startTransaction().execute();
  try {
    return await fn(trx);
  } finally {
    await trx.rollback().execute();
  }
}

/**
 * Recall@k, NDCG@k and the model's disagreement with P-TopFreq over eval_held and eval_ranked;
 * members are those with a held-out basket and a history (rows in `cycles`).
 */
async function accuracyOf(
  tx: Db,
  o: { k: number; names: string[]; cycles: RawBuilder<unknown> },
): Promise<Omit<NextBasketEvaluation, 'references'> & { of: (name: string) => RankingAccuracy }> {
  const { k, names } = o;
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
      from eval_held h left join ${o.cycles} c on c.member_id = h.member_id and c.gtin = h.gtin
      where h.member_id in (select member_id from ${o.cycles})
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
    with evaluated as (select distinct member_id from eval_held where member_id in (select member_id from ${o.cycles})),
    m as (select member_id, gtin from eval_ranked where ranking = 'model' and member_id in (select member_id from evaluated)),
    t as (select member_id, gtin from eval_ranked where ranking = 'topfreq' and member_id in (select member_id from evaluated)),
    model_only as (select * from m except select * from t),
    topfreq_only as (select * from t except select * from m)
    select (select count(*) from model_only)::int as slots, (select count(*) from m)::int as all_slots,
      (select count(*) from model_only join eval_held using (member_id, gtin))::int as model_hits,
      (select count(*) from topfreq_only join eval_held using (member_id, gtin))::int as topfreq_hits`.execute(tx);
  const by = Object.fromEntries(rows.map((r) => [r.ranking, r]));
  const of = (name: string): RankingAccuracy => ({ recall: by[name]?.recall ?? 0, ndcg: by[name]?.ndcg ?? 0 });
  const d = differ.rows[0]!;
  const model = by.model;
  return {
    members: model?.members ?? 0,
    k,
    basketSize: model?.basket_size ?? 0,
    seenBefore: model?.seen ?? 0,
    model: of('model'),
    topFreq: of('topfreq'),
    disagreement: {
      slots: d.slots,
      shareOfSlots: d.all_slots > 0 ? d.slots / d.all_slots : 0,
      modelHitRate: d.slots > 0 ? d.model_hits / d.slots : 0,
      topFreqHitRate: d.slots > 0 ? d.topfreq_hits / d.slots : 0,
    },
    of,
  };
}
