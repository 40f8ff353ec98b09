import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './env.ts';

const HEADER = 'X-Request-Id';

/** What a client's X-Request-Id must be to be kept: a POS's own transaction-style token. */
const SANE = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The request's id: the client's X-Request-Id when it is a sane token (1–128 characters of
 * A-Z a-z 0-9 . _ : -), else a new UUID. It goes into logs and problem bodies, so anything else a
 * client sends (a line break forging a log line, terminal escapes, kilobytes) is never kept. The
 * response's X-Request-Id says which id was used.
 */
export function requestId(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const sent = c.req.header(HEADER);
    const id = sent !== undefined && SANE.test(sent) ? sent : crypto.randomUUID();
    c.set('requestId', id);
    c.header(HEADER, id);
    await next();
  };
}
