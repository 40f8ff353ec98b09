import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { categoryCellMatrix, computeCells } from '../../src/analytics/cells.ts';
import { defaultSettings } from '../../src/rules/settings.ts';
import { dbKind } from '../support/db.ts';
import { AS_OF, NY, useSimYear } from './sim-year.ts';

// A simulated chain (seed 2026, 600 members, 52 weeks) with its ground truth. Tolerances are
// stated per test; the figures measured are in the comments (seeds 2026, 5 and 77).

const settings = defaultSettings;
const { getDeps, chain } = useSimYear((deps) => computeCells(deps.db, { asOf: AS_OF, timeZone: NY, settings }));

interface Cell {
  member_number: string;
  category_id: string;
  purchase_days: number;
  units: number;
  store_share: number | null;
  units_per_week: number;
  loyalty: string;
  volume: string;
}

async function cells(): Promise<Cell[]> {
  const { rows } = await sql<Cell>`
    select m.member_number, c.category_id, c.purchase_days, c.units, c.store_share,
           c.units_per_week::float8 as units_per_week, c.loyalty, c.volume
    from member_category_cells c join members m on m.id = c.member_id`.execute(getDeps().db);
  return rows;
}

/**
 * The same numbers straight from the generator, without the database: purchase days, units and
 * store-brand units per member number × category, over local dates in [from, to).
 */
function fromGenerator(from: string, to: string) {
  const product = new Map(chain.products.map((p) => [p.gtin, p]));
  const members = [...chain.members()].map((m) => m.memberNumber);
  const out = new Map<
    string,
    { days: Set<string>; units: number; store: number; national: number }
  >();
  for (const line of chain.basketLines()) {
    const date = line.ts.slice(0, 10);
    if (date < from || date >= to) continue;
    const p = product.get(line.gtin)!;
    const key = `${members[line.memberIndex]}:${p.categoryId}`;
    let agg = out.get(key);
    if (!agg) out.set(key, (agg = { days: new Set(), units: 0, store: 0, national: 0 }));
    if (line.qty > 0) agg.days.add(date);
    agg.units += line.qty;
    if (p.brandType === 'store') agg.store += line.qty;
    else agg.national += line.qty;
  }
  return out;
}

describe(`9-cell on a simulated chain (${dbKind})`, () => {
  it('places members in the loyalty cell of their true brand preference', async () => {
    // Target: ≥ 90% for members with ≥ 6 purchase days in the category. Loyalty measured 0.98
    // (seeds 2026, 5, 77); the misses are switchers whose random mix fell outside 0.2–0.8.
    const { rows } = await sql<{ loyalty: number; volume: number; both: number; pairs: number }>`
      select avg((t.brand_pref = c.loyalty)::int)::float8 as loyalty,
             avg((t.volume_level = c.volume)::int)::float8 as volume,
             avg((t.brand_pref = c.loyalty and t.volume_level = c.volume)::int)::float8 as both,
             count(*)::int as pairs
      from member_category_cells c
      join sim_member_category_truth t using (member_id, category_id)
      where c.purchase_days >= 6`.execute(getDeps().db);
    const r = rows[0]!;
    expect(r.pairs).toBeGreaterThan(5000);
    expect(r.loyalty).toBeGreaterThanOrEqual(0.95);

    // Volume against the simulator's 9-cell truth: the tertile of the member's EXPECTED units per
    // week at this chain among the category's buyers (src/sim/volume-truth.ts). Measured 0.84 here
    // (0.84 / 0.84 on seeds 2026 / 7 with 3,000 members; 9-cell 0.82 / 0.82). The 90% target is
    // NOT reached: what is left is counting noise — a year of baskets is one draw around the
    // expected rate (gamma gaps, which trips fall here). By purchase days in the category the
    // volume is right for 0.77 (6–11), 0.85 (12–23) and 0.92 (24+).
    expect(r.volume).toBeGreaterThanOrEqual(0.8);
    expect(r.both).toBeGreaterThanOrEqual(0.78);
  });

  it('counts purchase days, units and store share exactly as the generated baskets say', async () => {
    // Exact, against an independent count from the generator (52 weeks before 1 November).
    const expected = fromGenerator('2025-11-02', '2026-11-01');
    const rows = await cells();
    expect(rows.length).toBe(expected.size);
    for (const row of rows) {
      const e = expected.get(`${row.member_number}:${row.category_id}`);
      expect(e, `${row.member_number}:${row.category_id}`).toBeDefined();
      expect(row.purchase_days).toBe(e!.days.size);
      expect(row.units).toBe(e!.units);
      const share = e!.store / (e!.store + e!.national);
      expect(row.store_share).toBeCloseTo(share, 12);
      const loyalty =
        e!.days.size < settings.cells.minPurchaseDays
          ? 'unclassified'
          : share <= 0.2
            ? 'national'
            : share >= 0.8
              ? 'store'
              : 'switcher';
      expect(row.loyalty).toBe(loyalty);
      expect(row.volume === 'unclassified').toBe(loyalty === 'unclassified');
    }
  });

  it('splits each category’s buyers into volume tertiles of units per week', async () => {
    // Exact: the tertiles are of all the category's buyers in the window (cume_dist of units per
    // week observed, ties on the same side); members with too few purchase days are then
    // 'unclassified' rather than given their level.
    const rows = await cells();
    const byCategory = new Map<string, Cell[]>();
    for (const r of rows)
      byCategory.set(r.category_id, [...(byCategory.get(r.category_id) ?? []), r]);
    let checked = 0;
    for (const [category, members] of byCategory) {
      for (const m of members) {
        if (m.volume === 'unclassified') continue;
        checked++;
        const rank =
          members.filter((o) => o.units_per_week <= m.units_per_week).length / members.length;
        const level = rank <= 1 / 3 ? 'low' : rank <= 2 / 3 ? 'medium' : 'high';
        expect(m.volume, `${m.member_number} ${category}`).toBe(level);
      }
    }
    expect(checked).toBeGreaterThan(5000);
  });

  it('sums the category matrix from the member cells, all nine cells present', async () => {
    const matrix = await categoryCellMatrix(getDeps().db, 'milk');
    expect(matrix.categoryName).toBe('Milk');
    expect(matrix.asOf?.toISOString()).toBe(AS_OF.toISOString());
    expect(matrix.cells).toHaveLength(9);
    const { rows } = await sql<{ members: number; classified: number; spend: number }>`
      select count(*)::int as members, (count(*) filter (where loyalty <> 'unclassified'))::int as classified,
             sum(spend_cents)::bigint as spend
      from member_category_cells where category_id = 'milk'`.execute(getDeps().db);
    const sum = (key: 'members' | 'spendCents') => matrix.cells.reduce((n, c) => n + c[key], 0);
    expect(sum('members')).toBe(rows[0]!.classified);
    expect(sum('members') + matrix.unclassified.members).toBe(matrix.total.members);
    expect(matrix.total.members).toBe(rows[0]!.members);
    expect(sum('spendCents') + matrix.unclassified.spendCents).toBe(Number(rows[0]!.spend));
    // milk leans to the store brand: the store column is the fullest
    const column = (loyalty: string) =>
      matrix.cells.filter((c) => c.loyalty === loyalty).reduce((n, c) => n + c.members, 0);
    expect(column('store')).toBeGreaterThan(column('national'));
    await expect(categoryCellMatrix(getDeps().db, 'no_such_category')).rejects.toMatchObject({
      status: 404,
    });
  });

  it('uses only history before asOf, over the look-back window, and replaces the previous run', async () => {
    // 26 weeks before 1 August 2026: exactly the generated baskets of 1 February – 31 July.
    const asOf = new Date('2026-08-01T04:00:00Z');
    const summary = await computeCells(getDeps().db, {
      asOf,
      timeZone: NY,
      settings: { ...settings, cells: { ...settings.cells, lookbackWeeks: 26 } },
    });
    const expected = fromGenerator('2026-01-31', '2026-08-01');
    const rows = await cells();
    expect(summary.rows).toBe(rows.length);
    expect(rows.length).toBe(expected.size);
    for (const row of rows) {
      const e = expected.get(`${row.member_number}:${row.category_id}`)!;
      expect(row.purchase_days).toBe(e.days.size);
      expect(row.units).toBe(e.units);
    }
    expect((await categoryCellMatrix(getDeps().db, 'milk')).asOf?.toISOString()).toBe(
      asOf.toISOString(),
    );
  });
});
