import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { appWithKeys, basket, gtin13, seedCatalogue } from '../support/factories.ts';
import { useTestDeps } from '../support/db.ts';
import { seededRandom as rng } from '../support/random.ts';

/**
 * Hostile input on POST /v1/baskets, drawn with a fixed seed: every field of a valid basket
 * replaced by values of the wrong type, out of range, at the edges of what PostgreSQL can hold, or
 * holding characters it cannot store. Whatever comes in, the answer is never a 5xx; a 4xx is a
 * problem+json naming the fields; and what a rejection leaves behind is nothing.
 */
const getDeps = useTestDeps();
let api: Awaited<ReturnType<typeof appWithKeys>>;
beforeAll(async () => {
  await seedCatalogue(getDeps());
  api = await appWithKeys(getDeps());
});

const hostile: unknown[] = [
  null, true, 0, -1, 1.5, 2 ** 31, 2 ** 53, -(2 ** 31) - 1, 1e308, Number.MIN_VALUE, '', ' ', '0', 'x'.repeat(5000),
  'a\u0000b', '\u0000', 'é', '😀', '\ud800', [], [1], {}, { a: 1 }, '2026-13-01T00:00:00Z', '9999-12-31T23:59:59+14:00',
  '0001-01-01T00:00:00Z', '2026-11-20T10:15:00', '2026-11-20T24:00:00Z', '2026-11-20T10:15:60Z', '2026-11-20T10:15:00+24:00',
];


async function counts() {
  const { rows } = await sql<{ b: number; l: number; m: number; p: number; t: number }>`
    select (select count(*) from baskets)::int as b, (select count(*) from basket_lines)::int as l,
           (select count(*) from members)::int as m, (select count(*) from products)::int as p,
           (select count(*) from terminals)::int as t`.execute(getDeps().db);
  return rows[0]!;
}

describe('POST /v1/baskets under hostile input', () => {
  it('never answers 5xx, names the fields of each 4xx, and stores nothing for a rejected basket', async () => {
    const random = rng(20261125);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
    const basketFields = ['storeId', 'terminalId', 'txnId', 'ts', 'cardNumber', 'lines'] as const;
    const lineFields = ['gtin', 'qty', 'unitPriceCents', 'lineDiscountCents'] as const;
    const seen = new Map<number, number>();
    for (let n = 0; n < 300; n++) {
      const b = basket({ txnId: `fuzz-${n}` }) as unknown as Record<string, unknown>;
      const lines = (b.lines as Record<string, unknown>[]).map((l) => ({ ...l }));
      b.lines = lines;
      // one to three fields of the basket or of its lines made hostile
      for (let k = 1 + Math.floor(random() * 3); k > 0; k--) {
        if (random() < 0.5) b[pick(basketFields)] = pick(hostile);
        else lines[Math.floor(random() * lines.length)]![pick(lineFields)] = pick(hostile);
      }
      const before = await counts();
      const batch = random() < 0.3;
      const res = await api.call('POST', '/v1/baskets', api.keys.admin, batch ? { baskets: [b] } : b);
      const status = res.status;
      seen.set(status, (seen.get(status) ?? 0) + 1);
      const body = await res.json();
      expect(status, JSON.stringify({ sent: b, body })).toBeLessThan(500);
      const rejected = batch ? body.results?.[0]?.status === 'rejected' : status >= 400;
      if (status >= 400) {
        expect(res.headers.get('content-type')).toContain('application/problem+json');
        expect(body.status).toBe(status);
      }
      if (status === 422) expect(body.issues?.length, JSON.stringify(body)).toBeGreaterThan(0);
      if (rejected || status >= 400) expect(await counts(), JSON.stringify(b)).toEqual(before);
    }
    // The draw reaches both outcomes: most baskets rejected, some still valid.
    expect(seen.get(422) ?? 0).toBeGreaterThan(100);
    expect((seen.get(201) ?? 0) + (seen.get(200) ?? 0)).toBeGreaterThan(5);
  });

  it('stores a valid basket with the largest values the schema allows', async () => {
    const res = await api.call('POST', '/v1/baskets', api.keys.admin, basket({
      storeId: 1,
      terminalId: 'T'.repeat(40),
      txnId: 'x'.repeat(80),
      ts: '2026-11-20T10:15:00.999999+14:00',
      lines: Array.from({ length: 1000 }, (_, i) => ({ gtin: gtin13(5000 + i), qty: 100_000, unitPriceCents: 100_000_000, lineDiscountCents: 0 })),
    }));
    expect(res.status).toBe(201);
  });
});
