import { OpenAPIHono } from '@hono/zod-openapi';
import { swaggerUI } from '@hono/swagger-ui';
import { bodyLimit } from 'hono/body-limit';
import { authRoutes } from './auth/index.ts';
import { catalogueRoutes } from './catalogue/index.ts';
import { checkoutRoutes } from './checkout/routes.ts';
import { listRoutes } from './lists/routes.ts';
import { ping } from './db/index.ts';
import type { Deps } from './deps.ts';
import { authenticate, securityFor, securitySchemes } from './http/auth.ts';
import type { AppEnv } from './http/env.ts';
import { errorHandler, problemResponse } from './http/problem.ts';
import { requestId } from './http/request-id.ts';
import { newRouter } from './http/router.ts';
import { storableText } from './http/text.ts';
import { analyticsRoutes } from './analytics/routes.ts';
import { ingestRoutes } from './ingest/index.ts';
import { jobRoutes } from './jobs/routes.ts';
import { rulesRoutes } from './rules/index.ts';
import { PayloadTooLargeError } from './lib/errors.ts';
import { errorFields } from './lib/logger.ts';

export const apiVersion = '0.1.0';

/** The one place the app is put together; every runtime passes its own `deps`. */
export function createApp(deps: Deps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  app.use(requestId());
  app.onError(errorHandler(deps.logger));
  app.notFound((c) =>
    problemResponse(c, {
      type: 'https://cadence.dev/problems/not-found',
      title: 'Not found',
      status: 404,
      detail: `no route for ${c.req.method} ${c.req.path}`,
      issues: [],
    }),
  );

  app.get('/', (c) => c.redirect('/docs'));
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    try {
      await ping(deps.db);
      return c.json({ status: 'ready', database: 'ok' });
    } catch (err) {
      deps.logger.warn('readiness check failed', errorFields(err));
      return c.json({ status: 'unavailable', database: 'unreachable' }, 503);
    }
  });

  const v1 = newRouter();
  v1.use(
    bodyLimit({
      maxSize: deps.config.MAX_BODY_BYTES,
      onError: () => {
        throw new PayloadTooLargeError(`the body exceeds ${deps.config.MAX_BODY_BYTES} bytes`);
      },
    }),
  );
  v1.use(authenticate(deps));
  // POST /v1/baskets checks each basket of a batch itself (ingest/schemas.ts).
  v1.use(storableText(new Set(['POST /v1/baskets'])));
  v1.route('/', authRoutes(deps));
  v1.route('/', catalogueRoutes(deps));
  v1.route('/', ingestRoutes(deps));
  v1.route('/', analyticsRoutes(deps));
  v1.route('/', jobRoutes(deps));
  v1.route('/', checkoutRoutes(deps));
  v1.route('/', listRoutes(deps));
  v1.route('/', rulesRoutes(deps));
  app.route('/v1', v1);

  for (const [name, scheme] of Object.entries(securitySchemes)) {
    app.openAPIRegistry.registerComponent('securitySchemes', name, scheme);
  }
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Cadence API',
      version: apiVersion,
      description:
        'Personalized loyalty and promotions for grocery chains. Errors are application/problem+json.',
    },
    security: securityFor([]),
  });
  app.get('/docs', swaggerUI({ url: '/openapi.json' }));
  return app;
}
