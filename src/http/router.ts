import { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from './env.ts';
import { validationProblem } from './problem.ts';

/** A module's sub-app. Validation failures of any route become one problem+json shape. */
export function newRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      if (!result.success) {
        const where = result.target === 'json' ? 'request body' : `request ${result.target}`;
        return validationProblem(c, result.error, where);
      }
    },
  });
}
