import type { Deps } from '../deps.ts';
import { NotFoundError, UnauthorizedError } from '../lib/errors.ts';
import { sha256Hex } from '../lib/hash.ts';
import type { Principal } from '../http/env.ts';
import * as repo from './repo.ts';
import type { CreateApiKey, CreatedApiKey } from './schemas.ts';

const keyPrefix = 'cad_';

/**
 * Creates an API key. The secret (160 random bits) is returned once; only its SHA-256 is stored —
 * a fast hash is enough for a high-entropy secret, and it keeps per-request checks cheap.
 */
export async function createApiKey(
  deps: Pick<Deps, 'db' | 'ids'>,
  input: CreateApiKey,
): Promise<CreatedApiKey> {
  if (input.storeId !== undefined && !(await repo.storeExists(deps.db, input.storeId))) {
    throw new NotFoundError(`store ${input.storeId} does not exist`, [
      { path: 'storeId', message: 'unknown store' },
    ]);
  }
  if (
    input.manufacturerId !== undefined &&
    !(await repo.manufacturerExists(deps.db, input.manufacturerId))
  ) {
    throw new NotFoundError(`manufacturer ${input.manufacturerId} does not exist`, [
      { path: 'manufacturerId', message: 'unknown manufacturer' },
    ]);
  }
  const key = keyPrefix + deps.ids.token(20);
  const row = await repo.insertApiKey(deps.db, {
    name: input.name,
    prefix: key.slice(0, 10),
    keyHash: await sha256Hex(key),
    role: input.role,
    storeId: input.storeId ?? null,
    manufacturerId: input.manufacturerId ?? null,
  });
  return { ...repo.toApiKeyInfo(row), key };
}

/** Resolves a presented key to its principal; unknown or revoked keys are a 401. */
export async function authenticateKey(deps: Pick<Deps, 'db'>, presented: string): Promise<Principal> {
  if (!presented.startsWith(keyPrefix)) throw new UnauthorizedError('invalid API key');
  const row = await repo.findActiveKeyByHash(deps.db, await sha256Hex(presented));
  if (!row) throw new UnauthorizedError('invalid or revoked API key');
  return {
    keyId: Number(row.id),
    role: row.role,
    storeId: row.store_id,
    manufacturerId: row.manufacturer_id,
  };
}

export async function revokeApiKey(deps: Pick<Deps, 'db' | 'clock'>, id: number) {
  const row = await repo.revokeApiKey(deps.db, id, deps.clock.now());
  if (!row) throw new NotFoundError(`no active API key with id ${id}`);
  return repo.toApiKeyInfo(row);
}

export async function listApiKeys(deps: Pick<Deps, 'db'>) {
  return (await repo.listApiKeys(deps.db)).map(repo.toApiKeyInfo);
}
