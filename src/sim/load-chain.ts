import { sql } from 'kysely';
import { upsertStores } from '../catalogue/index.ts';
import { textArray, type Db } from '../db/index.ts';
import type { Deps } from '../deps.ts';
import { importBaskets, importMembers, importProducts, type RejectedRow } from '../ingest/import-csv.ts';
import { csvChunks } from './csv.ts';
import type { SimChain } from './generate.ts';

export interface LoadProgress {
  phase: 'catalogue' | 'members' | 'baskets' | 'truth';
  /** Rows done in this phase. */
  rows: number;
  /** Share of the whole load done, 0–1 (by members simulated). */
  share: number;
}

export interface LoadSummary {
  stores: number;
  products: number;
  members: number;
  baskets: number;
  basketLines: number;
}

/**
 * Loads a simulated chain through the same paths as a real chain's data: store upserts, then the
 * product, member and basket CSV importers, then the truth into the `sim_*` tables. Any rejected
 * row is a bug in the simulator or the importer, so it stops the load.
 *
 * Every step is idempotent (upserts; baskets already stored are found and skipped; truth rows
 * `on conflict do nothing`) except the closing sim_runs row: a load stopped part-way is completed
 * by loading the same chain again. `signal` stops it at the next safe point — between steps, or
 * between groups of members' baskets once the batches under way are written — by throwing its
 * reason; what was written stays.
 */
export async function loadSimChain(
  deps: Pick<Deps, 'db'> & Partial<Pick<Deps, 'clock'>>,
  chain: SimChain,
  opts: { batchSize?: number; onProgress?: (p: LoadProgress) => void; signal?: AbortSignal | undefined } = {},
): Promise<LoadSummary> {
  const checkpoint = () => opts.signal?.throwIfAborted();
  const { seed, members, stores, weeks, timeZone } = chain.options;
  const onReject = (row: RejectedRow) => {
    throw new Error(`simulated row rejected at line ${row.line} (${row.field}): ${row.reason}`);
  };
  const importOpts = { timeZone: timeZone ?? 'America/New_York', onReject };
  checkpoint();
  opts.onProgress?.({ phase: 'catalogue', rows: 0, share: 0 });
  await upsertStores(
    deps,
    chain.stores.map((s) => ({ id: s.id, name: s.name, timeZone: s.timeZone })),
  );
  checkpoint();
  const products = await importProducts(deps, csvChunks(chain.productsCsv()), importOpts);
  checkpoint();
  // Card changes are dated by the clock; without one, as of the simulated chain's last day
  // (its members are new, so nothing is dated by it today: every card opens at '-infinity').
  const clock = deps.clock ?? { now: () => new Date(`${chain.endDate}T00:00:00Z`) };
  const memberSummary = await importMembers({ db: deps.db, clock }, csvChunks(chain.membersCsv()), {
    ...importOpts,
    onProgress: (rows) => opts.onProgress?.({ phase: 'members', rows, share: 0 }),
  });

  // Progress by member: the basket stream is member by member.
  let membersDone = 0;
  function* countedMembers(): Generator<string> {
    for (let from = 0; from < members; from += 100) {
      // Stopping: end the input here (whole baskets), let the importer finish what it has.
      if (opts.signal?.aborted) return;
      yield* chain.basketsCsv({ from, to: Math.min(members, from + 100), header: from === 0 });
      membersDone = Math.min(members, from + 100);
    }
  }
  const baskets = await importBaskets(deps, csvChunks(countedMembers()), {
    ...importOpts,
    batchSize: opts.batchSize ?? 20_000,
    onProgress: (rows) => opts.onProgress?.({ phase: 'baskets', rows, share: membersDone / members }),
  });

  checkpoint();
  opts.onProgress?.({ phase: 'truth', rows: baskets.imported, share: 1 });
  await loadTruth(deps.db, chain);
  checkpoint();
  await deps.db
    .insertInto('sim_runs')
    .values({
      seed,
      members,
      stores,
      weeks,
      end_date: chain.endDate,
      time_zone: importOpts.timeZone,
      basket_lines: baskets.imported,
    })
    .execute();
  return {
    stores: chain.stores.length,
    products: products.imported,
    members: memberSummary.imported,
    baskets: (baskets.created ?? 0) + (baskets.duplicates ?? 0),
    basketLines: baskets.imported,
  };
}

async function* batches<T>(rows: Iterable<T>, size: number): AsyncGenerator<T[]> {
  let batch: T[] = [];
  for (const row of rows) {
    batch.push(row);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

/** Truth rows name members by member number; they are stored under the member's id. */
async function loadTruth(db: Db, chain: SimChain): Promise<void> {
  for await (const rows of batches(chain.truth.memberRows(), 5000)) {
    const col = <K extends keyof (typeof rows)[number]>(k: K) => textArray(rows.map((r) => r[k] as string | number | boolean | null));
    await sql`
      insert into sim_member_truth (member_id, household_size, has_dog, has_cat, has_baby,
        vegetable_lover, weekly_spend_cents, share_of_wallet, visit_mean_days, churn_onset_date)
      select m.id, t.household_size::smallint, t.has_dog::bool, t.has_cat::bool, t.has_baby::bool,
             t.vegetable_lover::bool, t.weekly_spend_cents::int, t.share_of_wallet::real,
             t.visit_mean_days::real, t.churn_onset_date::date
      from unnest(${col('member_number')}, ${col('household_size')}, ${col('has_dog')},
                  ${col('has_cat')}, ${col('has_baby')}, ${col('vegetable_lover')},
                  ${col('weekly_spend_cents')}, ${col('share_of_wallet')},
                  ${col('visit_mean_days')}, ${col('churn_onset_date')})
        as t(member_number, household_size, has_dog, has_cat, has_baby, vegetable_lover,
             weekly_spend_cents, share_of_wallet, visit_mean_days, churn_onset_date)
      join members m on m.member_number = t.member_number
      on conflict (member_id) do nothing`.execute(db);
  }
  for await (const rows of batches(chain.truth.memberCategoryRows(), 20_000)) {
    const col = <K extends keyof (typeof rows)[number]>(k: K) => textArray(rows.map((r) => r[k] as string | boolean));
    await sql`
      insert into sim_member_category_truth (member_id, category_id, brand_pref, volume_level, regular)
      select m.id, t.category_id, t.brand_pref, t.volume_level, t.regular::bool
      from unnest(${col('member_number')}, ${col('category_id')}, ${col('brand_pref')},
                  ${col('volume_level')}, ${col('regular')})
        as t(member_number, category_id, brand_pref, volume_level, regular)
      join members m on m.member_number = t.member_number
      on conflict (member_id, category_id) do nothing`.execute(db);
  }
  for await (const rows of batches(chain.truth.memberProductRows(), 20_000)) {
    const col = <K extends keyof (typeof rows)[number]>(k: K) => textArray(rows.map((r) => r[k] as string | number | null));
    await sql`
      insert into sim_member_product_truth (member_id, gtin, mean_gap_days, gap_shape, abandoned_on)
      select m.id, lpad(t.gtin, 14, '0'), t.mean_gap_days::real, t.gap_shape::real, t.abandoned_on::date
      from unnest(${col('member_number')}, ${col('gtin')}, ${col('mean_gap_days')},
                  ${col('gap_shape')}, ${col('abandoned_on')})
        as t(member_number, gtin, mean_gap_days, gap_shape, abandoned_on)
      join members m on m.member_number = t.member_number
      on conflict (member_id, gtin) do nothing`.execute(db);
  }
}
