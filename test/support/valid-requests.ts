import { sql } from 'kysely';
import { upsertMembers } from '../../src/catalogue/index.ts';
import type { Deps } from '../../src/deps.ts';
import { appWithKeys, basket, gtin13, seedCatalogue } from './factories.ts';

/**
 * A small chain on which every /v1 operation has a valid request, for the suites that drive every
 * route of the document (test/http/hostile-input.test.ts, test/http/openapi-contract.test.ts):
 * stores, a catalogue, a member with a card and a list, a recorded analyse run and list run, two
 * committed sales (one to void, one to return), an offline conflict to acknowledge and a spare
 * API key to revoke.
 */
export const CARD = '400000000001';
export const MEMBER = 'M0000001';
export const TS = '2026-11-24T10:15:00-05:00';
export const sale = (txnId: string) => ({
  storeId: 1,
  terminalId: 'T09',
  txnId,
  ts: TS,
  lines: [
    { gtin: gtin13(2), qty: 2, unitPriceCents: 549, lineDiscountCents: 0 },
    { gtin: gtin13(3), qty: 1, unitPriceCents: 399 },
  ],
});

/** The ids `seedChain` made, which the valid path parameters name. */
export interface ChainIds {
  spareKeyId: number;
  listId: number;
  runId: number;
  listsRunId: number;
}

/** Seeds the chain and returns an app with a key per role (appWithKeys) and the ids it made. */
export async function seedChain(deps: Deps) {
  await seedCatalogue(deps);
  await upsertMembers(deps, [{ memberNumber: MEMBER, cardNumber: CARD, homeStoreId: 1 }]);
  const api = await appWithKeys(deps);
  // A live list for the member, so the list routes answer 200 when their input is valid.
  const member = await deps.db.selectFrom('members').select('id').where('member_number', '=', MEMBER).executeTakeFirstOrThrow();
  const listId = (await sql<{ id: number }>`
    insert into lists (member_id, period_start, period_end, store_id, content, created_at)
    values (${member.id}, '2026-11-16', '2026-11-29', 1, '{"dueSoon":[]}', now()) returning id`.execute(deps.db)).rows[0]!.id;
  const spare = await api.call('POST', '/v1/keys', api.keys.admin, { name: 'spare', role: 'marketer' });
  const spareKeyId = (await spare.json()).id as number;
  // A recorded analyse run, so the run route answers 200 when its input is valid.
  const run = await api.call('POST', '/v1/jobs/analyse', api.keys.admin, { asOf: '2026-11-24T05:00:00Z' });
  if (run.status !== 200) throw new Error(`setup analyse run: ${run.status} ${await run.text()}`);
  const runId = (await run.json()).runId as number;
  // An offline conflict, so acknowledging one is a valid request.
  await sql`insert into redemption_conflicts (member_id, store_id, terminal_id, txn_id, offer_id, reason, discount_cents, ts, created_at)
    values (0, 1, 'T09', 'hostile-conflict', 1, 'already_used', 100, now(), now())`.execute(deps.db);
  // ...and a recorded list run (the period the valid request builds again, adding nothing).
  const lists = await api.call('POST', '/v1/jobs/lists', api.keys.admin, { periodStart: '2026-11-16' });
  if (lists.status !== 200) throw new Error(`setup list run: ${lists.status} ${await lists.text()}`);
  const listsRunId = (await lists.json()).runId as number;
  for (const txn of ['to-void', 'to-return']) {
    const res = await api.call('POST', '/v1/checkout/commit', api.keys.admin, { ...sale(txn), identity: { cardNumber: CARD } });
    if (res.status !== 201) throw new Error(`setup sale ${txn}: ${res.status} ${await res.text()}`);
  }
  return { api, ids: { spareKeyId, listId, runId, listsRunId } satisfies ChainIds };
}

/** A valid value for each path parameter, by operation (`METHOD /v1/path`). */
export const validPathParams = (ids: ChainIds): Record<string, Record<string, string>> => ({
  'DELETE /v1/keys/{id}': { id: String(ids.spareKeyId) },
  'GET /v1/members/{memberNumber}/profile': { memberNumber: MEMBER },
  'GET /v1/categories/{id}/cells': { id: 'milk' },
  'GET /v1/stores/{id}/offer-file': { id: '1' },
  'GET /v1/stores/{id}/reconciliation': { id: '1' },
  'POST /v1/stores/{id}/reconciliation/acknowledge': { id: '1' },
  'GET /v1/lists/{ref}': { ref: String(ids.listId) },
  'GET /v1/jobs/analyse/runs/{runId}': { runId: String(ids.runId) },
  'GET /v1/jobs/lists/runs/{runId}': { runId: String(ids.listsRunId) },
  'GET /v1/members/{memberNumber}/lists/{which}': { memberNumber: MEMBER, which: 'current' },
});

export const campaignYaml = {
  id: 'hostile-probe',
  name: 'Store-brand pain relief',
  description: 'A probe',
  active: { from: '2026-11-01', to: '2026-12-31' },
  promotes: { categories: ['analgesics'], brand_type: 'store' },
  audience: { cells: ['national/*'] },
  offer: { kind: 'percent_off', ladder: { low: 10, medium: 20, high: 30 }, min_qty: 1, max_units: 2 },
  timing: { valid_days: 14 },
  limits: { per_member_per_period: 1, per_member_total: 3 },
  budget: { max_offers: 1000, max_cost_cents: 100000 },
  funding: { manufacturer: 'store', share: 0.5 },
  holdout_percent: 10,
  priority: 50,
  stacking: { group: 'pain', mode: 'exclusive' },
};

/**
 * Valid bodies for the routes we know (from each route's own tests); a route not listed here gets
 * one built from its schema. The sweep checks each is accepted, so that a mutation of one field
 * tests that field and not an already broken body.
 */
export const validBodies: Record<string, () => unknown[]> = {
  'POST /v1/keys': () => [{ name: 'lane 3', role: 'pos', storeId: 1 }, { name: 'vendor', role: 'vendor', manufacturerId: 'acme' }],
  'PUT /v1/stores': () => [{ stores: [{ id: 1, name: 'Main Street', timeZone: 'America/New_York' }] }],
  'PUT /v1/categories': () => [{ categories: [{ id: 'oat-milk', name: 'Oat milk', parentId: 'milk' }] }],
  'PUT /v1/manufacturers': () => [{ manufacturers: [{ id: 'acme', name: 'Acme Foods' }] }],
  'PUT /v1/products': () => [
    {
      products: [
        { gtin: gtin13(3), name: 'Acme Milk 1gal', categoryId: 'milk', brand: 'Acme', brandType: 'national', manufacturerId: 'acme', size: '1gal', priceCents: 399 },
      ],
    },
  ],
  'PUT /v1/members': () => [
    {
      members: [
        {
          memberNumber: 'M0000002',
          cardNumber: '400000000002',
          homeStoreId: 1,
          householdSize: 2,
          hasDog: true,
          hasCat: false,
          hasBaby: null,
          enrolledOn: '2025-01-15',
          contact: { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com', phone: '+1 555 0100', postalCode: '10001' },
        },
      ],
    },
  ],
  'POST /v1/baskets': () => [basket({ txnId: 'hostile-single' }), { baskets: [basket({ txnId: 'hostile-batch' })] }],
  'POST /v1/jobs/analyse': () => [{ asOf: '2026-11-24T05:00:00Z' }],
  'POST /v1/jobs/lists': () => [{ periodStart: '2026-11-16', regenerate: false }],
  'POST /v1/checkout/identify': () => [{ storeId: 1, identity: { cardNumber: CARD } }, { storeId: 1, identity: { scan: CARD } }],
  'POST /v1/checkout/quote': () => [{ ...sale('hostile-quote'), identity: { memberNumber: MEMBER } }],
  'POST /v1/checkout/commit': () => [
    { ...sale('hostile-commit'), identity: { cardNumber: CARD }, offline: false },
    { ...sale('hostile-offline'), identity: { cardNumber: CARD }, offline: true, offerIds: [1, 2], offlineDiscounts: [{ offerId: 2, discountCents: 150 }] },
  ],
  'POST /v1/checkout/void': () => [{ storeId: 1, terminalId: 'T09', txnId: 'to-void', ts: TS }],
  'POST /v1/checkout/return': () => [
    { storeId: 1, terminalId: 'T09', txnId: 'hostile-return', ts: TS, original: { storeId: 1, terminalId: 'T09', txnId: 'to-return' }, lines: [{ gtin: gtin13(2), qty: 1 }] },
  ],
  'POST /v1/rules/preview': () => [campaignYaml],
  'POST /v1/stores/{id}/reconciliation/acknowledge': () => [{ conflicts: [{ terminalId: 'T09', txnId: 'hostile-conflict', offerId: 1 }] }],
};
