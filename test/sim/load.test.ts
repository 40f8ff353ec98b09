import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/index.ts';
import { generateChain, loadSimChain, type SimOptions } from '../../src/sim/index.ts';
import { dbKind, freshDatabase } from '../support/db.ts';

const OPTIONS: SimOptions = { seed: 7, members: 120, stores: 3, weeks: 16, endDate: '2026-10-31' };

/** A canonical text of every stored basket line, in a fixed order. */
async function storedHash(db: Db): Promise<{ hash: string; lines: number }> {
  const { rows } = await sql<{ row: string }>`
    select concat_ws(',', m.card_number, b.txn_id, extract(epoch from b.ts)::bigint, b.store_id,
                     b.terminal_id, ltrim(l.gtin, '0'), l.qty::int, l.unit_price_cents,
                     l.line_discount_cents) as row
    from basket_lines l
    join baskets b on b.member_id = l.member_id and b.id = l.basket_id
    join members m on m.id = b.member_id
    order by b.txn_id::bigint, l.line_no`.execute(db);
  const hash = createHash('sha256');
  for (const r of rows) hash.update(`${r.row}\n`);
  return { hash: hash.digest('hex'), lines: rows.length };
}

/** The same canonical text computed straight from the generator, without a database. */
function generatedHash(): { hash: string; lines: number } {
  const chain = generateChain(OPTIONS);
  const rows = [...chain.basketLines()].map((l) =>
    [l.card, l.txn, Math.round(Date.parse(l.ts) / 1000), l.storeId, l.terminalId, l.gtin.replace(/^0+/, ''), l.qty, l.unitPriceCents, l.lineDiscountCents].join(','),
  );
  // stored order: by txn, then line order inside the basket (the generator's order)
  const order = rows.map((row, i) => ({ row, i, txn: Number(row.split(',')[1]) }));
  order.sort((a, b) => a.txn - b.txn || a.i - b.i);
  const hash = createHash('sha256');
  for (const o of order) hash.update(`${o.row}\n`);
  return { hash: hash.digest('hex'), lines: rows.length };
}

describe(`a simulated chain loaded into ${dbKind}`, async () => {
  const small = await freshDatabase();
  const large = await freshDatabase();
  afterAll(async () => {
    await small.dispose();
    await large.dispose();
  });
  const expected = generatedHash();

  it('stores exactly the generated data, whatever the batch size', async () => {
    await loadSimChain({ db: small.db }, generateChain(OPTIONS), { batchSize: 500 });
    await loadSimChain({ db: large.db }, generateChain(OPTIONS), { batchSize: 50_000 });
    expect(expected.lines).toBeGreaterThan(5_000);
    expect(await storedHash(small.db)).toEqual(expected);
    expect(await storedHash(large.db)).toEqual(expected);
  });

  it('loading the same chain again adds nothing', async () => {
    const before = await storedHash(small.db);
    const summary = await loadSimChain({ db: small.db }, generateChain(OPTIONS), { batchSize: 2_000 });
    expect(summary.basketLines).toBe(expected.lines);
    expect(await storedHash(small.db)).toEqual(before);
  });

  it('keeps the truth beside the data, and they agree', async () => {
    // Tolerance: store-loyal members' units in a category they buy regularly are ≥ 75% store
    // brand in aggregate, national-loyal ≤ 25% (truth says ≥ ~85% of their own choices).
    const { rows } = await sql<{ brand_pref: string; store_units: number; units: number }>`
      select t.brand_pref, sum(l.qty) filter (where p.brand_type = 'store')::float as store_units,
             sum(l.qty)::float as units
      from sim_member_category_truth t
      join basket_lines l on l.member_id = t.member_id
      join products p on p.gtin = l.gtin and p.category_id = t.category_id
      where t.regular
      group by t.brand_pref order by t.brand_pref`.execute(small.db);
    const share = Object.fromEntries(rows.map((r) => [r.brand_pref, r.store_units / r.units]));
    expect(share.store).toBeGreaterThanOrEqual(0.75);
    expect(share.national).toBeLessThanOrEqual(0.25);
    expect(share.switcher).toBeGreaterThan(share.national!);
    expect(share.switcher).toBeLessThan(share.store!);
    const counts = await sql<{ members: number; products: number }>`
      select (select count(*)::int from sim_member_truth) as members,
             (select count(*)::int from sim_member_product_truth) as products`.execute(small.db);
    expect(counts.rows[0]!.members).toBe(OPTIONS.members);
    expect(counts.rows[0]!.products).toBeGreaterThan(OPTIONS.members);
  });
});
