import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { importBaskets, importMembers, importProducts, type RejectedRow } from '../../src/ingest/import-csv.ts';
import { useTestDeps } from '../support/db.ts';
import { gtin13, gtin14, seedCatalogue } from '../support/factories.ts';

const getDeps = useTestDeps();
beforeAll(async () => seedCatalogue(getDeps()));

/** Feeds a CSV text in small, awkward chunks (splitting lines and quotes) like a real stream. */
function* chunked(text: string, size = 7) {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}

async function run(
  kind: 'baskets' | 'products' | 'members',
  csv: string,
  opts: { batchSize?: number; referenceCacheSize?: number } = {},
) {
  const rejected: RejectedRow[] = [];
  const importer = { baskets: importBaskets, products: importProducts, members: importMembers }[kind];
  const summary = await importer(getDeps(), chunked(csv), {
    timeZone: 'America/New_York',
    onReject: (r) => void rejected.push(r),
    ...opts,
  });
  return { summary, rejected };
}

async function counts() {
  const r = await sql<{ baskets: number; lines: number; members: number; products: number }>`
    select (select count(*)::int from baskets) as baskets, (select count(*)::int from basket_lines) as lines,
           (select count(*)::int from members) as members, (select count(*)::int from products) as products`.execute(getDeps().db);
  return r.rows[0]!;
}

const A = gtin13(1);
const M = gtin13(3);

describe('import baskets', () => {
  const csv = [
    'card,txn,ts,store_id,terminal_id,gtin,qty,unit_price_cents,line_discount_cents',
    `500000000001,t1,2026-03-01T10:15:00-05:00,1,T01,${A},1,899,0`,
    `500000000001,t1,2026-03-01T10:15:00-05:00,1,T01,${M},2,399,50`,
    `500000000002,t2,2026-03-02T11:00:00-05:00,1,T01,${M},1,399,0`,
    `500000000002,t3,2026-03-02T11:00:00-05:00,1,T01,4006381333932,1,100,0`,
    `500000000002,t3,2026-03-02T11:00:00-05:00,1,T01,${A},1,899,0`,
    `500000000003,t4,2026-03-03T09:00:00-05:00,7,T01,${A},1,899,0`,
    `500000000003,t5,2026-03-03T09:00:00-05:00,1,T01,${A},abc,899,0`,
    `500000000003,t6,2026-03-03T09:00:00-05:00,1,T01,${A},1,899`,
    `500000000004,"t,7",2026-03-04T09:00:00-05:00,1,T01,${A},1,899,0`,
    `500000000004,"t,7",2026-03-04T09:30:00-05:00,1,T01,${M},1,399,0`,
  ].join('\r\n');

  it('imports good baskets whole and writes each bad row with its line, field and reason', async () => {
    const before = await counts();
    const { summary, rejected } = await run('baskets', csv, { batchSize: 2 });
    expect(summary).toMatchObject({ rows: 10, imported: 3, rejected: 7, created: 2, duplicates: 0 });
    const byLine = [...rejected].sort((a, b) => a.line - b.line);
    expect(byLine.map((r) => [r.line, r.field])).toEqual([
      [5, 'gtin'],
      [6, '(basket)'],
      [7, 'store_id'],
      [8, 'qty'],
      [9, '(row)'],
      [10, '(basket)'],
      [11, 'ts'],
    ]);
    expect(rejected.find((r) => r.line === 5)!.reason).toMatch(/check digit/);
    expect(rejected.find((r) => r.line === 7)!.reason).toMatch(/unknown store 7/);
    expect(rejected.find((r) => r.line === 11)!.raw).toBe(`500000000004,"t,7",2026-03-04T09:30:00-05:00,1,T01,${M},1,399,0`);
    const after = await counts();
    expect(after.baskets - before.baskets).toBe(2);
    expect(after.lines - before.lines).toBe(3);
    const t1 = await getDeps().db.selectFrom('baskets').select(['total_cents', 'source']).where('txn_id', '=', 't1').executeTakeFirstOrThrow();
    expect(t1).toEqual({ total_cents: 899 + 798 - 50, source: 'import' });
  });

  it('adds nothing when the same file is imported again', async () => {
    const before = await counts();
    const { summary } = await run('baskets', csv, { batchSize: 3 });
    expect(summary).toMatchObject({ created: 0, duplicates: 2, imported: 3 });
    expect(await counts()).toEqual(before);
  });

  it('reports a basket whose key is stored with other content as a conflict', async () => {
    const changed = [
      'card,txn,ts,store_id,terminal_id,gtin,qty,unit_price_cents,line_discount_cents',
      `500000000002,t2,2026-03-02T11:00:00-05:00,1,T01,${M},5,399,0`,
    ].join('\n');
    const before = await counts();
    const { summary, rejected } = await run('baskets', changed);
    expect(summary).toMatchObject({ conflicts: 1, created: 0, rejected: 1 });
    expect(rejected[0]).toMatchObject({ line: 2, field: 'txn' });
    expect(await counts()).toEqual(before);
  });

  it('accepts a plain member_id,basket_id,ts,gtin,qty history with unknown products and local times', async () => {
    const unknown = gtin13(4242, '209');
    const history = [
      'member_id,basket_id,ts,gtin,qty',
      `H001,h1,2026-03-08,${unknown},1`,
      `H001,h1,2026-03-08,${A},2`,
      `H002,h2,2026-07-01 18:30,${unknown},1.5`,
    ].join('\n');
    const { summary, rejected } = await run('baskets', history);
    expect(rejected).toEqual([]);
    expect(summary).toMatchObject({ created: 2, unknownGtins: 1 });
    const rows = await getDeps()
      .db.selectFrom('baskets')
      .innerJoin('members', 'members.id', 'baskets.member_id')
      .select(['txn_id', 'ts', 'store_id', 'members.member_number', 'members.status'])
      .where('txn_id', 'in', ['h1', 'h2'])
      .orderBy('txn_id')
      .execute();
    // read in the chain's zone: midnight EST on 8 March, 18:30 EDT on 1 July
    expect(rows.map((r) => [r.txn_id, r.ts.toISOString(), r.store_id, r.member_number, r.status])).toEqual([
      ['h1', '2026-03-08T05:00:00.000Z', null, 'H001', 'unregistered'],
      ['h2', '2026-07-01T22:30:00.000Z', null, 'H002', 'unregistered'],
    ]);
    const product = await getDeps().db.selectFrom('products').select('known').where('gtin', '=', gtin14(unknown)).executeTakeFirstOrThrow();
    expect(product.known).toBe(false);
    // and the same history again adds nothing (no store: the key is (null, '', txn))
    const before = await counts();
    expect((await run('baskets', history)).summary).toMatchObject({ duplicates: 2, created: 0 });
    expect(await counts()).toEqual(before);
  });

  it('reads timestamps with an offset written as PostgreSQL and other exports write them', async () => {
    const history = [
      'member_id,basket_id,ts,gtin,qty',
      `H010,o1,2026-03-01 10:15:00-05:00,${A},1`,
      `H010,o2,2026-03-01 15:15:00+00,${A},1`,
      `H010,o3,2026-03-01T10:15:00.25-05,${A},0.375`,
      `H010,o4,2026-03-01 16:15:00 +0100,${A},1`,
      `H010,o5,2026-03-01 10:15:00-05:60,${A},1`,
    ].join('\n');
    const { summary, rejected } = await run('baskets', history);
    expect(rejected.map((r) => [r.line, r.field])).toEqual([[6, 'ts']]);
    expect(summary).toMatchObject({ created: 4 });
    const rows = await getDeps().db.selectFrom('baskets').select(['txn_id', 'ts'])
      .where('txn_id', 'in', ['o1', 'o2', 'o3', 'o4']).orderBy('txn_id').execute();
    expect(rows.map((r) => [r.txn_id, r.ts.toISOString()])).toEqual([
      ['o1', '2026-03-01T15:15:00.000Z'],
      ['o2', '2026-03-01T15:15:00.000Z'],
      ['o3', '2026-03-01T15:15:00.250Z'],
      ['o4', '2026-03-01T15:15:00.000Z'],
    ]);
    expect((await run('baskets', history)).summary).toMatchObject({ created: 0, duplicates: 4 });
  });

  it('reads the member of a file saved by Excel (byte order mark, quoted header, CRLF)', async () => {
    const csv = `\ufeff"Member_ID","Basket_ID","TS","GTIN","QTY"\r\nH020,x1,2026-03-01 10:15,${A},1\r\n`;
    const { summary, rejected } = await run('baskets', csv);
    expect(rejected).toEqual([]);
    expect(summary).toMatchObject({ created: 1 });
    const row = await getDeps().db.selectFrom('baskets').innerJoin('members', 'members.id', 'baskets.member_id')
      .select('members.member_number').where('txn_id', '=', 'x1').executeTakeFirstOrThrow();
    expect(row.member_number).toBe('H020');
  });

  it('refuses a file whose header lacks a required column, naming it', async () => {
    await expect(run('baskets', 'member_id,ts,gtin\nM1,2026-01-01,96385074\n')).rejects.toMatchObject({
      issues: [
        { path: 'header', message: 'missing column txn' },
        { path: 'header', message: 'missing column qty' },
      ],
    });
  });

  it('stores the same baskets whatever the batch size', async () => {
    const lines = ['card,txn,ts,store_id,terminal_id,gtin,qty,unit_price_cents'];
    for (let b = 0; b < 40; b++) {
      for (let l = 0; l < (b % 4) + 1; l++) lines.push(`6000000000${String(b % 7).padStart(2, '0')},bs${b},2026-04-01T10:00:00Z,2,T02,${l % 2 ? A : M},1,100`);
    }
    const before = await counts();
    const { summary } = await run('baskets', lines.join('\n'), { batchSize: 5 });
    expect(summary).toMatchObject({ created: 40, rejected: 0 });
    const after = await counts();
    expect(after.lines - before.lines).toBe(lines.length - 1);
    expect((await run('baskets', lines.join('\n'), { batchSize: 1000 })).summary).toMatchObject({ duplicates: 40 });
  });
});

describe('import baskets with a reference cache that keeps starting over', () => {
  it('gives every basket its own card\'s member and reports unknown GTINs, batch after batch', async () => {
    const lines = ['card,txn,ts,store_id,terminal_id,gtin,qty,unit_price_cents'];
    const unknown = gtin13(777);
    for (let b = 0; b < 60; b++) {
      const card = `6100000000${String(b % 23).padStart(2, '0')}`;
      lines.push(`${card},rc${b},2026-04-02T10:00:00Z,2,T01,${b % 5 === 0 ? unknown : A},1,100`);
      lines.push(`${card},rc${b},2026-04-02T10:00:00Z,2,T01,${M},2,50`);
    }
    // two lines a batch, at most 3 cached entries of a kind: the cache is cleared again and again
    // while other batches of the same import are in flight
    const { summary, rejected } = await run('baskets', lines.join('\n'), { batchSize: 2, referenceCacheSize: 3 });
    expect(rejected.slice(0, 2)).toEqual([]);
    expect(summary).toMatchObject({ created: 60, rejected: 0, unknownGtins: 1 });
    const { rows } = await sql<{ mismatched: number; baskets: number }>`
      select count(*) filter (where m.card_number <> '6100000000' || lpad(((substr(b.txn_id, 3)::int) % 23)::text, 2, '0'))::int as mismatched,
             count(*)::int as baskets
      from baskets b join members m on m.id = b.member_id where b.txn_id like 'rc%'`.execute(getDeps().db);
    expect(rows[0]).toEqual({ mismatched: 0, baskets: 60 });
  });
});

describe('import headers', () => {
  it('names the header columns it does not read (a misspelt card column would store every basket anonymous)', async () => {
    const { summary } = await run('baskets', [
      'customer_card,txn,ts,gtin,qty, note ',
      `777000000001,ih1,2026-03-01T10:00:00-05:00,${A},1,x`,
    ].join('\n'));
    expect(summary).toMatchObject({ created: 1, ignoredColumns: ['customer_card', 'note'] });
    expect((await run('products', `gtin,name,colour\n${gtin13(60)},Teal Tea,teal`)).summary.ignoredColumns).toEqual(['colour']);
    expect((await run('products', `gtin,name\n${gtin13(61)},Plain Tea`)).summary.ignoredColumns).toEqual([]);
  });

  it('refuses a row whose discount is more than its line, naming the column it came from', async () => {
    const cents = await run('baskets', [
      'card,txn,ts,gtin,qty,unit_price_cents,line_discount_cents',
      `777000000002,dx1,2026-03-01T10:00:00-05:00,${A},1,100,500`,
      `777000000002,dx2,2026-03-01T10:00:00-05:00,${A},0.375,199,75`,
    ].join('\n'));
    expect(cents.summary).toMatchObject({ rows: 2, rejected: 1, created: 1 });
    expect(cents.rejected[0]).toMatchObject({ line: 2, field: 'line_discount_cents', reason: "more than the line's 100 cents" });
    const decimal = await run('baskets', ['card,txn,ts,gtin,qty,unit_price,line_discount', `777000000002,dx3,2026-03-01T10:00:00-05:00,${A},2,1.00,2.01`].join('\n'));
    expect(decimal.rejected[0]).toMatchObject({ line: 2, field: 'line_discount', reason: "more than the line's 200 cents" });
  });

  it('imports returned items (negative quantities) as history exports carry them, and refuses discounts of the wrong sign', async () => {
    const res = await run('baskets', [
      'card,txn,ts,gtin,qty,unit_price_cents,line_discount_cents',
      `777000000003,rt1,2026-03-02T10:00:00-05:00,${A},3,100,30`,
      `777000000003,rt1,2026-03-02T10:00:00-05:00,${M},-1.005,100,-10`,
      `777000000003,rt2,2026-03-02T11:00:00-05:00,${A},-1,100,5`,
      `777000000003,rt3,2026-03-02T12:00:00-05:00,${A},2,100,-5`,
      `777000000003,rt4,2026-03-02T13:00:00-05:00,${A},0,100,0`,
      `777000000003,rt5,2026-03-02T14:00:00-05:00,${A},-2,,`,
    ].join('\n'));
    expect(res.summary).toMatchObject({ rows: 6, rejected: 3, created: 2 });
    expect(res.rejected.map((r) => [r.line, r.field])).toEqual([[4, 'line_discount_cents'], [5, 'line_discount_cents'], [6, 'qty']]);
    const stored = await sql<{ txn_id: string; total_cents: string | number; qty: string }>`
      select b.txn_id, b.total_cents, string_agg(l.qty::text, ' ' order by l.line_no) as qty
      from baskets b join basket_lines l on l.member_id = b.member_id and l.basket_id = b.id
      where b.txn_id in ('rt1', 'rt5') group by b.txn_id, b.total_cents order by b.txn_id`.execute(getDeps().db);
    expect(stored.rows.map((r) => [r.txn_id, Number(r.total_cents), r.qty])).toEqual([
      ['rt1', 300 - 30 - 101 + 10, '3.000 -1.005'],
      ['rt5', 0, '-2.000'],
    ]);
  });

  it('refuses a file without a header line instead of importing "0 rows"', async () => {
    for (const kind of ['baskets', 'products', 'members'] as const) {
      for (const csv of ['', '\n\n']) {
        await expect(run(kind, csv), `${kind} ${JSON.stringify(csv)}`).rejects.toMatchObject({
          message: 'the file is empty',
          issues: [{ path: 'header', message: 'no header line' }],
        });
      }
    }
  });
});

describe('import baskets that never end', () => {
  it('reports the rows of a refused basket as they come, not all at its end (a file without txn ids held them all)', async () => {
    // a history whose basket_id column is empty: one "basket" as long as the file
    const rows = Array.from({ length: 3000 }, (_, i) => `H030,,2026-03-08 10:00,${gtin13(1 + (i % 3))},1`);
    const rejected: RejectedRow[] = [];
    let reportedMidway = -1;
    async function* chunks() {
      yield 'member_id,basket_id,ts,gtin,qty\n';
      for (let i = 0; i < rows.length; i += 500) {
        if (i === 2500) reportedMidway = rejected.length;
        yield rows.slice(i, i + 500).join('\n') + '\n';
      }
      yield `H030,y1,2026-03-08 11:00,${A},1\n`;
    }
    const summary = await importBaskets(getDeps(), chunks(), { timeZone: 'America/New_York', onReject: (r) => void rejected.push(r) });
    expect(summary).toMatchObject({ rows: 3001, rejected: 3000, created: 1 });
    expect(reportedMidway).toBeGreaterThanOrEqual(2000);
    expect(rejected.map((r) => r.line)).toEqual(Array.from({ length: 3000 }, (_, i) => i + 2));
    expect(rejected[0]).toMatchObject({ line: 2, field: 'basket_id' });
    expect(rejected[2999]).toMatchObject({ line: 3001, field: '(basket)', reason: 'basket rejected: line 2 is invalid (basket_id)' });
  });
});

describe('import products and members', () => {
  it('imports products, creating named categories and manufacturers, rejecting bad rows', async () => {
    const csv = [
      'gtin,name,category_id,category_name,brand,brand_type,manufacturer_id,manufacturer_name,size,price_cents',
      `${gtin13(50)},Crunchy Oats,cereal,Cereal,Oaty,national,oatco,Oat Company,500g,429`,
      `${gtin13(51)},Store Oats,cereal,Cereal,Cadence Market,store,store,Cadence Market,500g,299`,
      `${gtin13(52)},Mystery,nosuch,,X,national,,,1,100`,
      `${gtin13(53)},Bad type,cereal,Cereal,X,generic,,,1,100`,
      `4006381333932,Bad gtin,cereal,Cereal,X,national,,,1,100`,
    ].join('\n');
    const { summary, rejected } = await run('products', csv);
    expect(summary).toMatchObject({ rows: 5, imported: 2, rejected: 3 });
    expect(rejected.map((r) => [r.line, r.field])).toEqual([[5, 'brand_type'], [6, 'gtin'], [4, 'category_id']]);
    const oats = await getDeps().db.selectFrom('products').selectAll().where('gtin', '=', gtin14(gtin13(50))).executeTakeFirstOrThrow();
    expect(oats).toMatchObject({ category_id: 'cereal', manufacturer_id: 'oatco', brand_type: 'national', price_cents: 429, known: true });
    expect((await run('products', csv)).summary).toMatchObject({ imported: 2 });
  });

  it('imports a product whose name holds an inch mark and every product after it (they were lost in its name)', async () => {
    const csv = ['gtin,name,size', `${gtin13(60)},Pizza 12" thin,1`, `${gtin13(61)},Soda,1`, `${gtin13(62)},Bread,1`, ''].join('\n');
    const { summary, rejected } = await run('products', csv);
    expect(rejected).toEqual([]);
    expect(summary).toMatchObject({ rows: 3, imported: 3, rejected: 0 });
    const names = await getDeps().db.selectFrom('products').select(['gtin', 'name'])
      .where('gtin', 'in', [60, 61, 62].map((n) => gtin14(gtin13(n)))).orderBy('gtin').execute();
    expect(names.map((r) => r.name)).toEqual(['Pizza 12" thin', 'Soda', 'Bread']);
  });

  it('keeps what a product file has no column for (a price file wiped categories, brands and manufacturers)', async () => {
    const full = ['gtin,name,category_id,brand,brand_type,manufacturer_id,size,price_cents', `${gtin13(64)},Rolled Oats,cereal,Oaty,national,oatco,1kg,399`].join('\n');
    expect((await run('products', full)).summary).toMatchObject({ imported: 1, rejected: 0 });
    const prices = ['gtin,name,price', `${gtin13(64)},Rolled Oats,4.19`].join('\n');
    expect((await run('products', prices)).summary).toMatchObject({ imported: 1, rejected: 0 });
    const oats = await getDeps().db.selectFrom('products').selectAll().where('gtin', '=', gtin14(gtin13(64))).executeTakeFirstOrThrow();
    expect(oats).toMatchObject({ category_id: 'cereal', brand: 'Oaty', brand_type: 'national', manufacturer_id: 'oatco', size: '1kg', price_cents: 419 });
    // an empty cell still clears its field
    await run('products', ['gtin,name,size', `${gtin13(64)},Rolled Oats,`].join('\n'));
    const cleared = await getDeps().db.selectFrom('products').selectAll().where('gtin', '=', gtin14(gtin13(64))).executeTakeFirstOrThrow();
    expect(cleared).toMatchObject({ category_id: 'cereal', size: null, price_cents: 419 });
  });

  it('imports members, keeps contact data apart, and registers a card first seen in a basket', async () => {
    // card 500000000001 came in with a basket above: an unregistered member with history
    const before = await getDeps().db.selectFrom('members').select(['id']).where('card_number', '=', '500000000001').executeTakeFirstOrThrow();
    const csv = [
      'member_number,card_number,home_store_id,household_size,has_dog,has_cat,has_baby,first_name,last_name,email,postal_code,enrolled_on',
      'M100,500000000001,1,3,true,false,no,Ann,Example,ann@example.test,12345,2024-05-01',
      'M101,500000000101,1,1,false,false,false,Bob,Example,not-an-email,12345,2024-05-01',
      'M102,500000000102,9,1,false,false,false,Cy,Example,cy@example.test,12345,2024-05-01',
      'M103,500000000001,1,1,,,,,,,,',
    ].join('\n');
    const { summary, rejected } = await run('members', csv);
    expect(summary).toMatchObject({ rows: 4, imported: 1, rejected: 3 });
    expect(rejected.map((r) => [r.line, r.field])).toEqual([[3, 'email'], [4, 'home_store_id'], [5, 'card_number']]);
    const member = await getDeps().db.selectFrom('members').selectAll().where('member_number', '=', 'M100').executeTakeFirstOrThrow();
    expect(member).toMatchObject({ id: before.id, status: 'registered', household_size: 3, has_dog: true, has_baby: false });
    const contact = await getDeps().db.selectFrom('member_contacts').selectAll().where('member_id', '=', member.id).executeTakeFirstOrThrow();
    expect(contact).toMatchObject({ first_name: 'Ann', email: 'ann@example.test' });
  });
});

describe('import members with some contact columns', () => {
  it('keeps the contact fields the file has no column for (an e-mail file wiped names and phones)', async () => {
    const full = ['member_number,first_name,last_name,email,phone,postal_code', 'CM1,Jo,Example,jo@example.test,555-0101,12345'].join('\n');
    expect((await run('members', full)).summary).toMatchObject({ imported: 1, rejected: 0 });
    const emails = ['member_number,email', 'CM1,jo@new.example.test'].join('\n');
    expect((await run('members', emails)).summary).toMatchObject({ imported: 1, rejected: 0 });
    const m = await getDeps().db.selectFrom('members').select('id').where('member_number', '=', 'CM1').executeTakeFirstOrThrow();
    const contact = await getDeps().db.selectFrom('member_contacts').select(['first_name', 'last_name', 'email', 'phone', 'postal_code'])
      .where('member_id', '=', m.id).executeTakeFirstOrThrow();
    expect(contact).toEqual({ first_name: 'Jo', last_name: 'Example', email: 'jo@new.example.test', phone: '555-0101', postal_code: '12345' });
  });
});

describe('import rows holding text the database cannot store', () => {
  it('rejects a NUL byte or a lone surrogate with its line and column, and imports the rest', async () => {
    const baskets = await run('baskets', [
      'member_id,basket_id,ts,gtin,qty',
      `NUL1,nul-ok,2026-03-08,${gtin13(1)},1`,
      `NUL1,nul-\u0000bad,2026-03-08,${gtin13(1)},1`,
      `NUL2,nul-lone,2026-03-08,${gtin13(2)},1`,
      `NUL2,nul-lone,2026-03-08,${gtin13(3)}\ud800,1`,
    ].join('\n'));
    expect(baskets.summary).toMatchObject({ rows: 4, imported: 1, rejected: 3, created: 1 });
    expect(baskets.rejected.map((r) => [r.line, r.field])).toEqual([[3, 'basket_id'], [4, '(basket)'], [5, 'gtin']]);
    expect(baskets.rejected[0]!.reason).toMatch(/NUL/);
    expect(baskets.rejected[2]!.reason).toMatch(/surrogate/);

    const products = await run('products', `gtin,name\n${gtin13(60)},Fine\n${gtin13(61)},Bad\u0000name`);
    expect(products.summary).toMatchObject({ imported: 1, rejected: 1 });
    expect(products.rejected[0]).toMatchObject({ line: 3, field: 'name' });
    const members = await run('members', 'member_number,first_name\nNULM1,Ann\nNULM2,B\u0000b');
    expect(members.summary).toMatchObject({ imported: 1, rejected: 1 });
    expect(members.rejected[0]).toMatchObject({ line: 3, field: 'first_name' });
  });
});

describe('import rows with numbers beyond the database’s types', () => {
  it('rejects a store number beyond PostgreSQL\'s integer with its line and column', async () => {
    const { summary, rejected } = await run('baskets', [
      'card,txn,ts,store_id,gtin,qty',
      `400000000001,big-store,2026-03-08T10:00:00-05:00,2147483648,${gtin13(1)},1`,
      `400000000001,fine-store,2026-03-08T10:00:00-05:00,1,${gtin13(1)},1`,
    ].join('\n'));
    expect(summary).toMatchObject({ rows: 2, imported: 1, rejected: 1 });
    expect(rejected[0]).toMatchObject({ line: 2, field: 'store_id' });
  });
});

describe('import rows refused on several counts', () => {
  it('counts and reports such a row once', async () => {
    const g = gtin13(8100);
    const { summary, rejected } = await run('products', `gtin,name,category_id\n${g},First,milk\n${g},Again,no-such-category`);
    expect(summary).toMatchObject({ rows: 2, imported: 1, rejected: 1 });
    expect(rejected.map((r) => r.line)).toEqual([3]);
  });
});

describe('import rows with instants the database cannot hold', () => {
  it('rejects a ts outside 1900–9999 with its line and column (year 0 was a dead import)', async () => {
    const { summary, rejected } = await run('baskets', [
      'card,txn,ts,store_id,gtin,qty',
      `400000000001,year-0,0000-01-01T00:00:00Z,1,${gtin13(1)},1`,
      `400000000001,year-0-local,0000-06-01 10:00,1,${gtin13(1)},1`,
      `400000000001,year-10000,9999-12-31T23:00:00-14:00,1,${gtin13(1)},1`,
      `400000000001,fine-ts,2026-03-08T10:00:00-05:00,1,${gtin13(1)},1`,
    ].join('\n'));
    expect(summary).toMatchObject({ rows: 4, imported: 1, rejected: 3 });
    expect(rejected.map((r: { line: number; field: string }) => [r.line, r.field])).toEqual([[2, 'ts'], [3, 'ts'], [4, 'ts']]);
  });
});

describe('import baskets longer than the API allows', () => {
  it('rejects a basket of more than 1,000 lines whole, naming where it starts, and imports the next', async () => {
    const long = Array.from({ length: 1001 }, (_, i) => `400000000001,too-long,2026-03-08T10:00:00-05:00,1,${gtin13(1 + (i % 3))},1`);
    const { summary, rejected } = await run('baskets', [
      'card,txn,ts,store_id,gtin,qty',
      ...long,
      `400000000001,after-long,2026-03-08T11:00:00-05:00,1,${gtin13(1)},1`,
    ].join('\n'));
    expect(summary).toMatchObject({ rows: 1002, imported: 1, rejected: 1001, created: 1 });
    expect(rejected.find((r) => r.field === 'txn')).toMatchObject({ line: 1002, reason: expect.stringContaining('at most 1000 lines') });
    expect(rejected.every((r) => r.line <= 1002)).toBe(true);
  });
});
