import type { MiddlewareHandler } from 'hono';
import { BadRequestError, ValidationError } from '../lib/errors.ts';
import { firstUnstorableText } from '../lib/text.ts';
import type { AppEnv } from './env.ts';
import { formatPath } from './problem.ts';

/**
 * Refuses text that PostgreSQL cannot store (lib/text.ts) before any route sees it: 400 for a URL
 * holding `%00`, 422 naming the field for a JSON body holding such a string. Without it, a NUL in
 * any text field reached the database and came back as a 500. Routes in `checkedByRoute` (method
 * and path) check their bodies themselves, where a batch must reject one item and keep the rest;
 * a body that is not JSON is left to the route's own 400.
 */
export function storableText(checkedByRoute: ReadonlySet<string> = new Set()): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (/%00/i.test(c.req.url)) {
      throw new BadRequestError('the URL holds a NUL character (%00), which cannot be stored', [
        { path: 'url', message: 'holds a NUL character (U+0000)' },
      ]);
    }
    const json = (c.req.header('content-type') ?? '').toLowerCase().includes('json');
    if (json && !checkedByRoute.has(`${c.req.method} ${c.req.path}`)) {
      let body: unknown;
      try {
        body = await c.req.json(); // parsed once: Hono keeps it for the route
      } catch {
        return next();
      }
      const bad = firstUnstorableText(body);
      if (bad) {
        throw new ValidationError('the request body holds text that cannot be stored', [
          { path: formatPath(bad.path), message: bad.reason },
        ]);
      }
    }
    await next();
  };
}
