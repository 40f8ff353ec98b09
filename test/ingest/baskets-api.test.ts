import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { appWithKeys, basket, gtin13, gtin14, seedCatalogue } from '../support/factories.ts';
import { useTestDeps } from '../support/db.ts';
import { ingestBaskets, type BasketInput } from '../../src/ingest/index.ts';

const getDeps = useTestDeps();
let api: Awaited<ReturnType<typeof appWithKeys>>;

beforeAll(async () => {
  await seedCatalogue(getDeps());
  api = await appWithKeys(getDeps());
});

async function count(table: 'baskets' | 'basket_lines' | 'members' | 'products') {
  const r = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(getDeps().db);
  return r.rows[0]!.n;
}

describe('POST /v1/baskets, one basket', () => {
  it('stores a basket with its lines and an unregistered member for an unknown card', async () => {
    const b = basket({ cardNumber: '499900000001' });
    const res = await api.call('POST', '/v1/baskets', api.keys.pos1, b);
    expect(res.status).toBe(201);
    const body = await res.json();
    expect(body).toMatchObject({ status: 'created', storeId: 1, txnId: b.txnId, unknownGtins: [] });
    const stored = await getDeps()
      .db.selectFrom('baskets')
      .innerJoin('members', 'members.id', 'baskets.member_id')
      .select(['baskets.id', 'total_cents', 'line_count', 'members.status', 'members.card_number', 'ts'])
      .where('baskets.id', '=', body.basketId)
      .executeTakeFirstOrThrow();
    expect(stored).toMatchObject({
      total_cents: 899 + 2 * 399 - 50,
      line_count: 2,
      status: 'unregistered',
      card_number: '499900000001',
    });
    expect(stored.ts.toISOString()).toBe('2026-11-20T15:15:00.000Z');
  });

  it('answers a retry with the original id and stores nothing new', async () => {
    const b = basket();
    const first = await (await api.call('POST', '/v1/baskets', api.keys.pos1, b)).json();
    const before = [await count('baskets'), await count('basket_lines'), await count('members')];
    const retry = await api.call('POST', '/v1/baskets', api.keys.pos1, b);
    expect(retry.status).toBe(200);
    expect(await retry.json()).toMatchObject({ status: 'duplicate', basketId: first.basketId });
    expect([await count('baskets'), await count('basket_lines'), await count('members')]).toEqual(before);
  });

  it('answers 409 when the same key comes with other content', async () => {
    const b = basket();
    await api.call('POST', '/v1/baskets', api.keys.pos1, b);
    const before = await count('basket_lines');
    const changed = { ...b, lines: [{ ...b.lines[0]!, qty: 3 }] };
    const res = await api.call('POST', '/v1/baskets', api.keys.pos1, changed);
    expect(res.status).toBe(409);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const problem = await res.json();
    expect(problem).toMatchObject({ status: 409, title: 'Conflict' });
    expect(problem.issues[0].path).toBe('txnId');
    expect(await count('basket_lines')).toBe(before);
  });

  it('reads terminal and txn ids without surrounding spaces, as the CSV import does: a padded retry is a duplicate', async () => {
    const b = basket();
    const padded = { ...b, terminalId: ` ${b.terminalId} `, txnId: `${b.txnId}  ` };
    const first = await api.call('POST', '/v1/baskets', api.keys.pos1, padded);
    expect(first.status).toBe(201);
    expect(await first.json()).toMatchObject({ terminalId: b.terminalId, txnId: b.txnId });
    const retry = await api.call('POST', '/v1/baskets', api.keys.pos1, b);
    expect(retry.status).toBe(200);
    expect((await retry.json()).status).toBe('duplicate');
    const blank = await api.call('POST', '/v1/baskets', api.keys.pos1, { ...b, txnId: '   ' });
    expect(blank.status).toBe(422);
    expect((await blank.json()).issues[0].path).toBe('txnId');
  });

  it('refuses a line discount larger than the line, alone or in a batch, and stores nothing for it', async () => {
    const before = await count('basket_lines');
    const b = basket();
    const over = { ...b, lines: [{ ...b.lines[0]!, qty: 1, unitPriceCents: 100, lineDiscountCents: 500 }] };
    const res = await api.call('POST', '/v1/baskets', api.keys.pos1, over);
    expect(res.status).toBe(422);
    expect((await res.json()).issues).toEqual([{ path: 'lines[0].lineDiscountCents', message: "more than the line's 100 cents" }]);
    // a weighed line: 0.375 kg at 199 is 75 cents (74.625 rounded), all of it may be taken off
    const whole = { ...basket(), lines: [{ ...b.lines[0]!, qty: 0.375, unitPriceCents: 199, lineDiscountCents: 75 }] };
    const batch = await (await api.call('POST', '/v1/baskets', api.keys.pos1, {
      baskets: [whole, { ...basket(), lines: [{ ...b.lines[0]!, qty: 0.375, unitPriceCents: 199, lineDiscountCents: 76 }] }],
    })).json();
    expect(batch.results.map((r: { status: string }) => r.status)).toEqual(['created', 'rejected']);
    expect(batch.results[1].issues[0]).toEqual({ path: 'baskets[1].lines[0].lineDiscountCents', message: "more than the line's 75 cents" });
    expect(await count('basket_lines')).toBe(before + 1);
  });

  it('answers a retry whose lines come in another order as a duplicate, alone or in a batch (was a 409)', async () => {
    const line = (n: number, qty: number, unitPriceCents = 100) => ({ gtin: gtin13(n), qty, unitPriceCents, lineDiscountCents: 0 });
    const b = basket({ lines: [line(1, 1), line(3, 2), line(1, 0.5), line(2, 1)] });
    const first = await (await api.call('POST', '/v1/baskets', api.keys.pos1, b)).json();
    const before = [await count('baskets'), await count('basket_lines')];
    const reordered = { ...b, lines: [b.lines[3]!, b.lines[2]!, b.lines[0]!, b.lines[1]!] };
    const retry = await api.call('POST', '/v1/baskets', api.keys.pos1, reordered);
    expect(retry.status).toBe(200);
    expect(await retry.json()).toMatchObject({ status: 'duplicate', basketId: first.basketId });
    const batch = await (await api.call('POST', '/v1/baskets', api.keys.pos1, { baskets: [b, reordered] })).json();
    expect(batch.results.map((r: { status: string; basketId: number }) => [r.status, r.basketId])).toEqual([
      ['duplicate', first.basketId],
      ['duplicate', first.basketId],
    ]);
    const fresh = basket();
    const inOneBatch = await (await api.call('POST', '/v1/baskets', api.keys.pos1, { baskets: [fresh, { ...fresh, lines: [...fresh.lines].reverse() }] })).json();
    expect(inOneBatch.results.map((r: { status: string }) => r.status)).toEqual(['created', 'duplicate']);
    // other lines, or the same lines with one swapped for another, are still a conflict
    const swapped = { ...b, lines: [line(1, 1), line(3, 2), line(1, 0.5), line(2, 1, 101)] };
    expect((await api.call('POST', '/v1/baskets', api.keys.pos1, swapped)).status).toBe(409);
    const fewer = { ...b, lines: [line(1, 1), line(3, 2), line(1, 0.5)] };
    expect((await api.call('POST', '/v1/baskets', api.keys.pos1, fewer)).status).toBe(409);
    expect([await count('baskets'), await count('basket_lines')]).toEqual([before[0]! + 1, before[1]! + 2]);
  });

  it('stores an anonymous basket under the anonymous member', async () => {
    const res = await api.call('POST', '/v1/baskets', api.keys.pos1, basket({ cardNumber: null }));
    expect(res.status).toBe(201);
    const { basketId } = await res.json();
    const row = await getDeps().db.selectFrom('baskets').select('member_id').where('id', '=', basketId).executeTakeFirstOrThrow();
    expect(row.member_id).toBe(0);
  });

  it('stores and reports GTINs that the catalogue does not know yet', async () => {
    const unknown = gtin13(777, '201');
    const res = await api.call('POST', '/v1/baskets', api.keys.pos1, basket({
      lines: [{ gtin: unknown, qty: 1, unitPriceCents: 199, lineDiscountCents: 0 }],
    }));
    expect(res.status).toBe(201);
    expect((await res.json()).unknownGtins).toEqual([gtin14(unknown)]);
    const product = await getDeps().db.selectFrom('products').selectAll().where('gtin', '=', gtin14(unknown)).executeTakeFirstOrThrow();
    expect(product.known).toBe(false);
  });

  it('reports a GTIN unknown until the catalogue describes it, then known (the API remembers only described GTINs)', async () => {
    const later = gtin13(778, '201');
    const post = async () => {
      const res = await api.call('POST', '/v1/baskets', api.keys.pos1, basket({
        lines: [
          { gtin: later, qty: 1, unitPriceCents: 250, lineDiscountCents: 0 },
          { gtin: gtin13(1), qty: 1, unitPriceCents: 899, lineDiscountCents: 0 },
        ],
      }));
      expect(res.status).toBe(201);
      const { basketId, unknownGtins } = await res.json();
      const lines = await getDeps().db.selectFrom('basket_lines').select('gtin').where('basket_id', '=', basketId).orderBy('line_no').execute();
      expect(lines.map((l) => l.gtin)).toEqual([gtin14(later), gtin14(gtin13(1))]);
      return unknownGtins;
    };
    expect(await post()).toEqual([gtin14(later)]);
    expect(await post()).toEqual([gtin14(later)]); // still unknown: not remembered as unknown
    const described = await api.call('PUT', '/v1/products', api.keys.admin, { products: [{ gtin: later, name: 'Described later' }] });
    expect(described.status).toBe(200);
    expect(await post()).toEqual([]);
    expect(await post()).toEqual([]); // remembered as described
  });

  it('accepts a store as soon as it is set up, after rejecting it while unknown (no store is remembered as missing)', async () => {
    const post = () => api.call('POST', '/v1/baskets', api.keys.admin, basket({ storeId: 77 }));
    const before = await count('baskets');
    expect((await post()).status).toBe(422);
    expect(await count('baskets')).toBe(before);
    const store = await api.call('PUT', '/v1/stores', api.keys.admin, { stores: [{ id: 77, name: 'Opened later', timeZone: 'America/New_York' }] });
    expect(store.status).toBe(200);
    expect((await post()).status).toBe(201);
  });

  it('resolves a card to its member on every post (the API does not remember cards)', async () => {
    const card = '499900000077';
    const post = async () => {
      const res = await api.call('POST', '/v1/baskets', api.keys.pos1, basket({ cardNumber: card }));
      const { basketId } = await res.json();
      return (await getDeps().db.selectFrom('baskets').select('member_id').where('id', '=', basketId).executeTakeFirstOrThrow()).member_id;
    };
    const first = await post();
    // The card moves to another member (as a card re-issue would do).
    await sql`update members set member_number = 'M-OLD-77', card_number = null where id = ${first}`.execute(getDeps().db);
    const other = await sql<{ id: number }>`
      insert into members (member_number, card_number, status) values ('M-CARD-77', ${card}, 'registered') returning id`.execute(getDeps().db);
    expect(await post()).toBe(Number(other.rows[0]!.id));
  });

  it('accepts GTIN-8, -12 and -14 and stores them as 14 digits', async () => {
    const res = await api.call('POST', '/v1/baskets', api.keys.pos1, basket({
      lines: [
        { gtin: '96385074', qty: 1, unitPriceCents: 100, lineDiscountCents: 0 },
        { gtin: '036000291452', qty: 1, unitPriceCents: 100, lineDiscountCents: 0 },
        { gtin: '10012345678902', qty: 1.25, unitPriceCents: 100, lineDiscountCents: 0 },
      ],
    }));
    expect(res.status).toBe(201);
    const { basketId } = await res.json();
    const lines = await getDeps().db.selectFrom('basket_lines').select(['gtin', 'qty']).where('basket_id', '=', basketId).orderBy('line_no').execute();
    expect(lines).toEqual([
      { gtin: '00000096385074', qty: 1 },
      { gtin: '00036000291452', qty: 1 },
      { gtin: '10012345678902', qty: 1.25 },
    ]);
  });
});

describe('POST /v1/baskets, returned items', () => {
  it('stores a line of negative quantity (an item returned in the same transaction) and counts it in the total', async () => {
    const body = basket({
      lines: [
        { gtin: gtin13(1), qty: 2, unitPriceCents: 349, lineDiscountCents: 50 },
        // returned: 1.005 kg at 100 cents is -101 (half away from zero, as the sold line rounds), 10 given back
        { gtin: gtin13(2), qty: -1.005, unitPriceCents: 100, lineDiscountCents: -10 },
      ],
    });
    const res = await api.call('POST', '/v1/baskets', api.keys.pos1, body);
    expect(res.status).toBe(201);
    const { basketId } = await res.json();
    const stored = await getDeps().db.selectFrom('baskets').select(['total_cents', 'line_count']).where('id', '=', basketId).executeTakeFirstOrThrow();
    expect({ total: Number(stored.total_cents), lines: stored.line_count }).toEqual({ total: 698 - 50 - 101 + 10, lines: 2 });
    const lines = await getDeps().db.selectFrom('basket_lines').select(['qty', 'line_discount_cents']).where('basket_id', '=', basketId).orderBy('line_no').execute();
    expect(lines.map((l) => [Number(l.qty), l.line_discount_cents])).toEqual([[2, 50], [-1.005, -10]]);
    // a retry is the same basket
    const again = await api.call('POST', '/v1/baskets', api.keys.pos1, body);
    expect(again.status).toBe(200);
    expect((await again.json()).basketId).toBe(basketId);
  });
});

describe('POST /v1/baskets, bad input stores nothing', () => {
  const cases: [string, unknown, number, string][] = [
    ['a bad check digit', basket({ lines: [{ gtin: '4006381333932', qty: 1, unitPriceCents: 1, lineDiscountCents: 0 }] }), 422, 'lines[0].gtin'],
    ['a timestamp without offset', basket({ ts: '2026-11-20T10:15:00' }), 422, 'ts'],
    ['a date that does not exist', basket({ ts: '2026-02-30T10:15:00-05:00' }), 422, 'ts'],
    ['a wrong type', { ...basket(), storeId: 'one' }, 422, 'storeId'],
    ['a missing field', (() => { const { txnId: _, ...rest } = basket(); return rest; })(), 422, 'txnId'],
    ['an unknown field', { ...basket(), coupon: 'X' }, 422, '(body)'],
    ['a quantity of 0', basket({ lines: [{ gtin: gtin13(1), qty: 0, unitPriceCents: 1, lineDiscountCents: 0 }] }), 422, 'lines[0].qty'],
    ['a negative discount on a sold line', basket({ lines: [{ gtin: gtin13(1), qty: 1, unitPriceCents: 100, lineDiscountCents: -5 }] }), 422, 'lines[0].lineDiscountCents'],
    ['a positive discount on a returned line', basket({ lines: [{ gtin: gtin13(1), qty: -1, unitPriceCents: 100, lineDiscountCents: 5 }] }), 422, 'lines[0].lineDiscountCents'],
    ['a returned line giving back more than it', basket({ lines: [{ gtin: gtin13(1), qty: -1, unitPriceCents: 100, lineDiscountCents: -101 }] }), 422, 'lines[0].lineDiscountCents'],
    ['no lines', basket({ lines: [] }), 422, 'lines'],
    ['an unknown store', basket({ storeId: 99 }), 422, 'storeId'],
  ];
  for (const [name, body, status, path] of cases) {
    it(`rejects ${name} with ${status} naming ${path}`, async () => {
      const before = [await count('baskets'), await count('basket_lines'), await count('members'), await count('products')];
      const res = await api.call('POST', '/v1/baskets', api.keys.admin, body);
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      const problem = await res.json();
      expect(problem.status).toBe(status);
      expect(problem.issues.map((i: { path: string }) => i.path)).toContain(path);
      expect([await count('baskets'), await count('basket_lines'), await count('members'), await count('products')]).toEqual(before);
    });
  }

  it('rejects malformed JSON with 400', async () => {
    const before = await count('baskets');
    const res = await api.call('POST', '/v1/baskets', api.keys.pos1, '{"storeId": 1,');
    expect(res.status).toBe(400);
    expect((await res.json()).detail).toMatch(/malformed JSON/);
    expect(await count('baskets')).toBe(before);
  });

  it('rejects an oversized body with 413', async () => {
    const huge = { baskets: Array.from({ length: 400 }, () => basket({ lines: Array.from({ length: 1000 }, () => ({ gtin: gtin13(1), qty: 1, unitPriceCents: 1, lineDiscountCents: 0 })) })) };
    const text = JSON.stringify(huge);
    expect(text.length).toBeGreaterThan(getDeps().config.MAX_BODY_BYTES);
    const before = await count('baskets');
    const res = await api.call('POST', '/v1/baskets', api.keys.pos1, text);
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ status: 413, title: 'Payload too large' });
    expect(await count('baskets')).toBe(before);
  });
});

describe('POST /v1/baskets, batches', () => {
  it('lands the good baskets and rejects the bad one alone', async () => {
    const good1 = basket();
    const good2 = basket({ cardNumber: null });
    const bad = basket({ lines: [{ gtin: gtin13(1), qty: 1, unitPriceCents: 1, lineDiscountCents: 0 }, { gtin: '123', qty: 1, unitPriceCents: 1, lineDiscountCents: 0 }] });
    const before = await count('basket_lines');
    const res = await api.call('POST', '/v1/baskets', api.keys.pos1, { baskets: [good1, bad, good2] });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ created: 2, rejected: 1, duplicates: 0, conflicts: 0 });
    expect(body.results.map((r: { status: string }) => r.status)).toEqual(['created', 'rejected', 'created']);
    expect(body.results[1].issues[0].path).toBe('baskets[1].lines[1].gtin');
    expect(await count('basket_lines')).toBe(before + 4);
    const badStored = await getDeps().db.selectFrom('baskets').select('id').where('txn_id', '=', bad.txnId).execute();
    expect(badStored).toEqual([]);
  });

  it('retrying a whole batch returns the same ids and stores nothing', async () => {
    const batch = { baskets: [basket(), basket(), basket({ storeId: 1, terminalId: 'T09' })] };
    const first = await (await api.call('POST', '/v1/baskets', api.keys.pos1, batch)).json();
    const before = [await count('baskets'), await count('basket_lines')];
    const again = await (await api.call('POST', '/v1/baskets', api.keys.pos1, batch)).json();
    expect(again).toMatchObject({ created: 0, duplicates: 3 });
    expect(again.results.map((r: { basketId: number }) => r.basketId)).toEqual(first.results.map((r: { basketId: number }) => r.basketId));
    expect([await count('baskets'), await count('basket_lines')]).toEqual(before);
  });

  it('resolves a key repeated inside one batch against its first occurrence', async () => {
    const b = basket();
    const changed = { ...b, lines: [b.lines[0]!] };
    const body = await (await api.call('POST', '/v1/baskets', api.keys.pos1, { baskets: [b, b, changed] })).json();
    expect(body.results.map((r: { status: string }) => r.status)).toEqual(['created', 'duplicate', 'conflict']);
    expect(body.results[1].basketId).toBe(body.results[0].basketId);
  });

  it('answers a repeat of a stored basket as a duplicate even when an earlier repeat of its key conflicts', async () => {
    const stored = basket();
    const created = await (await api.call('POST', '/v1/baskets', api.keys.pos1, stored)).json();
    const changed = { ...stored, lines: [stored.lines[0]!] };
    const before = [await count('baskets'), await count('basket_lines')];
    const body = await (await api.call('POST', '/v1/baskets', api.keys.pos1, { baskets: [changed, stored, changed] })).json();
    expect(body.results.map((r: { status: string }) => r.status)).toEqual(['conflict', 'duplicate', 'conflict']);
    expect(body.results.map((r: { basketId: number }) => r.basketId)).toEqual([created.basketId, created.basketId, created.basketId]);
    expect(body).toMatchObject({ created: 0, duplicates: 1, conflicts: 2 });
    expect(body.results[1].issues).toEqual([]);
    expect([await count('baskets'), await count('basket_lines')]).toEqual(before);
  });

  it('refuses batches over 500 baskets', async () => {
    const res = await api.call('POST', '/v1/baskets', api.keys.pos1, { baskets: Array.from({ length: 501 }, () => basket()) });
    expect(res.status).toBe(422);
    expect((await res.json()).issues[0].path).toBe('baskets');
  });

  it('counts concurrent retries of one basket once', async () => {
    const b = basket();
    const responses = await Promise.all(Array.from({ length: 8 }, () => api.call('POST', '/v1/baskets', api.keys.pos1, b)));
    const bodies = await Promise.all(responses.map((r) => r.json()));
    expect(bodies.filter((x) => x.status === 'created')).toHaveLength(1);
    expect(new Set(bodies.map((x) => x.basketId)).size).toBe(1);
    const stored = await getDeps().db.selectFrom('baskets').select('id').where('txn_id', '=', b.txnId).execute();
    expect(stored).toHaveLength(1);
  });
});

describe('ingestBaskets, concurrent batches', () => {
  it('lands batches that share new cards and GTINs in opposite orders without deadlocks', async () => {
    // Every writer sees the same new cards and GTINs, half of them in reverse order: without a
    // common lock order, PostgreSQL aborts some of these transactions as deadlocked.
    const n = 2000;
    const cards = Array.from({ length: n }, (_, i) => `82${String(i).padStart(10, '0')}`);
    const gtins = Array.from({ length: n }, (_, i) => gtin14(gtin13(20000 + i, '207')));
    const batches = Array.from({ length: 6 }, (_, writer) => {
      const list = cards.map((card, i): BasketInput => ({
        storeId: 1,
        terminalId: `W${writer}`,
        txnId: `dl-${i}`,
        ts: '2026-11-20T10:00:00Z',
        member: { kind: 'card', ref: card },
        lines: [{ gtin: gtins[i]!, qty: 1, unitPriceCents: 100, lineDiscountCents: 0 }],
      }));
      return writer % 2 ? list.reverse() : list;
    });
    const outcomes = await Promise.all(batches.map((b) => ingestBaskets(getDeps(), b, 'pos')));
    expect(outcomes.map((o) => o.filter((x) => x.status === 'created').length)).toEqual(batches.map(() => n));
    const members = await getDeps().db.selectFrom('members').select('id').where('card_number', 'in', cards).execute();
    expect(members).toHaveLength(n);
  });
});

describe('ingestBaskets, direct callers', () => {
  it('rejects a basket without lines and stores nothing for it', async () => {
    const empty: BasketInput = {
      storeId: 1,
      terminalId: 'T09',
      txnId: 'empty-1',
      ts: '2026-11-20T10:00:00Z',
      member: null,
      lines: [],
    };
    const [outcome] = await ingestBaskets(getDeps(), [empty], 'pos');
    expect(outcome).toMatchObject({ status: 'rejected', basketId: null, issues: [{ path: 'lines' }] });
    const stored = await getDeps().db.selectFrom('baskets').select('id').where('txn_id', '=', 'empty-1').execute();
    expect(stored).toEqual([]);
  });

  it('tells a repeat within one call from a conflict to the microsecond', async () => {
    const b: BasketInput = {
      storeId: 1,
      terminalId: 'T09',
      txnId: 'repeat-us',
      ts: '2026-11-20T10:00:00.000001Z',
      member: null,
      lines: [{ gtin: gtin13(1), qty: 1, unitPriceCents: 100, lineDiscountCents: 0 }],
    };
    const [first, repeat, later] = await ingestBaskets(getDeps(), [b, { ...b }, { ...b, ts: '2026-11-20T10:00:00.000002Z' }], 'pos');
    expect(first!.status).toBe('created');
    expect(repeat).toMatchObject({ status: 'duplicate', basketId: first!.basketId });
    expect(later).toMatchObject({ status: 'conflict', basketId: first!.basketId });
  });
});

describe('POST /v1/baskets, roles and scope', () => {
  it('needs a key', async () => {
    const res = await api.call('POST', '/v1/baskets', null, basket());
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ status: 401, title: 'Unauthorized' });
  });

  it('refuses an unknown key', async () => {
    const res = await api.call('POST', '/v1/baskets', 'cad_notarealkeyatall', basket());
    expect(res.status).toBe(401);
  });

  it('refuses marketer and vendor keys', async () => {
    for (const key of [api.keys.marketer, api.keys.vendor]) {
      expect((await api.call('POST', '/v1/baskets', key, basket())).status).toBe(403);
    }
  });

  it('lets a pos key post for its own store only, and stores nothing otherwise', async () => {
    const b = basket({ storeId: 2 });
    expect((await api.call('POST', '/v1/baskets', api.keys.pos1, b)).status).toBe(403);
    const batch = await api.call('POST', '/v1/baskets', api.keys.pos1, { baskets: [basket(), b] });
    expect(batch.status).toBe(403);
    expect((await batch.json()).issues[0].path).toBe('baskets[1].storeId');
    expect(await getDeps().db.selectFrom('baskets').select('id').where('txn_id', '=', b.txnId).execute()).toEqual([]);
    expect((await api.call('POST', '/v1/baskets', api.keys.pos2, b)).status).toBe(201);
  });
});

describe('stored baskets (run last)', () => {
  it('name members and stores that exist: the writer keeps what foreign keys would', async () => {
    const { rows } = await sql<{ baskets: number; orphans: number }>`
      select count(*)::int as baskets,
             count(*) filter (where not exists (select 1 from members m where m.id = b.member_id)
                               or (b.store_id is not null and not exists (select 1 from stores s where s.id = b.store_id)))::int as orphans
      from baskets b`.execute(getDeps().db);
    expect(rows[0]!.baskets).toBeGreaterThan(20);
    expect(rows[0]!.orphans).toBe(0);
  });
});

describe('POST /v1/baskets, instants PostgreSQL cannot hold', () => {
  it('refuses a ts outside 1900–9999 with 422 naming it, alone or in a batch (was a 500)', async () => {
    for (const ts of ['0000-01-01T00:00:00Z', '1899-12-31T23:59:59Z', '9999-12-31T23:59:59-14:00']) {
      const res = await api.call('POST', '/v1/baskets', api.keys.pos1, basket({ ts }));
      expect(res.status, ts).toBe(422);
      expect((await res.json()).issues).toEqual([{ path: 'ts', message: 'outside 1900-01-01 … 9999-01-01' }]);
    }
    const batch = await (await api.call('POST', '/v1/baskets', api.keys.pos1, { baskets: [basket({ ts: '0000-01-01T00:00:00Z' }), basket()] })).json();
    expect(batch.results.map((r: { status: string }) => r.status)).toEqual(['rejected', 'created']);
    expect(batch.results[0].issues[0].path).toBe('baskets[0].ts');
  });
});

describe('POST /v1/baskets, a conflict leaves nothing behind', () => {
  const counts = async () =>
    (await sql<{ m: number; t: number; p: number; b: number }>`
      select (select count(*) from members)::int as m, (select count(*) from terminals)::int as t,
             (select count(*) from products)::int as p, (select count(*) from baskets)::int as b`.execute(getDeps().db)).rows[0]!;

  it('stores no member, terminal or placeholder product for a basket refused as a conflict (a new card was left behind)', async () => {
    await api.call('POST', '/v1/baskets', api.keys.pos1, basket({ txnId: 'taken-1' }));
    const other = basket({ txnId: 'taken-1', cardNumber: '999000111222', lines: [{ gtin: gtin13(777), qty: 1, unitPriceCents: 100, lineDiscountCents: 0 }] });
    const before = await counts();
    const res = await api.call('POST', '/v1/baskets', api.keys.pos1, other);
    expect(res.status).toBe(409);
    expect(await counts()).toEqual(before);

    const fresh = basket({ txnId: 'fresh-1', cardNumber: '999000111333' });
    const batch = await (await api.call('POST', '/v1/baskets', api.keys.pos1, { baskets: [other, fresh] })).json();
    expect(batch.results.map((r: { status: string }) => r.status)).toEqual(['conflict', 'created']);
    expect(await counts()).toEqual({ ...before, m: before.m + 1, b: before.b + 1 });
  });
});
