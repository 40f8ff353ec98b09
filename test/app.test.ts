import { describe, expect, it } from 'vitest';
import { createApp } from '../src/app.ts';
import { useTestDeps } from './support/db.ts';

const getDeps = useTestDeps();

describe('the app', () => {
  it('answers health and readiness', async () => {
    const app = createApp(getDeps());
    expect(await (await app.request('/healthz')).json()).toEqual({ status: 'ok' });
    expect(await (await app.request('/readyz')).json()).toEqual({ status: 'ready', database: 'ok' });
  });

  it('reports not ready when the database is gone', async () => {
    const deps = getDeps();
    const broken = { ...deps, db: { ...deps.db, getExecutor: () => { throw new Error('down'); } } as never };
    const res = await createApp(broken).request('/readyz');
    expect(res.status).toBe(503);
  });

  it('serves the OpenAPI document built from the zod schemas, and the docs page', async () => {
    const app = createApp(getDeps());
    const doc = await (await app.request('/openapi.json')).json() as { paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/baskets', '/v1/products', '/v1/members', '/v1/keys']));
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['Basket', 'BasketLine', 'Problem', 'Product']));
    const docs = await app.request('/docs');
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('/openapi.json');
  });

  it('answers unknown routes with problem JSON', async () => {
    const res = await createApp(getDeps()).request('/nothing-here');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(await res.json()).toMatchObject({ status: 404, title: 'Not found' });
  });

  it('hides internal errors behind a 500 with the request id', async () => {
    const deps = getDeps();
    const logged: [string, Record<string, unknown> | undefined][] = [];
    const app = createApp({
      ...deps,
      logger: { ...deps.logger, error: (m: string, fields?: Record<string, unknown>) => void logged.push([m, fields]) },
    });
    app.get('/boom/:memberNumber', () => {
      throw new Error('secret detail');
    });
    const res = await app.request('/boom/M0004711');
    expect(res.status).toBe(500);
    const body = await res.json() as { detail: string; requestId: string };
    expect(body.detail).not.toContain('secret');
    expect(body.requestId).toBeTruthy();
    // The log has the error and the route, never the member the path named.
    expect(logged).toEqual([
      ['unhandled error', { requestId: body.requestId, error: 'secret detail', method: 'GET', route: '/boom/:memberNumber' }],
    ]);
  });
});
