import { beforeAll, describe, expect, it } from 'vitest';
import { importBaskets, importMembers, importProducts, type RejectedRow } from '../../src/ingest/import-csv.ts';
import { useTestDeps } from '../support/db.ts';
import { gtin13, seedCatalogue } from '../support/factories.ts';

const getDeps = useTestDeps();
beforeAll(async () => seedCatalogue(getDeps()));

/** Rejected rows name the field by the file's own header column, not by Cadence's name for it. */
async function run(kind: 'baskets' | 'products' | 'members', lines: string[]) {
  const rejected: RejectedRow[] = [];
  const importer = { baskets: importBaskets, products: importProducts, members: importMembers }[kind];
  await importer(getDeps(), [lines.join('\n')], { timeZone: 'America/New_York', onReject: (r) => void rejected.push(r) });
  return rejected.map((r) => [r.line, r.field, r.reason]);
}

const A = gtin13(1);
const T = '2026-11-20T10:00:00-05:00';

describe('field names in reject reports', () => {
  it('baskets: every field as the header names it (aliases, any case)', async () => {
    const rejected = await run('baskets', [
      'Card_Number,basket_id,Timestamp,store,lane,upc,quantity,unit_price,line_discount_cents',
      `x,f1,${T},1,L1,${A},1,1.00,0`,
      `,,${T},1,L1,${A},1,1.00,0`,
      `,f3,yesterday,1,L1,${A},1,1.00,0`,
      `,f4,${T},abc,L1,${A},1,1.00,0`,
      `,f5,${T},1,${'L'.repeat(41)},${A},1,1.00,0`,
      `,f6,${T},1,L1,123,1,1.00,0`,
      `,f7,${T},1,L1,${A},two,1.00,0`,
      `,f8,${T},1,L1,${A},1,1.999,0`,
      `,f9,${T},1,L1,${A},1,1.00,5x`,
      `,f10,${T},1,L1,${A},1,1.00,0`,
      `,f10,${T},1,L1,${A},1,1.00,0,extra`,
      `,f11,${T},99,L1,${A},1,1.00,0`,
    ]);
    expect(rejected.map(([line, field]) => [line, field])).toEqual([
      [2, 'Card_Number'],
      [3, 'basket_id'],
      [4, 'Timestamp'],
      [5, 'store'],
      [6, 'lane'],
      [7, 'upc'],
      [8, 'quantity'],
      [9, 'unit_price'],
      [10, 'line_discount_cents'],
      [11, '(basket)'],
      [12, '(row)'],
      [13, 'store'],
    ]);
    expect(rejected[9]![2]).toBe('basket rejected: line 12 is invalid (row)');
  });

  it('baskets: a member number, a discount in currency and a conflicting basket', async () => {
    await run('baskets', ['member,basket_id,ts,ean,units,line_discount', `M1,g1,${T},${A},1,0`]);
    const rejected = await run('baskets', [
      'member,basket_id,ts,ean,units,line_discount',
      `a b,g2,${T},${A},1,0`,
      `M1,g3,${T},${A},-1,0.50`,
      `M1,g1,${T},${A},2,0`,
    ]);
    expect(rejected.map(([line, field]) => [line, field])).toEqual([[2, 'member'], [3, 'line_discount'], [4, 'basket_id']]);
  });

  it('products and members: the file\'s column names', async () => {
    expect(
      (await run('products', [
        'upc,description,category,price',
        `${gtin13(70)},Oats,nosuch,1.00`,
        `4006381333932,Bad,,1.00`,
        `${gtin13(71)},Oats,,lots`,
      ])).map(([line, field]) => [line, field]),
    ).toEqual([[3, 'upc'], [4, 'price'], [2, 'category']]);
    expect(
      (await run('members', [
        'member,card,home_store,zip',
        'N1,600000000001,99,12345',
        'N2,600000000002,1,12345',
        'N3,600000000002,1,12345',
        'a b,,1,12345',
      ])).map(([line, field]) => [line, field]),
    ).toEqual([[5, 'member'], [2, 'home_store'], [4, 'card']]);
  });
});
