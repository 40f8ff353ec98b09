import { OpenAPIHono } from '@hono/zod-openapi';
import { beforeAll, describe, expect, it } from 'vitest';
import { computeAssociations } from '../../src/analytics/associations.ts';
import { computeCells } from '../../src/analytics/cells.ts';
import { computeMemberScores } from '../../src/analytics/members.ts';
import { analyticsRoutes } from '../../src/analytics/routes.ts';
import { computeTraits } from '../../src/analytics/traits.ts';
import { createApiKey } from '../../src/auth/index.ts';
import {
  upsertCategories,
  upsertManufacturers,
  upsertMembers,
  upsertProducts,
  upsertStores,
} from '../../src/catalogue/index.ts';
import { authenticate } from '../../src/http/auth.ts';
import type { AppEnv } from '../../src/http/env.ts';
import { errorHandler } from '../../src/http/problem.ts';
import { ingestBaskets, type BasketInput } from '../../src/ingest/index.ts';
import { defaultSettings, defaultTraits, type Settings } from '../../src/rules/settings.ts';
import { dbKind, useTestDeps } from '../support/db.ts';
import { gtin13, gtin14 } from '../support/factories.ts';

// The analytics API on its own sub-app, mounted as the app mounts it (under /v1, behind the API
// key middleware, with the app's error handler).

const getDeps = useTestDeps();
const NY = 'America/New_York';
const AS_OF = new Date('2026-11-01T04:00:00Z');
const settings: Settings = {
  ...defaultSettings,
  associations: { lookbackWeeks: 26, minSupport: 0.01, minPairBaskets: 2 },
};
const COFFEE = gtin14(gtin13(21));
const COFFEE_STORE = gtin14(gtin13(22));
const DOG = gtin14(gtin13(23));
const MILK = gtin14(gtin13(24));

let app: OpenAPIHono<AppEnv>;
const keys: Record<'admin' | 'marketer' | 'vendor' | 'pos', string> = {
  admin: '',
  marketer: '',
  vendor: '',
  pos: '',
};

async function get(path: string, key: string | null) {
  const res = await app.request(path, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  // any: the JSON under test is checked field by field
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    body: (await res.json()) as any,
  };
}

beforeAll(async () => {
  const deps = getDeps();
  await upsertStores(deps, [{ id: 1, name: 'Main Street', timeZone: NY }]);
  await upsertManufacturers(deps, [
    { id: 'acme', name: 'Acme' },
    { id: 'store', name: 'Cadence Market' },
  ]);
  await upsertCategories(deps, [
    { id: 'coffee', name: 'Coffee' },
    { id: 'dog_food', name: 'Dog food' },
    { id: 'milk', name: 'Milk' },
    { id: 'tea', name: 'Tea' },
  ]);
  await upsertProducts(deps, [
    {
      gtin: COFFEE,
      name: 'Acme Coffee',
      categoryId: 'coffee',
      brandType: 'national',
      manufacturerId: 'acme',
    },
    {
      gtin: COFFEE_STORE,
      name: 'Cadence Coffee',
      categoryId: 'coffee',
      brandType: 'store',
      manufacturerId: 'store',
    },
    {
      gtin: DOG,
      name: 'Acme Dog Food',
      categoryId: 'dog_food',
      brandType: 'national',
      manufacturerId: 'acme',
    },
    {
      gtin: MILK,
      name: 'Acme Milk',
      categoryId: 'milk',
      brandType: 'national',
      manufacturerId: 'acme',
    },
  ]);
  await upsertMembers(deps, [
    { memberNumber: 'M0000001', householdSize: 3 },
    { memberNumber: 'M0000002' },
    { memberNumber: 'M0000003' },
  ]);
  const baskets: BasketInput[] = [];
  let txn = 0;
  for (let week = 0; week < 26; week++) {
    const day = new Date(Date.UTC(2026, 4, 2 + 7 * week)).toISOString().slice(0, 10);
    const line = (gtin: string, qty: number) => ({
      gtin,
      qty,
      unitPriceCents: 500,
      lineDiscountCents: 0,
    });
    baskets.push({
      storeId: 1,
      terminalId: 'T1',
      txnId: `r${++txn}`,
      ts: `${day}T10:00:00-04:00`,
      member: { kind: 'number', ref: 'M0000001' },
      lines: [line(COFFEE, 1), line(MILK, 2), ...(week % 3 === 0 ? [line(DOG, 1)] : [])],
    });
    baskets.push({
      storeId: 1,
      terminalId: 'T1',
      txnId: `r${++txn}`,
      ts: `${day}T15:00:00-04:00`,
      member: { kind: 'number', ref: 'M0000003' },
      lines: [line(week % 2 ? COFFEE : COFFEE_STORE, 1), line(MILK, 1)],
    });
  }
  await ingestBaskets(deps, baskets, 'pos');
  const opts = { asOf: AS_OF, timeZone: NY, settings };
  await computeCells(deps.db, opts);
  await computeMemberScores(deps.db, opts);
  await computeTraits(deps.db, { asOf: AS_OF, timeZone: NY, traits: defaultTraits });
  await computeAssociations(deps.db, opts);
  // the next-basket ranking (issue 5, part A) writes this table; two rows stand in for it
  const member = await deps.db
    .selectFrom('members')
    .select('id')
    .where('member_number', '=', 'M0000001')
    .executeTakeFirstOrThrow();
  await deps.db
    .insertInto('member_product_scores')
    .values([
      {
        member_id: member.id,
        gtin: MILK,
        rank: 1,
        score: 0.9,
        predicted_date: '2026-11-02',
        prob: 0.8,
        window_days: 14,
        as_of: AS_OF,
      },
      {
        member_id: member.id,
        gtin: DOG,
        rank: 2,
        score: 0.4,
        predicted_date: '2026-11-09',
        prob: 0.35,
        window_days: 14,
        as_of: AS_OF,
      },
    ])
    .execute();

  app = new OpenAPIHono<AppEnv>();
  app.onError(errorHandler(deps.logger));
  app.use('/v1/*', authenticate(deps));
  app.route('/v1', analyticsRoutes(deps));
  keys.admin = (await createApiKey(deps, { name: 'admin', role: 'admin' })).key;
  keys.marketer = (await createApiKey(deps, { name: 'marketer', role: 'marketer' })).key;
  keys.vendor = (
    await createApiKey(deps, { name: 'vendor', role: 'vendor', manufacturerId: 'acme' })
  ).key;
  keys.pos = (await createApiKey(deps, { name: 'pos', role: 'pos', storeId: 1 })).key;
});

describe(`analytics API (${dbKind})`, () => {
  it("GET /v1/members/{memberNumber}/profile returns the member's analytics", async () => {
    const res = await get('/v1/members/M0000001/profile', keys.marketer);
    expect(res.status).toBe(200);
    const p = res.body;
    expect(p).toMatchObject({
      memberNumber: 'M0000001',
      asOf: AS_OF.toISOString(),
      qualified: false,
      // 7 Saturdays in the 8 weeks from 6 September, two of them with dog food
      weeklySpendCents: Math.round((7 * 1500 + 2 * 500) / 8),
      visitDays: 26,
      tier: expect.stringMatching(/^(key|regular)$/),
      stage: expect.stringMatching(/^(initial|stable|strategic)$/),
      churn: {
        risk: false,
        reason: null,
        lastVisitDate: '2026-10-24',
        daysSinceLastVisit: 8,
        meanVisitGapDays: 7,
      },
      traits: ['dog_owner'],
    });
    expect(p.shareOfWallet).toBeGreaterThan(0);
    expect(p.cells.map((c: { categoryId: string }) => c.categoryId).sort()).toEqual([
      'coffee',
      'dog_food',
      'milk',
    ]);
    expect(p.cells.find((c: { categoryId: string }) => c.categoryId === 'coffee')).toMatchObject({
      categoryName: 'Coffee',
      loyalty: 'national',
      volume: expect.stringMatching(/^(low|medium|high)$/),
      purchaseDays: 26,
      units: 26,
      spendCents: 26 * 500,
      storeShare: 0,
    });
    expect(p.dueProducts).toEqual([
      {
        gtin: MILK,
        name: 'Acme Milk',
        rank: 1,
        score: 0.9,
        predictedDate: '2026-11-02',
        probability: 0.8,
        windowDays: 14,
      },
      {
        gtin: DOG,
        name: 'Acme Dog Food',
        rank: 2,
        score: 0.4,
        predictedDate: '2026-11-09',
        probability: 0.35,
        windowDays: 14,
      },
    ]);
    // never the internal id
    expect(JSON.stringify(p)).not.toMatch(/"(id|memberId|member_id)"/);
  });

  it('answers a member without baskets with empty analytics', async () => {
    const res = await get('/v1/members/M0000002/profile', keys.admin);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      memberNumber: 'M0000002',
      tier: 'inactive',
      stage: 'development',
      shareOfWallet: 0,
      cells: [],
      traits: [],
      dueProducts: [],
      churn: { risk: false, lastVisitDate: null },
    });
  });

  it('finds an unregistered member by the card number that names them (the predictions export, their list)', async () => {
    const db = getDeps().db;
    await db.insertInto('members').values({ card_number: '400000000777', status: 'unregistered' }).execute();
    const res = await get('/v1/members/400000000777/profile', keys.marketer);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ memberNumber: '400000000777', cells: [], dueProducts: [] });
    // a registered member's number wins over another member's card
    await db.insertInto('members').values({ card_number: 'M0000002', status: 'unregistered' }).execute();
    const registered = await get('/v1/members/M0000002/profile', keys.marketer);
    expect(registered.body).toMatchObject({ memberNumber: 'M0000002', tier: 'inactive' });
    // a registered member is named by their number only, not by their card
    await db.updateTable('members').set({ card_number: '400000000888' }).where('member_number', '=', 'M0000001').execute();
    expect((await get('/v1/members/400000000888/profile', keys.marketer)).status).toBe(404);
  });

  it('answers 404 for an unknown member and 422 for a malformed member number', async () => {
    const missing = await get('/v1/members/M9999999/profile', keys.marketer);
    expect(missing.status).toBe(404);
    expect(missing.type).toContain('application/problem+json');
    expect(missing.body).toMatchObject({
      type: 'https://cadence.dev/problems/not-found',
      status: 404,
    });
    expect(missing.body.detail).toContain('M9999999');
    const malformed = await get('/v1/members/not%20a%20number!/profile', keys.marketer);
    expect(malformed.status).toBe(422);
    expect(malformed.body.issues[0].path).toBe('memberNumber');
  });

  it('GET /v1/categories/{id}/cells returns the 3 × 3 matrix', async () => {
    const res = await get('/v1/categories/coffee/cells', keys.marketer);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      categoryId: 'coffee',
      categoryName: 'Coffee',
      asOf: AS_OF.toISOString(),
    });
    expect(res.body.cells).toHaveLength(9);
    const members = res.body.cells.reduce((n: number, c: { members: number }) => n + c.members, 0);
    expect(members).toBe(2);
    expect(
      res.body.cells
        .filter((c: { loyalty: string; members: number }) => c.members > 0)
        .map((c: { loyalty: string }) => c.loyalty)
        .sort(),
    ).toEqual(['national', 'switcher']);
    expect(res.body.total).toEqual({ members: 2, spendCents: 52 * 500 });
    expect(res.body.unclassified).toEqual({ members: 0, spendCents: 0 });

    const empty = await get('/v1/categories/tea/cells', keys.marketer);
    expect(empty.status).toBe(200);
    expect(empty.body.total).toEqual({ members: 0, spendCents: 0 });
    expect((await get('/v1/categories/no_such/cells', keys.marketer)).status).toBe(404);
    expect((await get('/v1/categories/Not%20Valid/cells', keys.marketer)).status).toBe(422);
  });

  it('GET /v1/associations returns rules by lift, filtered by the query', async () => {
    const res = await get('/v1/associations?limit=2', keys.marketer);
    expect(res.status).toBe(200);
    expect(res.body.asOf).toBe(AS_OF.toISOString());
    expect(res.body.associations).toHaveLength(2);
    const filtered = await get('/v1/associations?categoryId=dog_food&minLift=1', keys.marketer);
    expect(filtered.status).toBe(200);
    expect(filtered.body.associations.length).toBeGreaterThan(0);
    for (const a of filtered.body.associations) {
      expect(a.antecedentId).toBe('dog_food');
      expect(a.lift).toBeGreaterThanOrEqual(1);
    }
    // dog food only ever comes with coffee and milk: confidence 1
    expect(filtered.body.associations[0]).toMatchObject({
      consequentName: expect.any(String),
      confidence: 1,
    });
    const bad = await get('/v1/associations?limit=0&minSupport=2', keys.marketer);
    expect(bad.status).toBe(422);
    expect(bad.body.issues.map((i: { path: string }) => i.path).sort()).toEqual([
      'limit',
      'minSupport',
    ]);
  });

  it('lets marketers and admins in, and nobody else', async () => {
    const paths = [
      '/v1/members/M0000001/profile',
      '/v1/categories/coffee/cells',
      '/v1/associations',
    ];
    for (const path of paths) {
      expect((await get(path, null)).status, path).toBe(401);
      expect((await get(path, 'cad_notarealkeyatallnotarealkey12')).status, path).toBe(401);
      for (const role of ['vendor', 'pos'] as const) {
        const res = await get(path, keys[role]);
        expect(res.status, `${role} ${path}`).toBe(403);
        expect(res.type).toContain('application/problem+json');
      }
      expect((await get(path, keys.admin)).status, path).toBe(200);
      expect((await get(path, keys.marketer)).status, path).toBe(200);
    }
  });

  it('documents the three routes in the OpenAPI document', () => {
    const doc = app.getOpenAPI31Document({ openapi: '3.1.0', info: { title: 't', version: '1' } });
    expect(Object.keys(doc.paths ?? {}).sort()).toEqual([
      '/v1/associations',
      '/v1/categories/{id}/cells',
      '/v1/members/{memberNumber}/profile',
    ]);
  });
});
