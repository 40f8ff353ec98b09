import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { openPostgres } from '../../src/db/node.ts';
import { databaseUrl, useTestDeps } from '../support/db.ts';

const getDeps = useTestDeps();

describe.skipIf(!databaseUrl)('postgres.js sessions', () => {
  it('read and print dates as ISO whatever DateStyle the server defaults to', async () => {
    const url = (getDeps().database as { url?: string }).url!;
    const name = new URL(url).pathname.slice(1);
    await sql`alter database ${sql.id(name)} set datestyle = 'SQL, DMY'`.execute(getDeps().db);
    const fresh = await openPostgres(url, 1); // connects after the change
    try {
      const { rows } = await sql<{ text: string; day: string }>`
        select '2026-11-24'::date::text as text, '2026-11-24'::date as day`.execute(fresh.db);
      expect(rows[0]).toEqual({ text: '2026-11-24', day: '2026-11-24' });
    } finally {
      await fresh.close();
      await sql`alter database ${sql.id(name)} reset datestyle`.execute(getDeps().db);
    }
  });
});
