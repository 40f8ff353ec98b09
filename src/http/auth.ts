import type { MiddlewareHandler } from 'hono';
import { authenticateKey } from '../auth/api-keys.ts';
import type { Role } from '../db/index.ts';
import type { Deps } from '../deps.ts';
import { ForbiddenError, UnauthorizedError } from '../lib/errors.ts';
import type { AppEnv, Principal } from './env.ts';

/**
 * The two ways a request may present its key, as the OpenAPI document names them (registered in
 * app.ts): `Authorization: Bearer <key>`, or the key alone in `X-API-Key` for clients that cannot
 * set Authorization. Either will do, so each operation lists them as alternatives.
 */
export const securitySchemes = {
  apiKey: {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key (cad_…) created with `cadence keys create` or POST /v1/keys',
  },
  apiKeyHeader: {
    type: 'apiKey',
    in: 'header',
    name: 'X-API-Key',
    description: 'The same API key in a header of its own, instead of Authorization: Bearer',
  },
} as const;

/** Reads `Authorization: Bearer <key>` (or `X-API-Key`) and sets the principal; 401 without. */
export function authenticate(deps: Pick<Deps, 'db'>): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    const presented =
      header?.match(/^Bearer\s+(\S+)$/i)?.[1] ?? c.req.header(securitySchemes.apiKeyHeader.name);
    if (!presented) {
      throw new UnauthorizedError('an API key is required (Authorization: Bearer …, or X-API-Key)');
    }
    c.set('principal', await authenticateKey(deps, presented));
    await next();
  };
}

/** 403 unless the caller has one of `roles`. Admin may do everything. */
export function requireRole(...roles: Role[]): MiddlewareHandler<AppEnv> {
  const allowed = withAdmin(roles);
  return async (c, next) => {
    const { role } = c.get('principal');
    if (!allowed.includes(role)) {
      throw new ForbiddenError(`this route needs the role ${allowed.join(' or ')}`);
    }
    await next();
  };
}

const withAdmin = (roles: readonly Role[]): Role[] => ['admin', ...roles.filter((r) => r !== 'admin')];

/** A security requirement of `roles` in each scheme: alternatives, any one of them will do. */
export const securityFor = (roles: readonly string[]) =>
  Object.keys(securitySchemes).map((scheme) => ({ [scheme]: [...roles] }));

/**
 * The roles a route allows, admin always among them, for `createRoute({ ...allowRoles(['pos']) })`:
 * the middleware that enforces them (then `more`, in order) and the operation's security
 * requirement that documents them — OpenAPI 3.1 lets a requirement of a non-OAuth scheme list
 * the roles it needs (one requirement a scheme, as alternatives). One list for both, so the
 * document cannot say other than the check does; clients and the tests read the roles of each
 * operation from the document.
 */
export function allowRoles<M extends MiddlewareHandler[]>(roles: readonly Role[], ...more: M) {
  return {
    middleware: [requireRole(...roles), ...more] as [MiddlewareHandler<AppEnv>, ...M],
    security: securityFor(withAdmin(roles)),
  };
}

/** A pos key acts for its own store only. */
export function assertStoreScope(principal: Principal, storeId: number | null, path: string): void {
  if (principal.role === 'pos' && principal.storeId !== storeId) {
    throw new ForbiddenError(`this key acts for store ${principal.storeId} only`, [
      { path, message: `store ${storeId ?? '(none)'} is outside this key's scope` },
    ]);
  }
}
