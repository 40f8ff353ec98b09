import { createRoute, type z } from '@hono/zod-openapi';
import type { Deps } from '../deps.ts';
import { allowRoles } from '../http/auth.ts';
import { problemResponses } from '../http/openapi.ts';
import { newRouter } from '../http/router.ts';
import {
  CategoriesBody,
  ManufacturersBody,
  MembersBody,
  ProductsBody,
  StoresBody,
  UpsertResult,
} from './schemas.ts';
import {
  upsertCategories,
  upsertManufacturers,
  upsertMembers,
  upsertProducts,
  upsertStores,
} from './upsert.ts';

/** Batch upserts of the catalogue and the member file; admin only, all or nothing per batch. */
export function catalogueRoutes(deps: Deps) {
  const app = newRouter();

  const upsertRoute = <S extends z.ZodTypeAny>(path: string, body: S, summary: string) =>
    createRoute({
      method: 'put',
      path,
      operationId: `upsert${path[1]!.toUpperCase()}${path.slice(2)}`, // upsertStores, upsertMembers…
      tags: ['catalogue'],
      summary,
      description: 'Creates or updates every item of the batch, or — if any item is invalid — none.',
      ...allowRoles([]),
      request: { body: { required: true, content: { 'application/json': { schema: body } } } },
      responses: {
        200: { description: 'Upserted', content: { 'application/json': { schema: UpsertResult } } },
        ...problemResponses(413, 415, 422),
      },
    });

  app.openapi(upsertRoute('/stores', StoresBody, 'Upsert stores'), async (c) => {
    const { upserted } = await upsertStores(deps, c.req.valid('json').stores);
    return c.json({ upserted }, 200);
  });
  app.openapi(upsertRoute('/categories', CategoriesBody, 'Upsert categories'), async (c) => {
    const { upserted } = await upsertCategories(deps, c.req.valid('json').categories);
    return c.json({ upserted }, 200);
  });
  app.openapi(upsertRoute('/manufacturers', ManufacturersBody, 'Upsert manufacturers'), async (c) => {
    const { upserted } = await upsertManufacturers(deps, c.req.valid('json').manufacturers);
    return c.json({ upserted }, 200);
  });
  app.openapi(upsertRoute('/products', ProductsBody, 'Upsert products'), async (c) => {
    const { upserted } = await upsertProducts(deps, c.req.valid('json').products);
    return c.json({ upserted }, 200);
  });
  app.openapi(
    upsertRoute('/members', MembersBody, 'Upsert members (and their contact data)'),
    async (c) => {
      const { upserted } = await upsertMembers(deps, c.req.valid('json').members);
      return c.json({ upserted }, 200);
    },
  );
  return app;
}
