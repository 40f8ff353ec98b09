import { sql } from 'kysely';
import { withTx, type Db, type Loyalty, type Volume } from '../db/index.ts';
import { NotFoundError } from '../lib/errors.ts';
import { localDate, localToInstant } from '../lib/time.ts';
import type { Settings } from '../rules/settings.ts';
import { purchaseLinesFor, type PurchaseLines } from './purchase-lines.ts';
import { findCategory, saveSnapshot, snapshotOf } from './repo.ts';
import { replaceRows } from './replace-rows.ts';
import { tuneSession } from './cycles.ts';

/** What every nightly computation takes: history strictly before `asOf` counts. */
export interface AnalyseOptions {
  asOf: Date;
  /** The chain's zone: windows start at its local midnights; stores' own zones give "day". */
  timeZone: string;
  settings: Settings;
  /** The scan lines prepared by the nightly job (see purchase-lines.ts); built here when absent. */
  lines?: PurchaseLines | undefined;
}

/** `YYYY-MM-DD` plus `days`. */
export function addDays(date: string, days: number): string {
  const t = Date.parse(`${date}T00:00:00Z`) + days * 86_400_000;
  return new Date(t).toISOString().slice(0, 10);
}

/**
 * Start of a window of `weeks` whole local days ending with asOf's own (partial) day: local
 * midnight `7 · weeks` days before asOf's local date. Computed here rather than with SQL interval
 * arithmetic, which follows the session's time zone and so differs between servers.
 */
export function windowStart(
  asOf: Date,
  weeks: number,
  timeZone: string,
): { at: string; date: string } {
  const date = addDays(localDate(asOf, timeZone), -7 * weeks);
  const at = localToInstant(date, timeZone);
  if (!at) throw new RangeError(`no local midnight on ${date} in ${timeZone}`);
  return { at, date };
}

/**
 * Weeks each member was observable in the window `[from, asOf)`: from their first basket (looked
 * for as far back as `seenFrom`) or the window start, whichever is later; at least `minWeeks`.
 * Rates per week observed keep members who joined during the window from looking light.
 */
export function observedWeeksSql(p: {
  seenFrom: string;
  from: string;
  asOf: string;
  minWeeks: number;
}) {
  return sql`
    select member_id,
           greatest(${p.minWeeks}::float8,
                    extract(epoch from (${p.asOf}::timestamptz - greatest(min(ts), ${p.from}::timestamptz)))
                      / 604800.0) as weeks
    from baskets
    where member_id <> 0 and ts >= ${p.seenFrom}::timestamptz and ts < ${p.asOf}::timestamptz
    group by member_id`;
}

export interface CellsSummary {
  /** member × category rows written */
  rows: number;
  classified: number;
}

/**
 * The 9-cell per member × category over the look-back window.
 *
 * Model (one row per member and category bought in the window):
 *   units         = Σ qty (net of returns)
 *   store_share   = store-brand units / (store-brand + national-brand units), negatives clamped to 0
 *   loyalty       = national if store_share ≤ national_max_store_share (0.2),
 *                   store    if store_share ≥ store_min_store_share (0.8), else switcher
 *   units_per_week = units / weeks observed (from the member's first basket or the window start)
 *   volume        = low / medium / high by tertiles (cume_dist ≤ ⅓, ≤ ⅔, above) of units_per_week
 *                   among ALL the category's buyers in the window, as defined: ranking only the
 *                   classified ones (≥ min_purchase_days) would move every cut up, since light
 *                   buyers are the ones with few purchase days, and call a median buyer light
 * A member with fewer than `min_purchase_days` local days with a purchase in the category, or no
 * branded units, is 'unclassified' on both axes: three scans are not a habit.
 * Same-day baskets count as one purchase day; spend is Σ round(qty · unit price) − discounts, as
 * basket totals are.
 *
 * Replaces the table's contents in one transaction: computed into a temp table first, then one
 * ordered insert into a new table, its indexes built after it, moved into place of the live one
 * (replace-rows.ts, which says why neither `truncate` nor `delete`).
 */
export async function computeCells(db: Db, opts: AnalyseOptions): Promise<CellsSummary> {
  const { asOf, timeZone, settings } = opts;
  const c = settings.cells;
  const at = asOf.toISOString();
  const from = windowStart(asOf, c.lookbackWeeks, timeZone).at;
  const seenFrom = windowStart(asOf, 2 * c.lookbackWeeks, timeZone).at;

  return withTx(db, async (tx) => {
    await tuneSession(tx);
    const { lines, release } = await purchaseLinesFor(tx, opts);
    await sql`drop table if exists cells_new`.execute(tx);
    await sql`
      create temp table cells_new on commit drop as
      with seen as (${observedWeeksSql({ seenFrom, from, asOf: at, minWeeks: 1 })}),
      lines as (
        select member_id, category_id, brand_type, qty_milli, day, spend_cents
        from ${lines.table} l
        where ts >= ${from}::timestamptz and category_id is not null
      ),
      totals as (
        select member_id, category_id,
               count(distinct day) filter (where qty_milli > 0) as purchase_days,
               (sum(qty_milli)::numeric / 1000)::numeric(20, 3) as units,
               (greatest(coalesce(sum(qty_milli) filter (where brand_type = 'store'), 0), 0)::numeric
                 / 1000)::numeric(20, 3) as store_units,
               (greatest(coalesce(sum(qty_milli) filter (where brand_type = 'national'), 0), 0)::numeric
                 / 1000)::numeric(20, 3) as national_units,
               sum(spend_cents) as spend_cents
        from lines
        group by member_id, category_id
      ),
      measured as (
        select t.member_id, t.category_id, t.purchase_days, t.units, t.spend_cents,
               greatest(t.units, 0)::float8 / seen.weeks as units_per_week,
               (t.store_units / nullif(t.store_units + t.national_units, 0))::float8 as store_share,
               t.purchase_days >= ${c.minPurchaseDays} and t.store_units + t.national_units > 0
                 as classified
        from totals t
        join seen using (member_id)
        where t.purchase_days > 0
      ),
      ranked as (
        select m.*,
               cume_dist() over (partition by category_id order by units_per_week)
                 as volume_rank
        from measured m
      )
      select member_id, category_id, purchase_days, units, units_per_week, spend_cents, store_share,
             case when not classified then 'unclassified'
                  when store_share <= ${c.nationalMaxStoreShare}::float8 then 'national'
                  when store_share >= ${c.storeMinStoreShare}::float8 then 'store'
                  else 'switcher' end as loyalty,
             case when not classified then 'unclassified'
                  when volume_rank <= 1.0 / 3 then 'low'
                  when volume_rank <= 2.0 / 3 then 'medium'
                  else 'high' end as volume
      from ranked`.execute(tx);
    await release();
    await replaceRows(tx, 'member_category_cells', () =>
      sql`
        insert into member_category_cells (member_id, category_id, purchase_days, units,
          units_per_week, spend_cents, store_share, loyalty, volume)
        select member_id, category_id, purchase_days, units, units_per_week, spend_cents,
               store_share, loyalty, volume
        from cells_new
        order by member_id, category_id`.execute(tx),
    );
    await sql`drop table cells_new`.execute(tx);
    await saveSnapshot(tx, 'cells', asOf, timeZone);
    const { rows } = await sql<{ rows: number; classified: number }>`
      select count(*)::int as rows, (count(*) filter (where loyalty <> 'unclassified'))::int as classified
      from member_category_cells`.execute(tx);
    return rows[0]!;
  });
}

export const LOYALTIES = ['national', 'switcher', 'store'] as const;
export const VOLUMES = ['low', 'medium', 'high'] as const;

export interface CellCount {
  members: number;
  spendCents: number;
}

export interface CategoryCellMatrix {
  categoryId: string;
  categoryName: string;
  /** null when the cells were never computed. */
  asOf: Date | null;
  /** All nine cells, zero-filled, loyalty-major in the order national, switcher, store. */
  cells: Array<
    {
      loyalty: Exclude<Loyalty, 'unclassified'>;
      volume: Exclude<Volume, 'unclassified'>;
    } & CellCount
  >;
  unclassified: CellCount;
  total: CellCount;
}

/** The 3 × 3 matrix of a category: member counts and look-back spend per cell. */
export async function categoryCellMatrix(db: Db, categoryId: string): Promise<CategoryCellMatrix> {
  const category = await findCategory(db, categoryId);
  if (!category)
    throw new NotFoundError(`no category ${categoryId}`, [
      { path: 'id', message: 'unknown category' },
    ]);
  const { rows } = await sql<{
    loyalty: Loyalty;
    volume: Volume;
    members: number;
    spend_cents: number;
  }>`
    select loyalty, volume, count(*)::int as members, coalesce(sum(spend_cents), 0)::bigint as spend_cents
    from member_category_cells
    where category_id = ${categoryId}
    group by loyalty, volume`.execute(db);
  const get = (loyalty: Loyalty, volume?: Volume): CellCount => {
    const hits = rows.filter(
      (r) => r.loyalty === loyalty && (volume === undefined || r.volume === volume),
    );
    return {
      members: hits.reduce((n, r) => n + r.members, 0),
      spendCents: hits.reduce((n, r) => n + Number(r.spend_cents), 0),
    };
  };
  const cells = LOYALTIES.flatMap((loyalty) =>
    VOLUMES.map((volume) => ({ loyalty, volume, ...get(loyalty, volume) })),
  );
  return {
    categoryId: category.id,
    categoryName: category.name,
    asOf: (await snapshotOf(db, 'cells'))?.asOf ?? null,
    cells,
    unclassified: get('unclassified'),
    total: {
      members: rows.reduce((n, r) => n + r.members, 0),
      spendCents: rows.reduce((n, r) => n + Number(r.spend_cents), 0),
    },
  };
}
