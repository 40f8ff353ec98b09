import type { MiddlewareHandler } from 'hono';
import { authenticateKey } from '../auth/api-keys.ts';
import type { Role } from '../db/index.ts';
import type { Deps } from '../deps.ts';
import { ForbiddenError, UnauthorizedError } from '../lib/errors.ts';
import type { AppEnv, Principal } from './env.ts';

/** Reads `Authorization: Bearer <key>` (or `X-API-Key`) and sets the principal; 401 without. */
export function authenticate(deps: Pick<Deps, 'db'>): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    const presented = header?.match(/^Bearer\s+(\S+)$/i)?.[1] ?? c.req.header('x-api-key');
    if (!presented) throw new UnauthorizedError('an API key is required (Authorization: Bearer …)');
    c.set('principal', await authenticateKey(deps, presented));
    await next();
  };
}

/** 403 unless the caller has one of `roles`. Admin may do everything. */
export function requireRole(...roles: Role[]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const { role } = c.get('principal');
    if (role !== 'admin' && !roles.includes(role)) {
      throw new ForbiddenError(`this route needs the role ${[...roles, 'admin'].join(' or ')}`);
    }
    await next();
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
