import { beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/lib/hash.ts';
import { useTestDeps } from '../support/db.ts';
import { appWithKeys, seedCatalogue } from '../support/factories.ts';

const getDeps = useTestDeps();
let api: Awaited<ReturnType<typeof appWithKeys>>;

beforeAll(async () => {
  await seedCatalogue(getDeps());
  api = await appWithKeys(getDeps());
});

describe('API keys', () => {
  it('creates a key shown once and stores only its hash', async () => {
    const res = await api.call('POST', '/v1/keys', api.keys.admin, { name: 'lane 4', role: 'pos', storeId: 2 });
    expect(res.status).toBe(201);
    const created = await res.json();
    expect(created.key).toMatch(/^cad_[a-z2-7]{32}$/);
    expect(created).toMatchObject({ role: 'pos', storeId: 2, prefix: created.key.slice(0, 10) });
    const row = await getDeps().db.selectFrom('api_keys').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
    expect(row.key_hash).toBe(await sha256Hex(created.key));
    expect(JSON.stringify(row)).not.toContain(created.key);
    const list = await (await api.call('GET', '/v1/keys', api.keys.admin)).json();
    expect(JSON.stringify(list)).not.toContain(created.key);
    expect(list.keys.find((k: { id: number }) => k.id === created.id)).toMatchObject({ name: 'lane 4' });
  });

  it('validates role and scope on creation', async () => {
    const cases: [object, number, string][] = [
      [{ name: 'x', role: 'pos' }, 422, 'storeId'],
      [{ name: 'x', role: 'vendor' }, 422, 'manufacturerId'],
      [{ name: 'x', role: 'marketer', storeId: 1 }, 422, 'storeId'],
      [{ name: 'x', role: 'root' }, 422, 'role'],
      [{ name: 'x', role: 'pos', storeId: 99 }, 404, 'storeId'],
      [{ name: 'x', role: 'vendor', manufacturerId: 'nobody' }, 404, 'manufacturerId'],
    ];
    for (const [body, status, path] of cases) {
      const res = await api.call('POST', '/v1/keys', api.keys.admin, body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect((await res.json()).issues.map((i: { path: string }) => i.path)).toContain(path);
    }
  });

  it('revoked keys stop working at once', async () => {
    const created = await (await api.call('POST', '/v1/keys', api.keys.admin, { name: 'temp', role: 'admin' })).json();
    expect((await api.call('GET', '/v1/keys', created.key)).status).toBe(200);
    expect((await api.call('DELETE', `/v1/keys/${created.id}`, api.keys.admin)).status).toBe(200);
    expect((await api.call('GET', '/v1/keys', created.key)).status).toBe(401);
    expect((await api.call('DELETE', `/v1/keys/${created.id}`, api.keys.admin)).status).toBe(404);
  });

  it('only admins manage keys', async () => {
    for (const key of [api.keys.marketer, api.keys.vendor, api.keys.pos1]) {
      expect((await api.call('GET', '/v1/keys', key)).status).toBe(403);
      expect((await api.call('POST', '/v1/keys', key, { name: 'x', role: 'admin' })).status).toBe(403);
    }
    expect((await api.call('GET', '/v1/keys', null)).status).toBe(401);
  });

  it('accepts the key in X-API-Key too, and rejects malformed Authorization', async () => {
    expect((await api.call('GET', '/v1/keys', null, undefined, { 'x-api-key': api.keys.admin })).status).toBe(200);
    expect((await api.call('GET', '/v1/keys', null, undefined, { authorization: 'Basic abc' })).status).toBe(401);
  });

  it('takes X-API-Key alone as the document says (apiKeyHeader): a right key passes, its role counts, a wrong one is 401', async () => {
    const alone = (path: string, key: string) => api.call('GET', path, null, undefined, { 'X-API-Key': key });
    expect((await alone('/v1/jobs/analyse/runs', api.keys.marketer)).status).toBe(200);
    expect((await alone('/v1/jobs/analyse/runs', api.keys.pos1)).status).toBe(403);
    const wrong = await alone('/v1/jobs/analyse/runs', `cad_${'a'.repeat(32)}`);
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect((await alone('/v1/jobs/analyse/runs', 'not a key')).status).toBe(401);
    expect((await alone('/v1/jobs/analyse/runs', '')).status).toBe(401);

    const doc = (await (await api.app.request('/openapi.json')).json()) as {
      components: { securitySchemes: Record<string, unknown> };
    };
    expect(doc.components.securitySchemes.apiKeyHeader).toEqual(
      expect.objectContaining({ type: 'apiKey', in: 'header', name: 'X-API-Key' }),
    );
  });
});

describe('every /v1 route checks role', () => {
  // [method, path, roles allowed besides admin]
  const routes: [string, string, string[]][] = [
    ['PUT', '/v1/stores', []],
    ['PUT', '/v1/categories', []],
    ['PUT', '/v1/manufacturers', []],
    ['PUT', '/v1/products', []],
    ['PUT', '/v1/members', []],
    ['POST', '/v1/baskets', ['pos']],
    ['GET', '/v1/keys', []],
    ['POST', '/v1/keys', []],
    ['GET', '/v1/members/{memberNumber}/profile', ['marketer']],
    ['GET', '/v1/categories/{id}/cells', ['marketer']],
    ['GET', '/v1/associations', ['marketer']],
    ['POST', '/v1/jobs/analyse', []],
    ['GET', '/v1/jobs/analyse/runs', ['marketer']],
    ['GET', '/v1/jobs/analyse/runs/{runId}', ['marketer']],
    ['POST', '/v1/checkout/identify', ['pos']],
    ['POST', '/v1/checkout/quote', ['pos']],
    ['POST', '/v1/checkout/commit', ['pos']],
    ['POST', '/v1/checkout/void', ['pos']],
    ['POST', '/v1/checkout/return', ['pos']],
    ['GET', '/v1/stores/{id}/offer-file', ['pos']],
    ['GET', '/v1/stores/{id}/reconciliation', ['pos']],
    ['POST', '/v1/stores/{id}/reconciliation/acknowledge', ['pos']],
    ['GET', '/v1/lists/{ref}', ['marketer']],
    ['GET', '/v1/members/{memberNumber}/lists/{which}', ['marketer']],
    ['POST', '/v1/jobs/lists', []],
    ['GET', '/v1/jobs/lists/runs', ['marketer']],
    ['GET', '/v1/jobs/lists/runs/{runId}', ['marketer']],
    ['GET', '/v1/rules', ['marketer']],
    ['GET', '/v1/rules/status', ['marketer']],
    ['POST', '/v1/rules/preview', ['marketer']],
  ];
  const concrete = (path: string) =>
    path
      .replace('{memberNumber}', 'M0001')
      .replace('{id}', path.startsWith('/v1/stores') ? '1' : 'coffee')
      .replace('{ref}', '1')
      .replace('{which}', 'current');

  it('the document states these roles for every /v1 operation, and no others', async () => {
    // The document's roles are what the routes enforce (allowRoles in src/http/auth.ts gives both),
    // the same for either way of sending the key (Authorization: Bearer, or X-API-Key);
    // the hostile-input sweep reads them from there. This list pins them, so a change of access
    // shows up here as a reviewed diff.
    const doc = (await (await api.app.request('/openapi.json')).json()) as {
      paths: Record<string, Record<string, { security?: Record<string, string[]>[] }>>;
    };
    const documented = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/v1/'))
      .flatMap(([path, ops]) =>
        Object.entries(ops).map(([m, op]) => `${m.toUpperCase()} ${path}: ${JSON.stringify(op.security)}`),
      );
    const expected = [...routes, ['DELETE', '/v1/keys/{id}', []] as const].map(
      ([m, p, allowed]) => {
        const roles = ['admin', ...allowed];
        return `${m} ${p}: ${JSON.stringify([{ apiKey: roles }, { apiKeyHeader: roles }])}`;
      },
    );
    expect(documented.sort()).toEqual(expected.sort());
  });

  for (const [method, template, allowed] of routes) {
    it(`${method} ${template}: 401 without a key, 403 for roles other than ${['admin', ...allowed].join(', ')}`, async () => {
      const body = method === 'GET' ? undefined : {};
      const path = concrete(template);
      expect((await api.call(method, path, null, body)).status).toBe(401);
      const others = { marketer: api.keys.marketer, vendor: api.keys.vendor, pos: api.keys.pos1 };
      for (const [role, key] of Object.entries(others)) {
        const status = (await api.call(method, path, key, body)).status;
        if (allowed.includes(role)) expect(status, role).not.toBe(403);
        else expect(status, role).toBe(403);
      }
    });
  }
});
