import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { ingestBaskets, type BasketInput } from '../../src/ingest/index.ts';
import { importBaskets } from '../../src/ingest/import-csv.ts';
import { AsciiBuffer, COPY_MIN_LINES } from '../../src/ingest/write-baskets.ts';
import { useTestDeps } from '../support/db.ts';
import { gtin13, seedCatalogue } from '../support/factories.ts';

/**
 * Basket content hashes are computed in JavaScript; they must equal what SQL computes from the
 * stored rows (the definition hashes stored before this change used), or a retry of an older
 * basket would be taken for a conflict. Totals likewise.
 */
const getDeps = useTestDeps();
beforeAll(async () => seedCatalogue(getDeps()));

async function mismatches(ids: number[]) {
  const { rows } = await sql<{ id: number; content_hash: string; expected: string; total_cents: number; expected_total: number }>`
    select b.id::int as id, b.content_hash, b.total_cents::int as total_cents,
           md5(concat_ws('|', coalesce(b.store_id::text, ''), b.terminal_id, b.txn_id,
                         extract(epoch from b.ts)::text, b.member_id::text,
                         string_agg(l.gtin || ':' || l.qty::text || ':' || coalesce(l.unit_price_cents::text, '') || ':' ||
                                    l.line_discount_cents::text, ',' order by l.line_no))) as expected,
           sum(coalesce(round(l.qty * l.unit_price_cents), 0) - l.line_discount_cents)::int as expected_total
    from baskets b join basket_lines l on l.member_id = b.member_id and l.basket_id = b.id
    where b.id = any(${ids.map(String)}::bigint[])
    group by b.member_id, b.id`.execute(getDeps().db);
  expect(rows).toHaveLength(ids.length);
  return rows.filter((r) => r.content_hash !== r.expected || r.total_cents !== r.expected_total);
}

// Instants in every accepted shape: fractions of 1–6 digits, before 1970, odd offsets, no seconds.
const instants = [
  '2026-11-20T10:15:00-05:00',
  '2026-11-20T10:15-05:00',
  '2026-11-20T10:15:00.5Z',
  '2026-11-20T10:15:00.123456+05:30',
  '2026-11-20T10:15:00.000001+0530',
  '1969-12-31T23:59:59.5Z',
  '1969-12-31T23:59:59Z',
  '1960-02-29T12:00:00.25-03:00',
  '2024-02-29T23:59:59.999999+14:00',
];

describe('basket content hash', () => {
  it('equals the SQL definition over the stored rows, on the COPY path and the unnest path', async () => {
    const baskets: BasketInput[] = instants.map((ts, k) => ({
      storeId: 1 + (k % 2),
      terminalId: ['T01', 'Kasse-Ü1', 'lane|7', 'a,b "c"'][k % 4]!,
      txnId: `hash-${k}-€`,
      ts,
      member: k % 3 === 0 ? null : { kind: k % 3 === 1 ? 'card' : 'number', ref: `HASH${k}00${k}` },
      lines: [
        { gtin: gtin13(1), qty: 1, unitPriceCents: 899, lineDiscountCents: 0 },
        { gtin: gtin13(2), qty: 2.5, unitPriceCents: 333, lineDiscountCents: 7 },
        { gtin: gtin13(900 + k), qty: 0.001, unitPriceCents: 1, lineDiscountCents: 0 },
        { gtin: gtin13(3), qty: 100_000, unitPriceCents: 0, lineDiscountCents: 0 },
        { gtin: gtin13(4), qty: 0.125, unitPriceCents: 4, lineDiscountCents: 0 },
        // enough lines for the first five baskets, and the last four, to go by COPY
        ...Array.from({ length: 50 }, (_, i) => ({ gtin: gtin13(1000 + i), qty: 1 + i / 8, unitPriceCents: 10 * i, lineDiscountCents: i % 3 })),
      ],
    }));
    const deps = getDeps();
    expect(baskets.slice(0, 5).flatMap((b) => b.lines).length).toBeGreaterThanOrEqual(COPY_MIN_LINES);
    expect(baskets.slice(5).flatMap((b) => b.lines).length).toBeGreaterThanOrEqual(COPY_MIN_LINES);
    const viaCopy = await ingestBaskets(deps, baskets.slice(0, 5), 'pos');
    const viaUnnest = await ingestBaskets({ db: deps.db }, baskets.slice(5), 'pos');
    const ids = [...viaCopy, ...viaUnnest].map((o) => {
      expect(o.status).toBe('created');
      return o.basketId!;
    });
    expect(await mismatches(ids)).toEqual([]);

    // A retry of each, through the other path, is a duplicate.
    const again = [...(await ingestBaskets({ db: deps.db }, baskets.slice(0, 5), 'pos')), ...(await ingestBaskets(deps, baskets.slice(5), 'pos'))];
    expect(again.map((o) => [o.status, o.basketId])).toEqual(ids.map((id) => ['duplicate', id]));
  });

  it('equals the SQL definition for imported baskets without store, terminal or price', async () => {
    const csv = [
      'member_id,basket_id,ts,gtin,qty',
      `HX1,hash-import-1,2026-03-08 02:30,${gtin13(1)},1.5`,
      `HX1,hash-import-1,2026-03-08 02:30,${gtin13(950)},3`,
      `HX2,hash-import-2,2026-11-01,${gtin13(2)},0.25`,
    ].join('\n');
    const summary = await importBaskets(getDeps(), [csv], { timeZone: 'America/New_York', onReject: () => {} });
    expect(summary).toMatchObject({ created: 2, rejected: 0 });
    const { rows } = await sql<{ id: number }>`select id::int as id from baskets where txn_id like 'hash-import-%'`.execute(getDeps().db);
    expect(await mismatches(rows.map((r) => r.id))).toEqual([]);
  });

  it('matches a basket whose hash SQL computed (stored before hashes moved to JavaScript)', async () => {
    const b: BasketInput = {
      storeId: 2,
      terminalId: 'T09',
      txnId: 'hash-legacy',
      ts: '2025-06-01T09:00:00.75+02:00',
      member: { kind: 'card', ref: 'HASHLEGACY1' },
      lines: [{ gtin: gtin13(5), qty: 1.25, unitPriceCents: 199, lineDiscountCents: 3 }],
    };
    const [first] = await ingestBaskets(getDeps(), [b], 'pos');
    // Overwrite the stored hash with the SQL definition's, as an older release stored it.
    await sql`update baskets b set content_hash = md5(concat_ws('|', b.store_id::text, b.terminal_id, b.txn_id,
                extract(epoch from b.ts)::text, b.member_id::text,
                (select string_agg(l.gtin || ':' || l.qty::text || ':' || l.unit_price_cents::text || ':' || l.line_discount_cents::text, ',' order by l.line_no)
                 from basket_lines l where l.member_id = b.member_id and l.basket_id = b.id)))
              where b.id = ${first!.basketId}`.execute(getDeps().db);
    const [retry] = await ingestBaskets(getDeps(), [b], 'pos');
    expect(retry).toMatchObject({ status: 'duplicate', basketId: first!.basketId });
    const [changed] = await ingestBaskets(getDeps(), [{ ...b, ts: '2025-06-01T09:00:00.76+02:00' }], 'pos');
    expect(changed!.status).toBe('conflict');
  });
});

describe('AsciiBuffer (the COPY text of basket lines)', () => {
  it('writes integers as String does and thousandths as numeric(12, 3) prints them', () => {
    const ints = [0, 1, 9, 10, 99, 100, 12345, -1, -10, -907, 2 ** 31, 2 ** 53 - 1, -(2 ** 53 - 1)];
    const millis = [0, 1, 10, 100, 999, 1000, 1001, 2500, 100_000_000, -1, -250, -1500];
    let seed = 11;
    for (let i = 0; i < 2000; i++) {
      seed = (seed * 48271) % 2_147_483_647; // exact in doubles
      ints.push(seed % 2 === 0 ? seed : -seed);
      millis.push(seed % 100_000_000);
    }
    const buf = new AsciiBuffer(8); // grows on the way
    let expected = '';
    for (const n of ints) {
      buf.int(n);
      buf.byte(44);
      expected += `${n},`;
    }
    for (const m of millis) {
      buf.milli(m);
      buf.byte(10);
      expected += `${(m / 1000).toFixed(3)}\n`;
    }
    buf.ascii('00012345678905');
    expected += '00012345678905';
    const written = new TextDecoder().decode(buf.view()).split(/[,\n]/);
    expect(written.length).toBe(expected.split(/[,\n]/).length);
    expect(written.filter((w, i) => w !== expected.split(/[,\n]/)[i])).toEqual([]);
  });
});
