import { createRoute, z } from '@hono/zod-openapi';
import type { Deps } from '../deps.ts';
import { allowRoles } from '../http/auth.ts';
import { problemResponses } from '../http/openapi.ts';
import { newRouter } from '../http/router.ts';
import { createApiKey, listApiKeys, revokeApiKey } from './api-keys.ts';
import { ApiKeyInfo, CreateApiKey, CreatedApiKey } from './schemas.ts';

export function authRoutes(deps: Deps) {
  const app = newRouter();
  app.openapi(
    createRoute({
      method: 'post',
      path: '/keys',
      operationId: 'createApiKey',
      tags: ['auth'],
      summary: 'Create an API key (the secret is shown once)',
      ...allowRoles([]),
      request: { body: { required: true, content: { 'application/json': { schema: CreateApiKey } } } },
      responses: {
        201: { description: 'Created', content: { 'application/json': { schema: CreatedApiKey } } },
        ...problemResponses(404, 413, 415, 422),
      },
    }),
    async (c) => c.json(await createApiKey(deps, c.req.valid('json')), 201),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/keys',
      operationId: 'listApiKeys',
      tags: ['auth'],
      summary: 'List API keys (never their secrets)',
      ...allowRoles([]),
      responses: {
        200: {
          description: 'Keys',
          content: { 'application/json': { schema: z.object({ keys: z.array(ApiKeyInfo) }) } },
        },
        ...problemResponses(),
      },
    }),
    async (c) => c.json({ keys: await listApiKeys(deps) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/keys/{id}',
      operationId: 'revokeApiKey',
      tags: ['auth'],
      summary: 'Revoke an API key',
      ...allowRoles([]),
      request: { params: z.object({ id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER) }) },
      responses: {
        200: { description: 'Revoked', content: { 'application/json': { schema: ApiKeyInfo } } },
        ...problemResponses(404, 422),
      },
    }),
    async (c) => c.json(await revokeApiKey(deps, c.req.valid('param').id), 200),
  );
  return app;
}
