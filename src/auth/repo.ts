import type { ApiKey, Db, Role } from '../db/index.ts';
import type { ApiKeyInfo } from './schemas.ts';

export function toApiKeyInfo(row: ApiKey): ApiKeyInfo {
  return {
    id: Number(row.id),
    name: row.name,
    prefix: row.prefix,
    role: row.role,
    storeId: row.store_id,
    manufacturerId: row.manufacturer_id,
    createdAt: row.created_at.toISOString(),
    revokedAt: row.revoked_at ? row.revoked_at.toISOString() : null,
  };
}

export async function insertApiKey(
  db: Db,
  row: {
    name: string;
    prefix: string;
    keyHash: string;
    role: Role;
    storeId: number | null;
    manufacturerId: string | null;
  },
): Promise<ApiKey> {
  return db
    .insertInto('api_keys')
    .values({
      name: row.name,
      prefix: row.prefix,
      key_hash: row.keyHash,
      role: row.role,
      store_id: row.storeId,
      manufacturer_id: row.manufacturerId,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function findActiveKeyByHash(db: Db, keyHash: string): Promise<ApiKey | undefined> {
  return db
    .selectFrom('api_keys')
    .selectAll()
    .where('key_hash', '=', keyHash)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
}

export async function listApiKeys(db: Db): Promise<ApiKey[]> {
  return db.selectFrom('api_keys').selectAll().orderBy('id').execute();
}

export async function revokeApiKey(db: Db, id: number, at: Date): Promise<ApiKey | undefined> {
  return db
    .updateTable('api_keys')
    .set({ revoked_at: at })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}

export async function storeExists(db: Db, id: number): Promise<boolean> {
  return !!(await db.selectFrom('stores').select('id').where('id', '=', id).executeTakeFirst());
}

export async function manufacturerExists(db: Db, id: string): Promise<boolean> {
  return !!(await db.selectFrom('manufacturers').select('id').where('id', '=', id).executeTakeFirst());
}
