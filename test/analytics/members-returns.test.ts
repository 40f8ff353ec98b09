import { beforeAll, describe, expect, it } from 'vitest';
import { computeCells } from '../../src/analytics/cells.ts';
import { computeMemberScores, memberProfile } from '../../src/analytics/members.ts';
import { upsertCategories, upsertManufacturers, upsertMembers, upsertProducts, upsertStores } from '../../src/catalogue/index.ts';
import { ingestBaskets, type BasketInput } from '../../src/ingest/index.ts';
import { localToInstant } from '../../src/lib/time.ts';
import { defaultSettings } from '../../src/rules/settings.ts';
import { dbKind, useTestDeps } from '../support/db.ts';
import { gtin13, gtin14 } from '../support/factories.ts';

// A return is not a shopping visit: a lapsed member who comes back only to return something is
// still lapsed, and a member who only ever returned goods has no visits.

const getDeps = useTestDeps();
const NY = 'America/New_York';
const AS_OF = new Date('2026-11-01T04:00:00Z'); // midnight starting 1 November 2026 in New York
const opts = { asOf: AS_OF, timeZone: NY, settings: defaultSettings };
const COFFEE = gtin14(gtin13(21));

let txn = 0;
function at(member: string, local: string, qty: number): BasketInput {
  return {
    storeId: 1,
    terminalId: 'T1',
    txnId: `r${++txn}`,
    ts: localToInstant(local, NY)!,
    member: { kind: 'number', ref: member },
    lines: [{ gtin: COFFEE, qty, unitPriceCents: 1000, lineDiscountCents: 0 }],
  };
}

beforeAll(async () => {
  const deps = getDeps();
  await upsertStores(deps, [{ id: 1, name: 'Main Street', timeZone: NY }]);
  await upsertManufacturers(deps, [{ id: 'acme', name: 'Acme' }]);
  await upsertCategories(deps, [{ id: 'coffee', name: 'Coffee' }]);
  await upsertProducts(deps, [
    { gtin: COFFEE, name: 'Coffee', categoryId: 'coffee', brand: 'Acme', brandType: 'national', manufacturerId: 'acme', priceCents: 1000 },
  ]);
  await upsertMembers(deps, ['LAPSED', 'RETURNS'].map((memberNumber) => ({ memberNumber, householdSize: 2 })));
  const baskets: BasketInput[] = [];
  // LAPSED: $20 every Saturday until mid-August, then only a return three days before asOf
  for (let t = Date.parse('2025-11-08'); t <= Date.parse('2026-08-15'); t += 7 * 86_400_000) {
    baskets.push(at('LAPSED', `${new Date(t).toISOString().slice(0, 10)} 10:00`, 2));
  }
  baskets.push(at('LAPSED', '2026-10-29 10:00', -1));
  // RETURNS: never bought anything here, returned a pack (a gift, say)
  baskets.push(at('RETURNS', '2026-10-20 10:00', -1));
  const outcomes = await ingestBaskets(deps, baskets, 'pos');
  expect(outcomes.filter((o) => o.status !== 'created')).toEqual([]);
  await computeCells(deps.db, opts);
  await computeMemberScores(deps.db, opts);
});

describe(`returns in member analytics on ${dbKind}`, () => {
  it('does not count a return as a visit: the lapsed member is flagged for the gap since the last purchase', async () => {
    const s = (await memberProfile(getDeps().db, 'LAPSED')).scores!;
    expect(s.lastVisitDate).toBe('2026-08-15');
    expect(s.daysSinceLastVisit).toBe(78);
    expect(s.meanVisitGapDays).toBe(7);
    expect(s.churnRisk).toBe(true);
    expect(s.churnReason).toBe('visit_gap');
    // spend stays net of the return
    expect(s.recentSpendCents).toBe(-1000);
  });

  it('gives a member who only returned goods no visits, no share of wallet and no rhythm', async () => {
    const s = (await memberProfile(getDeps().db, 'RETURNS')).scores!;
    expect(s).toMatchObject({
      visitDays: 0,
      spendCents: -1000,
      tier: 'inactive',
      shareOfWallet: 0,
      stage: 'development',
      lastVisitDate: null,
      daysSinceLastVisit: null,
      churnRisk: false,
      churnReason: null,
    });
  });
});
