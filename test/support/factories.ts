import { createApp } from '../../src/app.ts';
import { createApiKey } from '../../src/auth/index.ts';
import { upsertCategories, upsertManufacturers, upsertProducts, upsertStores } from '../../src/catalogue/index.ts';
import type { Deps } from '../../src/deps.ts';
import { gtinCheckDigit } from '../../src/lib/gtin.ts';
import type { Basket } from '../../src/ingest/index.ts';

/** A valid GTIN-13 from a number, e.g. gtin13(1) → '2000000000015'. */
export function gtin13(n: number, prefix = '200'): string {
  const body = `${prefix}${String(n).padStart(12 - prefix.length, '0')}`;
  return body + gtinCheckDigit(body);
}

/** The same GTIN in the 14-digit form Cadence stores. */
export const gtin14 = (gtin: string) => gtin.padStart(14, '0');

export async function seedCatalogue(deps: Deps) {
  await upsertStores(deps, [
    { id: 1, name: 'Main Street', timeZone: 'America/New_York' },
    { id: 2, name: 'Riverside', timeZone: 'America/New_York' },
  ]);
  await upsertManufacturers(deps, [
    { id: 'acme', name: 'Acme Foods' },
    { id: 'store', name: 'Cadence Market' },
  ]);
  await upsertCategories(deps, [
    { id: 'analgesics', name: 'Non-aspirin analgesics' },
    { id: 'milk', name: 'Milk' },
  ]);
  await upsertProducts(deps, [
    { gtin: gtin14(gtin13(1)), name: 'Acme Pain Relief 100ct', categoryId: 'analgesics', brand: 'Acme', brandType: 'national', manufacturerId: 'acme', size: '100ct', priceCents: 899 },
    { gtin: gtin14(gtin13(2)), name: 'Cadence Pain Relief 100ct', categoryId: 'analgesics', brand: 'Cadence Market', brandType: 'store', manufacturerId: 'store', size: '100ct', priceCents: 549 },
    { gtin: gtin14(gtin13(3)), name: 'Acme Milk 1gal', categoryId: 'milk', brand: 'Acme', brandType: 'national', manufacturerId: 'acme', size: '1gal', priceCents: 399 },
  ]);
}

export function basket(overrides: Partial<Basket> = {}): Basket {
  return {
    storeId: 1,
    terminalId: 'T01',
    txnId: `txn-${Math.random().toString(36).slice(2, 10)}`,
    ts: '2026-11-20T10:15:00-05:00',
    cardNumber: '400000000001',
    lines: [
      { gtin: gtin13(1), qty: 1, unitPriceCents: 899, lineDiscountCents: 0 },
      { gtin: gtin13(3), qty: 2, unitPriceCents: 399, lineDiscountCents: 50 },
    ],
    ...overrides,
  };
}

/** An app plus keys for every role, ready for `app.request`. */
export async function appWithKeys(deps: Deps) {
  const app = createApp(deps);
  const key = async (role: 'admin' | 'marketer' | 'vendor' | 'pos', extra: object = {}) =>
    (await createApiKey(deps, { name: `${role} test key`, role, ...extra })).key;
  const keys = {
    admin: await key('admin'),
    marketer: await key('marketer'),
    vendor: await key('vendor', { manufacturerId: 'acme' }),
    pos1: await key('pos', { storeId: 1 }),
    pos2: await key('pos', { storeId: 2 }),
  };
  const call = (
    method: string,
    path: string,
    keyOrNull: string | null,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<TestResponse> =>
    Promise.resolve(app.request(path, {
      method,
      headers: {
        ...(keyOrNull ? { authorization: `Bearer ${keyOrNull}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    }));
  return { app, keys, call };
}

/** A Response whose JSON body tests may read without casts. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TestResponse = Omit<Response, 'json'> & { json(): Promise<any> };
