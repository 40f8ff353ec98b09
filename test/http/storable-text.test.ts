import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { firstUnstorableText, unstorableReason } from '../../src/lib/text.ts';
import { appWithKeys, basket, seedCatalogue } from '../support/factories.ts';
import { useTestDeps } from '../support/db.ts';

// PostgreSQL stores no NUL in text, and a lone surrogate would be stored as U+FFFD: both are
// refused up front with a 4xx naming the field, on every route, instead of a 500 from the database.
const getDeps = useTestDeps();
let api: Awaited<ReturnType<typeof appWithKeys>>;
beforeAll(async () => {
  await seedCatalogue(getDeps());
  api = await appWithKeys(getDeps());
});

const count = async (table: 'stores' | 'products' | 'baskets') =>
  (await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(getDeps().db)).rows[0]!.n;

describe('text that cannot be stored', () => {
  it('is found with its path, in values and keys, and ordinary text passes', () => {
    expect(unstorableReason('Kasse-Ü1 😀 lane|7')).toBeNull();
    expect(unstorableReason('a\u0000b')).toMatch(/NUL/);
    expect(unstorableReason('\ud800')).toMatch(/surrogate/);
    expect(unstorableReason('x\udc00')).toMatch(/surrogate/);
    expect(firstUnstorableText({ stores: [{ id: 1 }, { id: 2, name: 'ok' }, { name: 'b\u0000' }] }))
      .toEqual({ path: ['stores', 2, 'name'], reason: expect.stringMatching(/NUL/) });
    expect(firstUnstorableText({ 'k\u0000': 1 })?.path).toEqual(['k\u0000']);
    expect(firstUnstorableText([1, 'fine', { a: ['😀'] }])).toBeNull();
  });

  it('gets 422 naming the field on an upsert, and nothing is stored', async () => {
    const before = await count('stores');
    const res = await api.call('PUT', '/v1/stores', api.keys.admin, {
      stores: [{ id: 30, name: 'Fine', timeZone: 'America/New_York' }, { id: 31, name: 'Bad\u0000name', timeZone: 'America/New_York' }],
    });
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect((await res.json()).issues).toEqual([{ path: 'stores[1].name', message: expect.stringMatching(/NUL/) }]);
    expect(await count('stores')).toBe(before);

    const products = await count('products');
    const lone = await api.call('PUT', '/v1/products', api.keys.admin, `{"products":[{"gtin":"96385074","name":"half \\ud83d"}]}`);
    expect(lone.status).toBe(422);
    expect((await lone.json()).issues[0].path).toBe('products[0].name');
    expect(await count('products')).toBe(products);
  });

  it('rejects only the basket that holds it in a batch; the others land', async () => {
    const before = await count('baskets');
    const res = await api.call('POST', '/v1/baskets', api.keys.pos1, {
      baskets: [basket(), basket({ terminalId: 'T\u0000' }), basket({ txnId: 'x\ud800' })],
    });
    expect(res.status).toBe(200);
    const { results } = await res.json();
    expect(results.map((r: { status: string }) => r.status)).toEqual(['created', 'rejected', 'rejected']);
    expect(results[1].issues[0]).toEqual({ path: 'baskets[1].terminalId', message: expect.stringMatching(/NUL/) });
    expect(results[2].issues[0]).toEqual({ path: 'baskets[2].txnId', message: expect.stringMatching(/surrogate/) });
    expect(await count('baskets')).toBe(before + 1);
    const single = await api.call('POST', '/v1/baskets', api.keys.pos1, basket({ txnId: 'a\u0000' }));
    expect(single.status).toBe(422);
    expect((await single.json()).issues[0].path).toBe('txnId');
  });

  it('store numbers beyond PostgreSQL\'s integer get 422, not a 500 from the database', async () => {
    for (const [method, path, body] of [
      ['POST', '/v1/baskets', basket({ storeId: 2 ** 31 })],
      ['PUT', '/v1/stores', { stores: [{ id: 2 ** 31, name: 'Too far', timeZone: 'America/New_York' }] }],
      ['POST', '/v1/keys', { name: 'lane', role: 'pos', storeId: 2 ** 40 }],
    ] as const) {
      const res = await api.call(method, path, api.keys.admin, body);
      expect(res.status, `${method} ${path}`).toBe(422);
      expect((await res.json()).issues[0].path).toMatch(/storeId|id$/);
    }
    const batch = await api.call('POST', '/v1/baskets', api.keys.admin, { baskets: [basket({ storeId: 2 ** 31 }), basket()] });
    expect((await batch.json()).results.map((r: { status: string }) => r.status)).toEqual(['rejected', 'created']);
  });

  it('gets 400 in a URL', async () => {
    const res = await api.call('GET', '/v1/members/M%000001/profile', api.keys.admin);
    expect(res.status).toBe(400);
    expect((await res.json()).issues[0].path).toBe('url');
  });

  it('finds text in a body nested 100,000 deep without overflowing the stack (was a 500)', async () => {
    const deep = '['.repeat(100_000) + '"a\\u0000"' + ']'.repeat(100_000);
    expect(firstUnstorableText(JSON.parse(deep))?.path).toHaveLength(100_000);
    const res = await api.call('PUT', '/v1/stores', api.keys.admin, deep);
    expect(res.status).toBe(422);
    expect((await res.json()).issues[0].path).toMatch(/^\[0\]\[0\]/);
    const nested = await api.call('PUT', '/v1/stores', api.keys.admin, '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000));
    expect(nested.status).toBe(422);
    expect((await nested.json()).issues.map((i: { path: string }) => i.path)).toContain('stores');
  });
});
