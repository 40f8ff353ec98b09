import { sql, type RawBuilder } from 'kysely';
import { textArray, type Db } from '../../src/db/index.ts';

/**
 * TIFU-KNN, the next-basket baseline of Hu et al., "Modeling personalized item frequency
 * information for next-basket recommendation" (SIGIR 2020), for the analytics bench: a reference
 * the issue names, not part of the product (which ranks set-based in SQL, see src/analytics/rank.ts).
 *
 * A member's history (baskets oldest first, each a set of items) becomes one vector:
 *   - the baskets are cut into groups of `groupSize`, counted back from the latest basket (the oldest
 *     group may be short);
 *   - a group's vector is (1/|g|) Σ_j r_b^(|g|−j) · b_j over its baskets j = 1…|g|, oldest first
 *     (b_j the 0/1 vector of basket j: recent baskets of the group weigh more);
 *   - the member's vector is (1/G) Σ_i r_g^(G−i) · g_i over the groups i = 1…G, oldest first.
 * The member's `neighbours` nearest other members by cosine similarity of those vectors give
 *   prediction = α · own vector + (1 − α) · mean of the neighbours' vectors,
 * and the top k items of it are the ranking (items never bought by the member included: what
 * the neighbours add). Ties: the item first met in the input first.
 */
export interface TifuKnnParams {
  groupSize: number;
  /** r_b, decay of baskets within a group. */
  withinDecay: number;
  /** r_g, decay of groups. */
  groupDecay: number;
  neighbours: number;
  /** α, the weight of the member's own vector. */
  alpha: number;
}

/** Baskets oldest first; each basket the distinct items bought. */
export type BasketHistory = readonly (readonly string[])[];

interface SparseVector {
  items: Int32Array;
  values: Float64Array;
  norm: number;
}

/** The top `k` items per member, best first. Members with an empty history get an empty list. */
export function tifuKnn<M>(histories: ReadonlyMap<M, BasketHistory>, params: TifuKnnParams, k: number): Map<M, string[]> {
  const model = memberVectors(histories, params);
  return model.rank(model.nearest(params.neighbours), params.alpha, k);
}

/** The members' vectors for one (groupSize, withinDecay, groupDecay); neighbours and α on top. */
function memberVectors<M>(histories: ReadonlyMap<M, BasketHistory>, params: TifuKnnParams) {
  const { groupSize, withinDecay, groupDecay, neighbours, alpha } = params;
  if (!(groupSize >= 1) || !(neighbours >= 1) || !(alpha >= 0 && alpha <= 1)) {
    throw new RangeError(`bad TIFU-KNN parameters: ${JSON.stringify(params)}`);
  }
  const itemIndex = new Map<string, number>();
  const itemNames: string[] = [];
  const indexOf = (item: string) => {
    let i = itemIndex.get(item);
    if (i === undefined) {
      i = itemNames.length;
      itemIndex.set(item, i);
      itemNames.push(item);
    }
    return i;
  };

  const members = [...histories.keys()];
  const vectors: SparseVector[] = members.map((m) => {
    const baskets = histories.get(m)!;
    const acc = new Map<number, number>();
    const groups = Math.ceil(baskets.length / groupSize);
    for (let g = 0; g < groups; g++) {
      // group g (0 = oldest) ends `(groups − 1 − g) · groupSize` baskets before the latest
      const end = baskets.length - (groups - 1 - g) * groupSize;
      const start = Math.max(0, end - groupSize);
      const size = end - start;
      const groupWeight = groupDecay ** (groups - 1 - g) / groups;
      for (let j = start; j < end; j++) {
        const w = (groupWeight * withinDecay ** (end - 1 - j)) / size;
        for (const item of new Set(baskets[j])) {
          const i = indexOf(item);
          acc.set(i, (acc.get(i) ?? 0) + w);
        }
      }
    }
    const entries = [...acc].sort((a, b) => a[0] - b[0]);
    const values = Float64Array.from(entries, (e) => e[1]);
    return {
      items: Int32Array.from(entries, (e) => e[0]),
      values,
      norm: Math.sqrt(values.reduce((s, v) => s + v * v, 0)),
    };
  });

  /** Each member's `count` nearest other members by cosine (ties: the earlier member first). */
  function nearest(count: number): Int32Array[] {
    // Postings: for each item, the members holding it and their weight.
    const lengths = new Int32Array(itemNames.length);
    for (const v of vectors) for (const i of v.items) lengths[i]!++;
    const postingMembers = Array.from(lengths, (n) => new Int32Array(n));
    const postingValues = Array.from(lengths, (n) => new Float64Array(n));
    const filled = new Int32Array(itemNames.length);
    vectors.forEach((v, u) => {
      for (let n = 0; n < v.items.length; n++) {
        const i = v.items[n]!;
        postingMembers[i]![filled[i]!] = u;
        postingValues[i]![filled[i]!] = v.values[n]!;
        filled[i]!++;
      }
    });
    const dot = new Float64Array(members.length);
    const touched = new Int32Array(members.length);
    const sims = new Float64Array(members.length);
    return vectors.map((v, u) => {
      let t = 0;
      for (let n = 0; n < v.items.length; n++) {
        const pm = postingMembers[v.items[n]!]!;
        const pv = postingValues[v.items[n]!]!;
        const x = v.values[n]!;
        for (let p = 0; p < pm.length; p++) {
          const o = pm[p]!;
          if (o === u) continue;
          if (dot[o] === 0) touched[t++] = o;
          dot[o] = dot[o]! + x * pv[p]!;
        }
      }
      for (let c = 0; c < t; c++) {
        const o = touched[c]!;
        sims[c] = dot[o]! / (v.norm * vectors[o]!.norm);
        dot[o] = 0;
      }
      if (t <= count) return touched.slice(0, t);
      // the count-th largest similarity, then those above it and enough of those equal to it
      const threshold = kthLargest(sims.slice(0, t), count);
      const above: number[] = [];
      const equal: number[] = [];
      for (let c = 0; c < t; c++) {
        if (sims[c]! > threshold) above.push(touched[c]!);
        else if (sims[c] === threshold) equal.push(touched[c]!);
      }
      equal.sort((a, b) => a - b);
      return Int32Array.from([...above, ...equal.slice(0, count - above.length)]);
    });
  }

  /** prediction = α · own + (1 − α) · mean of the neighbours; its top k items. */
  function rank(neighbourLists: readonly Int32Array[], alphaNow: number, k: number): Map<M, string[]> {
    const score = new Float64Array(itemNames.length);
    const scored: number[] = [];
    const add = (w: SparseVector, weight: number) => {
      for (let n = 0; n < w.items.length; n++) {
        const i = w.items[n]!;
        if (score[i] === 0) scored.push(i);
        score[i] = score[i]! + weight * w.values[n]!;
      }
    };
    const out = new Map<M, string[]>();
    vectors.forEach((v, u) => {
      const near = neighbourLists[u]!;
      add(v, alphaNow);
      for (const o of near) add(vectors[o]!, (1 - alphaNow) / near.length);
      const best = topBy(scored, k, (i) => score[i]!, (i) => i);
      out.set(members[u]!, best.map((i) => itemNames[i]!));
      for (const i of scored) score[i] = 0;
      scored.length = 0;
    });
    return out;
  }

  return { nearest, rank };
}

/** The `k` elements with the largest key (ties: the smaller `order` first), largest first. */
function topBy<T>(xs: readonly T[], k: number, key: (x: T) => number, order: (x: T) => number): T[] {
  const better = (a: T, b: T) => key(a) > key(b) || (key(a) === key(b) && order(a) < order(b));
  const top: T[] = [];
  for (const x of xs) {
    if (top.length === k && !better(x, top[k - 1]!)) continue;
    let i = Math.min(top.length, k - 1);
    if (top.length < k) top.push(x);
    while (i > 0 && better(x, top[i - 1]!)) {
      top[i] = top[i - 1]!;
      i--;
    }
    top[i] = x;
  }
  return top;
}

/** The k-th largest value of `xs` (1 ≤ k ≤ length); reorders `xs`. */
function kthLargest(xs: Float64Array, k: number): number {
  let lo = 0;
  let hi = xs.length - 1;
  const target = k - 1;
  while (lo < hi) {
    const pivot = xs[(lo + hi) >> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (xs[i]! > pivot) i++;
      while (xs[j]! < pivot) j--;
      if (i <= j) {
        const x = xs[i]!;
        xs[i] = xs[j]!;
        xs[j] = x;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return xs[target]!;
  }
  return xs[target]!;
}

/** One grid point's validation score, for the bench's report. */
export interface TunedTifuKnn {
  params: TifuKnnParams;
  /** Recall@k on each member's last history basket, predicted from the baskets before it. */
  validationRecall: number;
  rankings: Map<number, string[]>;
}

/**
 * TIFU-KNN with its parameters picked on validation, as the paper does: every grid point predicts
 * each member's last basket of the history from the baskets before it; the best Recall@k wins and
 * then ranks from the whole history. The held-out baskets are never seen.
 */
export function tunedTifuKnn(histories: ReadonlyMap<number, BasketHistory>, k: number, grid: readonly TifuKnnParams[]): TunedTifuKnn {
  const train = new Map<number, BasketHistory>();
  const target = new Map<number, ReadonlySet<string>>();
  for (const [m, baskets] of histories) {
    train.set(m, baskets.slice(0, -1));
    if (baskets.length >= 2) target.set(m, new Set(baskets[baskets.length - 1]));
  }
  let best: { params: TifuKnnParams; recall: number } | null = null;
  const vectorsOf = new Map<string, ReturnType<typeof memberVectors<number>>>();
  const nearestOf = new Map<string, Int32Array[]>();
  for (const params of grid) {
    const vectorKey = `${params.groupSize}/${params.withinDecay}/${params.groupDecay}`;
    let model = vectorsOf.get(vectorKey);
    if (!model) vectorsOf.set(vectorKey, (model = memberVectors(train, params)));
    const nearKey = `${vectorKey}/${params.neighbours}`;
    let near = nearestOf.get(nearKey);
    if (!near) nearestOf.set(nearKey, (near = model.nearest(params.neighbours)));
    const ranked = model.rank(near, params.alpha, k);
    let sum = 0;
    for (const [m, items] of target) {
      const top = ranked.get(m) ?? [];
      sum += top.filter((g) => items.has(g)).length / items.size;
    }
    const recall = target.size > 0 ? sum / target.size : 0;
    if (!best || recall > best.recall) best = { params, recall };
  }
  if (!best) throw new RangeError('an empty grid');
  return { params: best.params, validationRecall: best.recall, rankings: tifuKnn(histories, best.params, k) };
}

/** The grid searched: group sizes, decays, neighbours and α around the values the paper reports for grocery data. */
export const TIFU_KNN_GRID: readonly TifuKnnParams[] = [3, 7].flatMap((groupSize) =>
  [
    [0.9, 0.7],
    [1, 0.9],
    [1, 1],
  ].flatMap(([withinDecay, groupDecay]) =>
    [300].flatMap((neighbours) =>
      [0.7, 0.9, 1].map((alpha) => ({ groupSize, withinDecay: withinDecay!, groupDecay: groupDecay!, neighbours, alpha })),
    ),
  ),
);

/**
 * Every member's baskets strictly before their cutoff, oldest first, each as its distinct GTINs
 * bought (net quantity > 0). `cutoffs`: a query with columns (member_id, cutoff timestamptz).
 */
export async function loadHistories(db: Db, cutoffs: RawBuilder<unknown>): Promise<Map<number, string[][]>> {
  const { rows } = await sql<{ member_id: string | number; basket_id: string | number; gtin: string }>`
    select b.member_id, b.id as basket_id, l.gtin
    from (${cutoffs}) c
    join baskets b on b.member_id = c.member_id and b.ts < c.cutoff
    join basket_lines l on l.member_id = b.member_id and l.basket_id = b.id
    where b.member_id <> 0
    group by b.member_id, b.id, b.ts, l.gtin
    having sum(l.qty) > 0
    order by b.member_id, b.ts, b.id, l.gtin`.execute(db);
  const histories = new Map<number, string[][]>();
  let lastBasket: string | number | null = null;
  for (const r of rows) {
    const m = Number(r.member_id);
    let baskets = histories.get(m);
    if (!baskets) histories.set(m, (baskets = []));
    if (r.basket_id !== lastBasket || baskets.length === 0) baskets.push([]);
    lastBasket = r.basket_id;
    baskets[baskets.length - 1]!.push(r.gtin);
  }
  return histories;
}

/** Writes rankings to `table` (member_id, gtin, rank) and returns a query of it for the evaluation. */
export async function rankingTable(db: Db, table: string, rankings: ReadonlyMap<number, readonly string[]>): Promise<RawBuilder<unknown>> {
  const member: number[] = [];
  const gtin: string[] = [];
  const rank: number[] = [];
  for (const [m, items] of rankings) items.forEach((g, i) => (member.push(m), gtin.push(g), rank.push(i + 1)));
  await sql`drop table if exists ${sql.table(table)}`.execute(db);
  await sql`
    create table ${sql.table(table)} as
    select u.member_id::bigint as member_id, u.gtin::char(14) collate "C" as gtin, u.rank::int as rank
    from unnest(${textArray(member)}, ${textArray(gtin)}, ${textArray(rank)}) as u(member_id, gtin, rank)`.execute(db);
  return sql`select member_id, gtin, rank from ${sql.table(table)}`;
}
