import { beforeAll, describe, expect, it } from 'vitest';
import { computeAssociations, topAssociations } from '../../src/analytics/associations.ts';
import {
  upsertCategories,
  upsertManufacturers,
  upsertMembers,
  upsertProducts,
  upsertStores,
} from '../../src/catalogue/index.ts';
import { ingestBaskets, type BasketInput } from '../../src/ingest/index.ts';
import { defaultSettings, type Settings } from '../../src/rules/settings.ts';
import { dbKind, useTestDeps } from '../support/db.ts';
import { gtin13, gtin14 } from '../support/factories.ts';

// Support, confidence and lift on hand-built baskets, checked against a count in plain
// JavaScript of the same baskets.

const getDeps = useTestDeps();
const NY = 'America/New_York';
const AS_OF = new Date('2026-11-01T04:00:00Z');
const CATEGORIES = ['bread', 'butter', 'jam', 'milk', 'soap'] as const;
const gtinOf = (i: number) => gtin14(gtin13(100 + i));
const UNCATEGORISED = gtin14(gtin13(199));
const settings: Settings = {
  ...defaultSettings,
  associations: { lookbackWeeks: 26, minSupport: 0.05, minPairBaskets: 3 },
};

/** Members' baskets inside the window: category sets by a fixed pattern. */
const windowBaskets: string[][] = Array.from({ length: 60 }, (_, i) =>
  CATEGORIES.filter(
    (_, c) => [i % 2 === 0, i % 3 === 0, i % 4 === 0, i % 5 !== 0, i % 11 === 0][c]!,
  ),
);

let txn = 0;
function basket(
  member: string | null,
  ts: string,
  categories: readonly string[],
  extra: BasketInput['lines'] = [],
): BasketInput {
  return {
    storeId: 1,
    terminalId: 'T1',
    txnId: `a${++txn}`,
    ts,
    member: member === null ? null : { kind: 'number', ref: member },
    lines: [
      ...categories.map((c) => ({
        gtin: gtinOf(CATEGORIES.indexOf(c as never)),
        qty: 1,
        unitPriceCents: 100,
        lineDiscountCents: 0,
      })),
      ...extra,
    ],
  };
}

beforeAll(async () => {
  const deps = getDeps();
  await upsertStores(deps, [{ id: 1, name: 'Main Street', timeZone: NY }]);
  await upsertManufacturers(deps, [{ id: 'acme', name: 'Acme' }]);
  await upsertCategories(
    deps,
    CATEGORIES.map((id) => ({ id, name: id.toUpperCase() })),
  );
  await upsertProducts(deps, [
    ...CATEGORIES.map((categoryId, i) => ({
      gtin: gtinOf(i),
      name: categoryId,
      categoryId,
      brandType: 'national' as const,
      manufacturerId: 'acme',
    })),
    { gtin: UNCATEGORISED, name: 'gift card' },
  ]);
  await upsertMembers(deps, [{ memberNumber: 'A' }, { memberNumber: 'B' }]);

  const baskets: BasketInput[] = windowBaskets.map((cats, i) => {
    const day = new Date(Date.UTC(2026, 7, 1 + i)).toISOString().slice(0, 10);
    // a returned soap bar is not soap in the basket; an uncategorised line is no category
    const extra =
      i % 7 === 0 ? [{ gtin: gtinOf(4), qty: -1, unitPriceCents: 100, lineDiscountCents: 0 }] : [];
    // baskets with no categorised item hold an uncategorised one (a basket has at least one line)
    if (i % 13 === 0 || cats.length === 0)
      extra.push({ gtin: UNCATEGORISED, qty: 1, unitPriceCents: 500, lineDiscountCents: 0 });
    return basket(i % 2 ? 'A' : 'B', `${day}T12:00:00-04:00`, cats, extra);
  });
  // a basket of uncategorised items only: not a basket for the counts
  baskets.push(
    basket(
      'A',
      '2026-09-15T12:00:00-04:00',
      [],
      [{ gtin: UNCATEGORISED, qty: 1, unitPriceCents: 500, lineDiscountCents: 0 }],
    ),
  );
  // outside the analysis: anonymous, before the window, at or after asOf
  for (let i = 0; i < 30; i++)
    baskets.push(
      basket(null, `2026-08-${String(1 + (i % 28)).padStart(2, '0')}T09:00:00-04:00`, [
        'soap',
        'jam',
      ]),
    );
  for (let i = 0; i < 10; i++)
    baskets.push(
      basket('A', `2026-03-${String(1 + i).padStart(2, '0')}T09:00:00-05:00`, ['soap', 'jam']),
    );
  baskets.push(basket('B', AS_OF.toISOString(), ['soap', 'jam']));
  baskets.push(basket('B', '2026-11-05T09:00:00-05:00', ['soap', 'jam']));
  const outcomes = await ingestBaskets(deps, baskets, 'pos');
  expect(outcomes.every((o) => o.status === 'created')).toBe(true);
});

/** The expected rules, counted in JavaScript. */
function expectedRules() {
  const n = windowBaskets.filter((b) => b.length > 0).length;
  const count = (...cats: string[]) =>
    windowBaskets.filter((b) => cats.every((c) => b.includes(c))).length;
  const rules = [];
  for (const a of CATEGORIES) {
    for (const c of CATEGORIES) {
      if (a === c) continue;
      const both = count(a, c);
      if (
        both < settings.associations.minPairBaskets ||
        both / n < settings.associations.minSupport
      )
        continue;
      rules.push({
        antecedentId: a,
        consequentId: c,
        baskets: both,
        support: both / n,
        confidence: both / count(a),
        lift: both / count(a) / (count(c) / n),
      });
    }
  }
  return rules;
}

describe(`category associations (${dbKind})`, () => {
  it('computes support, confidence and lift of every ordered pair above the minimums', async () => {
    await computeAssociations(getDeps().db, { asOf: AS_OF, timeZone: NY, settings });
    const rows = await getDeps().db.selectFrom('category_associations').selectAll().execute();
    const expected = expectedRules();
    expect(expected.length).toBeGreaterThan(6);
    // jam (every 4th basket) always comes with bread (every 2nd): confidence 1, lift 2
    expect(expected).toContainEqual(
      expect.objectContaining({ antecedentId: 'jam', consequentId: 'bread', confidence: 1 }),
    );
    // soap is in only 6 baskets, with a return in some: too rare for most pairs
    expect(rows.map((r) => `${r.antecedent_id}>${r.consequent_id}`).sort()).toEqual(
      expected.map((e) => `${e.antecedentId}>${e.consequentId}`).sort(),
    );
    for (const e of expected) {
      const r = rows.find(
        (x) => x.antecedent_id === e.antecedentId && x.consequent_id === e.consequentId,
      )!;
      expect(r.baskets).toBe(e.baskets);
      expect(r.support).toBeCloseTo(e.support, 12);
      expect(r.confidence).toBeCloseTo(e.confidence, 12);
      expect(r.lift).toBeCloseTo(e.lift, 12);
    }
  });

  it('lists the top rules by lift with filters, and names the categories', async () => {
    const all = await topAssociations(getDeps().db, { limit: 500 });
    expect(all.asOf?.toISOString()).toBe(AS_OF.toISOString());
    const lifts = all.associations.map((a) => a.lift);
    expect(lifts).toEqual([...lifts].sort((x, y) => y - x));
    expect(all.associations[0]).toMatchObject({
      antecedentName: expect.any(String),
      consequentName: expect.any(String),
    });

    const strong = await topAssociations(getDeps().db, { minLift: 1.5, limit: 3 });
    expect(strong.associations.length).toBeLessThanOrEqual(3);
    expect(strong.associations.every((a) => a.lift >= 1.5)).toBe(true);
    const fromJam = await topAssociations(getDeps().db, { categoryId: 'jam', minSupport: 0.1 });
    expect(fromJam.associations.length).toBeGreaterThan(0);
    expect(fromJam.associations.every((a) => a.antecedentId === 'jam' && a.support >= 0.1)).toBe(
      true,
    );
  });

  it('replaces the previous run, and a minimum above every pair leaves none', async () => {
    const summary = await computeAssociations(getDeps().db, {
      asOf: AS_OF,
      timeZone: NY,
      settings: { ...settings, associations: { ...settings.associations, minPairBaskets: 1000 } },
    });
    expect(summary).toEqual({ baskets: 61, pairs: 0 });
    expect((await topAssociations(getDeps().db)).associations).toEqual([]);
  });
});
